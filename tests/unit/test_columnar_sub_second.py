"""Timestamps with sub-second digits keep them on the Arrow path."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pytest

from sources.kit.columnar import ArrowPages

FINE = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
WHOLE = datetime(2024, 1, 1, 12, 0, 1, tzinfo=timezone.utc)


def table_of(records: list[dict[str, Any]]) -> pa.Table:
    pages = ArrowPages(
        "things",
        declared={"at": {"data_type": "timestamp"}},
        load_id=lambda: "1",
        schema_getter=lambda: None,
    )
    page = pages.convert(records)
    assert page.rows == len(records) and not page.records and not page.rejected
    return page.items[0] if isinstance(page.items[0], pa.Table) else page.items[0].data


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([FINE, 1704110401, None, WHOLE], id="datetimes-and-epoch-ints"),
        pytest.param(["2024-01-01T12:00:00.123456Z", 1704110401, None, WHOLE], id="iso-text"),
    ],
)
def test_sub_second_values_survive_beside_epoch_seconds(values: list[Any]) -> None:
    table = table_of([{"id": str(i), "at": v} for i, v in enumerate(values)])
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table.column("at").to_pylist() == [FINE, WHOLE, None, WHOLE]


def test_a_page_of_whole_seconds_keeps_the_fast_input_type() -> None:
    table = table_of([{"id": "a", "at": 1704110401}, {"id": "b", "at": WHOLE}])
    assert table.column("at").to_pylist() == [WHOLE, WHOLE]
