"""Decimal columns, Bulk CSV parsing and wide-query splitting on bare values (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

import pytest

from sources.kit.errors import ConfigurationError, FatalError
from sources.salesforce.auth import check_audience
from sources.salesforce.bulk import csv_cells, declared_delimiter, parse_csv
from sources.salesforce.helpers import (
    build_soql,
    column_hints,
    csv_shaper,
    object_spec,
    typed_csv_row,
)
from sources.salesforce.types import decimal_violation, digits_of, misfit
from sources.salesforce.wide import (
    MAX_QUERY_URL_BYTES,
    field_groups,
    id_chunks,
    split_pages,
)

DESCRIBE: dict[str, Any] = {
    "name": "Opportunity",
    "fields": [
        {"name": "Id", "type": "id", "nillable": False},
        {"name": "SystemModstamp", "type": "datetime", "nillable": False},
        {"name": "Amount", "type": "currency", "precision": 18, "scale": 2},
        {"name": "Unit_Price__c", "type": "currency", "precision": 16, "scale": 4},
        {"name": "Legacy__c", "type": "currency"},
        {"name": "Probability", "type": "percent", "precision": 3, "scale": 0},
    ],
}


def test_decimal_columns_take_precision_and_scale_from_describe() -> None:
    hints = column_hints(object_spec(DESCRIBE))

    assert (hints["Amount"]["precision"], hints["Amount"]["scale"]) == (18, 2)
    assert (hints["Unit_Price__c"]["precision"], hints["Unit_Price__c"]["scale"]) == (16, 4)
    assert (hints["Legacy__c"]["precision"], hints["Legacy__c"]["scale"]) == (18, 2)  # fallback
    assert hints["Probability"]["data_type"] == "double"


@pytest.mark.parametrize(
    ("entry", "digits"),
    [
        ({"precision": 16, "scale": 4}, (16, 4)),
        ({"precision": 0, "scale": 0}, (18, 2)),
        ({"precision": 60, "scale": 50}, (38, 38)),
        ({"precision": 10, "scale": None}, (10, 0)),
    ],
    ids=["described", "no-precision", "wider-than-loads", "no-scale"],
)
def test_digits_are_bounded_to_what_destinations_load(
    entry: dict[str, Any], digits: tuple[int, int]
) -> None:
    assert digits_of(entry) == digits


@pytest.mark.parametrize(
    ("value", "digits", "fits"),
    [
        (1234.5678, (16, 4), True),
        (1234.5678, (18, 2), False),
        (1e17, (18, 2), False),
        (1e15, (18, 2), True),
        ("-9999999999999999.99", (18, 2), True),
        ("12.5", (18, 2), True),
        (None, (18, 2), True),
        (float("nan"), (18, 2), False),
    ],
    ids=[
        "scale-4-in-scale-4",
        "scale-4-in-scale-2",
        "1e17-in-18-2",
        "1e15-in-18-2",
        "negative-edge",
        "text-number",
        "null",
        "nan",
    ],
)
def test_a_value_fits_its_decimal_column_or_says_why(
    value: Any, digits: tuple[int, int], fits: bool
) -> None:
    assert (misfit(value, digits) is None) is fits


def test_the_violation_names_the_field_and_column_but_not_the_value() -> None:
    reason = decimal_violation({"Amount": 1e17}, {"Amount": (18, 2)})

    assert reason is not None and "'Amount'" in reason and "decimal(18,2)" in reason
    assert "1e" not in reason.lower() and "100000" not in reason


@pytest.mark.parametrize("ordered", [True, False], ids=["rest", "bulk"])
def test_bulk_queries_have_no_order_by(ordered: bool) -> None:
    soql = build_soql(object_spec(DESCRIBE), None, ordered=ordered)

    assert ("ORDER BY" in soql) is ordered


@pytest.mark.parametrize(
    ("delimiter", "ending"),
    [(",", "\n"), (",", "\r\n"), ("^", "\r\n"), ("\t", "\n"), ("|", "\n"), ("`", "\r\n")],
    ids=["comma-lf", "comma-crlf", "caret-crlf", "tab-lf", "pipe-lf", "backquote-crlf"],
)
def test_csv_chunks_parse_by_the_declared_delimiter_and_line_ending(
    delimiter: str, ending: str
) -> None:
    text = ending.join(
        [
            delimiter.join(['"Id"', '"Title"']),
            delimiter.join(['"003A"', f'"a{delimiter}b{ending}c"']),
            delimiter.join(['"003B"', '""']),
            "",
        ]
    )

    rows = parse_csv(text.encode("utf-8"), delimiter)

    assert rows == [
        {"Id": "003A", "Title": f"a{delimiter}b{ending}c"},
        {"Id": "003B", "Title": ""},
    ]


def test_an_undocumented_delimiter_is_one_clear_error() -> None:
    assert declared_delimiter({"columnDelimiter": "SEMICOLON"}, "COMMA") == ";"
    with pytest.raises(FatalError, match="unknown columnDelimiter 'STAR'"):
        declared_delimiter({"columnDelimiter": "STAR"}, "COMMA")


def test_field_groups_keep_key_and_cursor_first_and_id_in_every_group() -> None:
    fields = ["Id", "Name", "SystemModstamp", *(f"Custom_Field_{n:03d}__c" for n in range(500))]

    groups = field_groups(fields, budget=3000)

    assert groups[0][:2] == ["Id", "SystemModstamp"] and len(groups) > 2
    assert all(g[0] == "Id" for g in groups)
    assert all(len(quote_plus(", ".join(g))) <= 3000 for g in groups)
    assert sorted({f for g in groups for f in g}) == sorted(fields)


def test_id_chunks_stay_under_the_budget_and_keep_every_id() -> None:
    ids = [f"001{n:015d}" for n in range(400)]

    chunks = list(id_chunks(ids, budget=2000))

    assert [i for c in chunks for i in c] == ids and len(chunks) > 1
    assert all(len(quote_plus(", ".join(f"'{i}'" for i in c))) <= 2000 for c in chunks)


def test_a_wide_query_is_split_into_short_queries_and_joined_by_id() -> None:
    names = [f"Custom_Field_{n:03d}__c" for n in range(600)]
    soql = f"SELECT Id, SystemModstamp, {', '.join(names)} FROM Wide__c ORDER BY SystemModstamp"
    records = {f"a0W{n:015d}": {"Id": f"a0W{n:015d}", "SystemModstamp": "t"} for n in range(3)}
    sent: list[str] = []

    def run(part: str) -> Iterator[list[dict[str, Any]]]:
        sent.append(part)
        selected = [f.strip() for f in part.split(" FROM ")[0][len("SELECT ") :].split(",")]
        yield [{f: r.get(f, f"{r['Id']}:{f}") for f in selected} for r in records.values()]

    pages = list(split_pages(soql, base=60, run=run))

    assert all(60 + len(quote_plus(q)) <= MAX_QUERY_URL_BYTES for q in sent) and len(sent) > 2
    assert "ORDER BY SystemModstamp" in sent[0]
    assert [len(r) for r in pages[0]] == [602] * 3
    assert pages[0][0]["Custom_Field_599__c"] == "a0W000000000000000:Custom_Field_599__c"


@pytest.mark.parametrize(
    ("audience", "refused"),
    [
        ("https://login.salesforce.com", False),
        ("https://test.salesforce.com", False),
        ("https://acme.my.salesforce.com", True),
    ],
    ids=["production", "sandbox-org", "instance-url"],
)
def test_an_instance_url_as_jwt_audience_is_refused(audience: str, refused: bool) -> None:
    if refused:
        with pytest.raises(ConfigurationError, match="login.salesforce.com"):
            check_audience(audience)
    else:
        check_audience(audience)


def test_bulk_csv_decimals_stay_exact_past_float_precision() -> None:
    spec = object_spec(DESCRIBE)

    row = typed_csv_row({"Amount": "1234567890123456.78", "Probability": "50"}, spec)

    assert row == {"Amount": Decimal("1234567890123456.78"), "Probability": 50.0}
    assert isinstance(row["Amount"], Decimal) and misfit(row["Amount"], (18, 2)) is None


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(['"1234.56"', '"50"', '"x"'], id="typed-values"),
        pytest.param(['""', '""', '""'], id="all-null"),
        pytest.param(['"12 EUR"', '"lots"', '""'], id="bad-numbers-kept-for-guard"),
        pytest.param(['"1.5"'], id="ragged-row"),
    ],
)
def test_the_one_pass_csv_shaper_types_a_chunk_as_the_per_row_path(lines: list[str]) -> None:
    spec = object_spec(DESCRIBE)
    content = "\n".join(['"Amount","Probability","Name"', ",".join(lines), ""]).encode()

    header, cells = csv_cells(content, ",")
    shaped = csv_shaper(spec)(header, cells)

    expected = [typed_csv_row(row, spec) for row in parse_csv(content, ",")]
    assert shaped == expected and len(shaped) == 1
