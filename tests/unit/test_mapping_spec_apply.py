"""Unit: loading mapping specs (with clear errors), applying them, rendering docs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
import pytest

from sources.kit.errors import ConfigurationError
from sources.kit.mapping import MappingError, apply_mapping, load_mapping, parse_mapping
from sources.kit.mapping.docs import render_mapping
from sources.stripe.canonical import MAPPINGS_DIR, stripe_mappings

FIXED = pendulum.datetime(2024, 5, 1, tz="UTC")

HEADER = """
[mapping]
name = "t_payments"
source_system = "test"
source_resource = "charges"
target_model = "canonical_payments"
"""

VALID_FIELDS = """
[[fields]]
target = "source_system"
transform = "constant"
args = { value = "test" }
required = true

[[fields]]
target = "source_id"
source = "id"
required = true

[[fields]]
target = "amount"
sources = ["amount", "currency"]
transform = "minor_units_to_decimal"
required = true

[[fields]]
target = "currency"
source = "currency"
transform = ["trim", "upper"]
required = true

[[fields]]
target = "status"
source = "status"
transform = "enum"
args = { values = { succeeded = "succeeded" }, default = "unknown" }
required = true

[[fields]]
target = "created_at"
source = "created"
transform = "epoch_to_timestamp"
required = true

[[fields]]
target = "customer_source_id"
source = "customer.id"

[[fields]]
target = "mapped_at"
transform = "now"
required = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t_payments.toml"
    path.write_text(text, encoding="utf-8")
    return path


def record(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": "ch_1",
        "amount": 1999,
        "currency": " usd ",
        "status": "succeeded",
        "created": 1714521600,
        "customer": {"id": "cus_1"},
    }
    base.update(overrides)
    return base


