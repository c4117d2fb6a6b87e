"""Unit tests of the re-list sweep: loaded rows Stripe no longer lists become delete rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import dlt
import pytest

from sources.stripe.relist import ListedIds, SqlLoadedTable, rebuild, unlisted_rows

T = 1_760_000_000


class FakeTable:
    """A destination table: live keys and the objects they were loaded from."""

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects_by_id = objects
        self.asked: list[list[str]] = []

    def live_keys(self) -> Iterator[tuple[str, Optional[int]]]:
        for obj_id, obj in self.objects_by_id.items():
            yield obj_id, obj.get("created")

    def objects(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        self.asked.append(list(ids))
        return [dict(self.objects_by_id[i]) for i in ids]


def test_only_unlisted_rows_in_the_listed_range_become_deletes() -> None:
    table = FakeTable(
        {
            "cus_listed": {"id": "cus_listed", "created": T},
            "cus_gone": {"id": "cus_gone", "created": T, "name": "Ada"},
            "cus_before_start": {"id": "cus_before_start", "created": T - 100},
            "cus_no_time": {"id": "cus_no_time"},
        }
    )
    listed = ListedIds()
    listed.add([{"id": "cus_listed"}])

    rows = unlisted_rows(listed, table, gte=T - 10, seen_at=T + 5)

    assert rows == [
        {"id": "cus_gone", "created": T, "name": "Ada", "deleted": True, "deleted_at": T + 5}
    ]
    assert table.asked == [["cus_gone"]]


def test_listed_items_without_an_id_are_counted() -> None:
    listed = ListedIds()
    listed.add([{"id": "a"}, {"name": "no id"}, "not an object", {"id": ""}])

    assert ("a" in listed.ids, len(listed.ids), listed.unidentified) == (True, 1, 3)


def test_a_loaded_row_is_rebuilt_as_the_object_it_came_from() -> None:
    row = {
        "id": "cus_1",
        "created": datetime.fromtimestamp(T, tz=timezone.utc),
        "address__city": "Oslo",
        "address__line2": None,
        "invoice_settings__rendering_options": '{"template": null, "amount_tax_display": "x"}',
        "metadata__crm_id": "42",
        "_dlt_id": "abc",
        "_dlt_load_id": "1",
        "balance": 0,
    }
    types = {
        "created": "timestamp",
        "invoice_settings__rendering_options": "json",
    }

    assert rebuild(row, types) == {
        "id": "cus_1",
        "created": T,
        "address": {"city": "Oslo"},
        "invoice_settings": {"rendering_options": {"template": None, "amount_tax_display": "x"}},
        "metadata": {"crm_id": "42"},
        "balance": 0,
    }


def test_a_name_that_cannot_nest_stays_flat() -> None:
    assert rebuild({"a": "text", "a__b": 1}, {}) == {"a": "text", "a__b": 1}


@pytest.fixture
def appended_customers(tmp_path: Path, dlt_home: Path) -> Iterator[dlt.Pipeline]:
    """Customers appended twice (a live version, then a deleted one, of ``cus_gone``)."""
    pipeline = dlt.pipeline(
        pipeline_name="relist_unit",
        destination=dlt.destinations.duckdb(str(tmp_path / "relist.duckdb")),
        dataset_name="stripe",
    )
    first = [
        {"id": "cus_live", "created": T, "deleted": False, "preferred_locales": ["en", "fr"]},
        {"id": "cus_gone", "created": T, "deleted": False, "name": "old"},
    ]
    pipeline.run(first, table_name="customers", write_disposition="append")
    pipeline.run(
        [{"id": "cus_gone", "created": T, "deleted": True, "name": "new"}],
        table_name="customers",
        write_disposition="append",
    )
    yield pipeline


def test_sql_table_reads_live_keys_and_rebuilds_nested_lists(
    appended_customers: dlt.Pipeline,
) -> None:
    pipeline = appended_customers
    with pipeline.sql_client() as client:
        table = SqlLoadedTable(client, pipeline.default_schema, "customers", "created")
        live = dict(table.live_keys())
        objects = table.objects(["cus_live", "cus_gone"])

    # An object with any deleted version is not live (append-only tables keep versions).
    assert live == {"cus_live": T}
    by_id = {o["id"]: o for o in objects}
    assert by_id["cus_live"]["preferred_locales"] == ["en", "fr"]
    assert by_id["cus_gone"]["name"] == "new"  # the newest load's version
