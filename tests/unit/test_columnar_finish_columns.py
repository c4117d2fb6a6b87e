"""``finish_columns``: the final Arrow types and nullability of a page's table."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sources.kit.columnar import finish_columns


def page_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array(["ch_1", "ch_2"]),
            "amount": pa.array([100, None], type=pa.int64()),
            "created": pa.array([1704110400, 1704110401], type=pa.timestamp("s", tz="UTC")),
            "_dlt_load_id": pa.array(["1", "1"]),
            "_dlt_id": pa.array(["a", "b"]),
        }
    )


def test_timestamps_become_microseconds_and_keep_their_values() -> None:
    table = finish_columns(page_table(), ["id"])
    assert table.schema.field("created").type == pa.timestamp("us", tz="UTC")
    assert table.column("created").cast(pa.int64()).to_pylist() == [
        1704110400_000000,
        1704110401_000000,
    ]


@pytest.mark.parametrize(
    ("name", "nullable"),
    [
        pytest.param("id", False, id="declared-not-null"),
        pytest.param("amount", True, id="plain-column"),
        pytest.param("_dlt_id", False, id="dlt-row-key"),
        pytest.param("_dlt_load_id", False, id="dlt-load-id"),
    ],
)
def test_nullability_follows_the_declared_hints(name: str, nullable: bool) -> None:
    assert finish_columns(page_table(), ["id"]).schema.field(name).nullable is nullable


def test_a_required_column_holding_nulls_stays_nullable() -> None:
    # dlt's normalizer would not declare it either; the guard rejects such rows earlier
    assert finish_columns(page_table(), ["amount"]).schema.field("amount").nullable is True
