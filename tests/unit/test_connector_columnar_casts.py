"""The connector builder's columnar converter: decimals, timestamps and times cast in Arrow."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from sources.kit.connector import CastingPages

HINTS: dict[str, Any] = {
    "Id": {"data_type": "text", "nullable": False},
    "AnnualRevenue": {"data_type": "decimal", "precision": 18, "scale": 2},
    "SystemModstamp": {"data_type": "timestamp"},
    "StartTime__c": {"data_type": "time"},
}


def converter() -> CastingPages:
    return CastingPages(
        "account",
        declared=HINTS,
        schema_getter=lambda: None,
        load_id=lambda: "1",
        ids=lambda n: [str(i) for i in range(n)],
    )


@pytest.mark.parametrize(
    ("column", "value", "expected", "arrow_type"),
    [
        pytest.param(
            "annual_revenue",
            Decimal("1234.5"),
            Decimal("1234.50"),
            pa.decimal128(18, 2),
            id="decimal",
        ),
        pytest.param("annual_revenue", 99.25, Decimal("99.25"), pa.decimal128(18, 2), id="float"),
        pytest.param(
            "system_modstamp",
            "2024-05-01T12:00:00.123+0000",
            dt.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=dt.timezone.utc),
            pa.timestamp("us", tz="UTC"),
            id="millis-kept",
        ),
        pytest.param(
            "system_modstamp",
            "2024-05-01 12:00:00",
            dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc),
            pa.timestamp("us", tz="UTC"),
            id="glide-naive-is-utc",
        ),
        pytest.param("start_time__c", "09:30:00.000Z", dt.time(9, 30), pa.time64("us"), id="time"),
    ],
)
def test_text_carried_columns_end_in_their_declared_arrow_type(
    column: str, value: Any, expected: Any, arrow_type: pa.DataType
) -> None:
    field = {
        "annual_revenue": "AnnualRevenue",
        "system_modstamp": "SystemModstamp",
        "start_time__c": "StartTime__c",
    }[column]
    page = converter().convert([{"Id": "001", field: value}])

    assert page.rows == 1 and not page.records and not page.rejected
    table = page.items[0] if isinstance(page.items[0], pa.Table) else page.items[0].data
    assert table.schema.field(column).type == arrow_type
    assert table.column(column).to_pylist() == [expected]


def test_a_value_arrow_cannot_cast_hands_the_page_back_to_dlt() -> None:
    records = [{"Id": "001", "AnnualRevenue": "1.234"}, {"Id": "002", "AnnualRevenue": "5"}]

    page = converter().convert(records)

    assert page.items == [] and page.rows == 0 and page.records == records