def test_a_valid_spec_maps_a_record(tmp_path: Path) -> None:
    spec = load_mapping(write(tmp_path, HEADER + VALID_FIELDS))

    row = apply_mapping(spec, record(), now=lambda: FIXED)

    assert row == {
        "source_system": "test",
        "source_id": "ch_1",
        "amount": Decimal("19.99"),
        "currency": "USD",
        "status": "succeeded",
        "created_at": pendulum.datetime(2024, 5, 1, tz="UTC"),
        "customer_source_id": "cus_1",
        "mapped_at": FIXED,
    }
    assert spec.source_paths() == ["id", "amount", "currency", "status", "created", "customer.id"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"status": "weird"}, {"status": "unknown"}),
        ({"customer": None}, {"customer_source_id": None}),
        ({"currency": "jpy", "amount": 500}, {"amount": Decimal("500"), "currency": "JPY"}),
    ],
    ids=["enum-default", "null-parent", "jpy"],
)
def test_mapping_values(
    tmp_path: Path, overrides: dict[str, Any], expected: dict[str, Any]
) -> None:
    spec = load_mapping(write(tmp_path, HEADER + VALID_FIELDS))
    row = apply_mapping(spec, record(**overrides), now=lambda: FIXED)
    assert {k: row[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda r: r.pop("status"),
            "required field 'status' (source 'status', transform enum) is missing",
        ),
        (
            lambda r: r.update(status=None),
            "required field 'status' (source 'status', transform enum) is null",
        ),
        (
            lambda r: r.update(currency=None),
            "field 'amount' (source 'amount', 'currency', transform 'minor_units_to_decimal')",
        ),
        (
            lambda r: r.update(created="yesterday"),
            "transform 'epoch_to_timestamp'): epoch_to_timestamp expects a number",
        ),
    ],
    ids=["required-missing", "required-null", "transform-fails", "wrong-type"],
)
def test_failures_name_field_and_transform(tmp_path: Path, mutate: Any, message: str) -> None:
    spec = load_mapping(write(tmp_path, HEADER + VALID_FIELDS))
    bad = record()
    mutate(bad)
    with pytest.raises(MappingError) as info:
        apply_mapping(spec, bad, now=lambda: FIXED)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not = [toml", "invalid TOML"),
        (VALID_FIELDS, "missing the [mapping] table"),
        (
            HEADER.replace("canonical_payments", "canonical_x") + VALID_FIELDS,
            "unknown target_model 'canonical_x'",
        ),
        (HEADER, "no [[fields]] declared"),
        (
            HEADER + VALID_FIELDS + '[[fields]]\ntarget = "nope"\nsource = "x"\n',
            "field 'nope': canonical_payments has no column 'nope'",
        ),
        (
            HEADER
            + VALID_FIELDS
            + '[[fields]]\ntarget = "description"\nsource = "x"\ntransform = "frobnicate"\n',
            "field 'description': unknown transform 'frobnicate'",
        ),
        (
            HEADER
            + VALID_FIELDS
            + '[[fields]]\ntarget = "description"\nsource = "x"\nrequried = true\n',
            "field 'description': unknown key(s) requried",
        ),
        (
            HEADER + VALID_FIELDS + '[[fields]]\ntarget = "description"\nsource = "a..b"\n',
            "field 'description': invalid dot-path 'a..b'",
        ),
        (
            HEADER + VALID_FIELDS + '[[fields]]\ntarget = "description"\nsources = ["a", "b"]\n',
            "sources need a transform",
        ),
        (
            HEADER + VALID_FIELDS + '[[fields]]\ntarget = "status"\nsource = "x"\n',
            "mapped twice: status",
        ),
        (
            HEADER
            + VALID_FIELDS.replace(
                'required = true\n\n[[fields]]\ntarget = "created_at"',
                '\n[[fields]]\ntarget = "created_at"',
            ),
            "field 'status' fills a NOT NULL column",
        ),
    ],
    ids=[
        "bad-toml",
        "no-header",
        "unknown-model",
        "no-fields",
        "unknown-column",
        "unknown-transform",
        "typo-key",
        "bad-path",
        "sources-without-transform",
        "duplicate-target",
        "not-null-optional",
    ],
)
def test_spec_errors_are_one_line_naming_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as info:
        load_mapping(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_unmapped_not_null_column_is_refused() -> None:
    data = {
        "mapping": {
            "name": "x",
            "source_system": "s",
            "source_resource": "r",
            "target_model": "canonical_customers",
        },
        "fields": [{"target": "source_id", "source": "id", "required": True}],
    }
    with pytest.raises(ConfigurationError, match="NOT NULL column 'source_system'"):
        parse_mapping(data, "mem.toml")


def test_markdown_rendering_lists_every_field(tmp_path: Path) -> None:
    spec = load_mapping(write(tmp_path, HEADER + VALID_FIELDS))

    page = render_mapping(spec)

    assert page.startswith("# t_payments\n")
    assert "`test.charges` → `canonical_payments`" in page
    assert (
        "| `amount` | decimal(38,3) | `amount`, `currency` | minor_units_to_decimal |  | yes |  |"
        in page
    )
    assert "| `currency` | text | `currency` | trim > lower |" not in page
    assert "| `currency` | text | `currency` | trim > upper |  | yes |  |" in page
    assert '`{"values":{"succeeded":"succeeded"},"default":"unknown"}`' in page
    table_rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert len(table_rows) == len(spec.fields)


def test_stripe_mapping_docs_are_in_sync() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "mappings"
    for spec in stripe_mappings():
        page = docs / f"{spec.name}.md"
        assert page.exists(), f"run python pipelines/mapping_docs.py ({page} missing)"
        assert page.read_text(encoding="utf-8") == render_mapping(spec), (
            f"{page} is stale: run python pipelines/mapping_docs.py"
        )


def test_stripe_mappings_load() -> None:
    specs = stripe_mappings(MAPPINGS_DIR)
    assert {s.target_model.name for s in specs} == {
        "canonical_customers",
        "canonical_payments",
        "canonical_subscriptions",
        "canonical_subscription_items",
    }
    by_name = {s.name: s for s in specs}
    assert by_name["stripe_payment_intents"].superseded_by == "latest_charge"
    assert by_name["stripe_subscription_items"].source_resource == "subscription_items"
