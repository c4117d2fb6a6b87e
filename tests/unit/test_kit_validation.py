"""RecordValidator: the reasons a record cannot be loaded as declared."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

import dlt
import pytest
from dlt.common.schema.typing import TColumnSchema
from dlt.common.schema.utils import new_table

from sources.kit.validation import (
    RecordValidator,
    coercion_violation,
    current_source_schema,
    describe_type,
    parse_json_record,
)

LIVE_COLUMNS: list[TColumnSchema] = [
    {"name": "id", "data_type": "text", "nullable": False, "primary_key": True},
    {"name": "amount", "data_type": "bigint"},
    {"name": "paid", "data_type": "bool"},
    {"name": "metadata", "data_type": "json"},
    {"name": "billing__zip_code", "data_type": "bigint"},
    {"name": "currency", "data_type": "text", "nullable": False},
    {"name": "amount__v_text", "data_type": "text", "variant": True},
    {"name": "_dlt_id", "data_type": "text", "nullable": False},
]
DECLARED: dict[str, TColumnSchema] = {"created": {"data_type": "timestamp"}}
GOOD = {
    "id": "ch_1",
    "amount": 100,
    "paid": True,
    "created": 1_700_000_000,
    "currency": "usd",
    "metadata": {"order": {"nested": "kept whole"}},
    "billing": {"zip_code": "12345", "city": "Berlin"},
    "refunds": [{"amount": "not checked: child table"}],
}


def live_schema(columns: list[TColumnSchema] = LIVE_COLUMNS) -> dlt.Schema:
    schema = dlt.Schema("toy")
    schema.update_table(new_table("charges", columns=columns))
    return schema


def validator(
    schema: Optional[dlt.Schema] = None,
    *,
    primary_key: tuple[str, ...] = ("id",),
    required: tuple[str, ...] = ("created",),
    strict_types: Optional[dict[str, Any]] = None,
) -> RecordValidator:
    live = schema if schema is not None else live_schema()
    return RecordValidator(
        primary_key=primary_key,
        columns=DECLARED,
        schema_getter=lambda: live,
        table_name="charges",
        required=required,
        strict_types=strict_types,
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "primary key 'id' is null"),
        ({"created": None}, "required field 'created' is null"),
        ({"amount": "12.3x"}, "column 'amount': text value is not coercible to bigint"),
        ({"amount": 1.5}, "column 'amount': double value is not coercible to bigint"),
        ({"paid": "maybe"}, "column 'paid': text value is not coercible to bool"),
        ({"created": "yesterday"}, "column 'created': text value is not coercible to timestamp"),
        ({"metadata": "{oops"}, "column 'metadata': text value is not coercible to json"),
        (
            {"billing": {"zip_code": "abc"}},
            "column 'billing__zip_code': text value is not coercible to bigint",
        ),
        ({"Amount": "x"}, "column 'amount': text value is not coercible to bigint"),
        ({"amount": object()}, "column 'amount': unsupported value type object"),
        ({"currency": None}, "column 'currency' is not nullable but is missing or null"),
    ],
    ids=[
        "null-pk",
        "null-required",
        "text-for-bigint",
        "fraction-for-bigint",
        "text-for-bool",
        "text-for-declared-timestamp",
        "bad-json-text",
        "nested-flattened",
        "key-normalized",
        "unsupported-type",
        "not-null-column",
    ],
)
def test_reasons_for_values(change: dict[str, Any], reason: str) -> None:
    record = {**GOOD, **change}
    if "Amount" in change:
        del record["amount"]

    assert validator().check(record) == reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({k: v for k, v in GOOD.items() if k != "id"}, "primary key 'id' is missing"),
        ({k: v for k, v in GOOD.items() if k != "created"}, "required field 'created' is missing"),
        ({**GOOD, "id": {"nested": 1}}, "primary key 'id' is missing"),
        ([GOOD], "expected a JSON object, got array"),
        ('{"id": "ch_1", ', "unparseable JSON: "),
        (b"\xff\xfe", "unparseable JSON: "),
        ('"just a string"', "expected a JSON object, got str"),
        (None, "expected a JSON object, got null"),
    ],
    ids=[
        "missing-pk",
        "missing-required",
        "pk-is-an-object",
        "not-an-object",
        "unparseable-json",
        "undecodable-bytes",
        "json-but-not-object",
        "none",
    ],
)
def test_reasons_for_shapes(record: Any, reason: str) -> None:
    assert (validator().check(record) or "").startswith(reason)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"amount": "12"},
        {"amount": 12.0},
        {"amount": Decimal("7")},
        {"paid": "yes"},
        {"created": "2024-01-01T00:00:00Z"},
        {"metadata": '{"a": 1}'},
        {"amount": None},
        {"brand_new": "anything"},
        {"amount__v_text": "variant columns are not checked"},
        {"_dlt_id": None},
    ],
    ids=[
        "good",
        "numeric-text",
        "integral-double",
        "decimal",
        "bool-text",
        "iso-timestamp",
        "json-text",
        "null-in-nullable",
        "new-column",
        "variant-column",
        "dlt-column",
    ],
)
def test_loadable_records_pass(change: dict[str, Any]) -> None:
    assert validator().check({**GOOD, **change}) is None


@pytest.mark.parametrize(
    ("value", "allowed", "reason"),
    [
        ("1700000000", int, "field 'created' must be int, got str"),
        (True, int, "field 'created' must be int, got bool"),
        (1.5, (int, str), "field 'created' must be int or str, got float"),
        (1_700_000_000, int, None),
        ("2024-01-01", (int, str), None),
    ],
    ids=["str-for-int", "bool-is-not-int", "float-for-int-or-str", "int", "str-allowed"],
)
def test_strict_types(value: Any, allowed: Any, reason: Optional[str]) -> None:
    strict = validator(strict_types={"created": allowed})

    assert strict.check({**GOOD, "created": value}) == reason


def test_compound_primary_key_reports_the_missing_part() -> None:
    compound = validator(primary_key=("id", "currency"), required=())

    assert compound.check({"id": "ch_1"}) == "primary key 'currency' is missing"


def test_declared_types_apply_without_a_schema() -> None:
    bare = RecordValidator(["id"], DECLARED, None, "charges")

    assert bare.check({"id": 1, "created": "yesterday", "amount": "12.3x"}) == (
        "column 'created': text value is not coercible to timestamp"
    )


@pytest.mark.parametrize(
    "getter",
    [lambda: None, lambda: (_ for _ in ()).throw(RuntimeError("no context"))],
    ids=["returns-none", "raises"],
)
def test_a_missing_schema_only_means_fewer_known_types(getter: Any) -> None:
    blind = RecordValidator(["id"], None, getter, "charges")

    assert blind.check({"id": 1, "amount": "12.3x"}) is None
    assert blind.check({"amount": 1}) == "primary key 'id' is missing"


def test_types_added_to_the_live_schema_are_seen() -> None:
    schema = dlt.Schema("toy")
    growing = RecordValidator(["id"], None, lambda: schema, "charges")
    before = growing.check({"id": 1, "amount": "x"})

    schema.update_table(new_table("charges", columns=[{"name": "amount", "data_type": "bigint"}]))

    assert before is None
    assert growing.check({"id": 1, "amount": "x"}) == (
        "column 'amount': text value is not coercible to bigint"
    )


def test_max_nesting_keeps_deeper_dicts_whole() -> None:
    schema = live_schema([{"name": "deep__inner", "data_type": "bigint"}])
    schema.tables["charges"]["x-normalizer"] = {"max_nesting": 0}  # type: ignore[typeddict-unknown-key]
    shallow = RecordValidator(["id"], None, lambda: schema, "charges")

    assert shallow.check({"id": 1, "deep": {"inner": "x"}}) is None


def test_current_source_schema_is_none_outside_extraction() -> None:
    assert current_source_schema() is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1}', ({"a": 1}, None)),
        (b'{"a": 1}', ({"a": 1}, None)),
        ({"a": 1}, ({"a": 1}, None)),
        ("{", ("{", "unparseable JSON: ")),
    ],
    ids=["text", "bytes", "decoded", "broken"],
)
def test_parse_json_record(raw: Any, expected: tuple[Any, Optional[str]]) -> None:
    value, reason = parse_json_record(raw)

    assert value == expected[0]
    assert (reason or "").startswith(expected[1] or "")
    assert (reason is None) is (expected[1] is None)


@pytest.mark.parametrize(
    ("value", "kind"),
    [({}, "object"), ([], "array"), ((), "array"), (None, "null"), (1.5, "float")],
    ids=["dict", "list", "tuple", "none", "float"],
)
def test_describe_type(value: Any, kind: str) -> None:
    assert describe_type(value) == kind


def test_reasons_never_contain_the_value() -> None:
    reason = coercion_violation("amount", "sk_live_secretvalue", "bigint")

    assert reason == "column 'amount': text value is not coercible to bigint"
