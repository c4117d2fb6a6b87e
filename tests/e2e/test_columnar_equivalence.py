"""The columnar (Arrow) path loads exactly what dlt's own normalizer loads.

The same Stripe objects go into two DuckDB files: once as dicts through dlt's relational
normalizer, once through :class:`ArrowPages`. Tables, column types, values, nested
tables, the child tables split off invoices (``invoice_line_items``, through their own
converter), the appended immutable objects (``balance_transactions`` with their
``fee_details``, ``events`` with their ``data`` json) and the merge of a second, changed
batch must be identical.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sandbox.stripe import StripeSandbox
from sources.kit.columnar import ArrowPages, ColumnarStep, RecordPage, add_columnar_step
from sources.stripe import make_client, stripe_source
from sources.stripe.helpers import column_hints, shape_live_object
from sources.stripe.settings import RESOURCES_BY_NAME
from sources.stripe.sublists import split_sub_lists
from tests.rejecter import RecordingRejecter

pytestmark = pytest.mark.e2e

RESOURCES = ("charges", "customers", "invoices", "balance_transactions", "events")
APPENDED = ("balance_transactions", "events")
DLT_IDS = ("_dlt_id", "_dlt_load_id", "_dlt_parent_id", "_dlt_root_id")


def sandbox_records(volume: int = 12) -> dict[str, list[dict[str, Any]]]:
    with StripeSandbox(seed=5, volume=volume, rate_limit=0) as sandbox:
        return {
            name: [shape_live_object(copy.deepcopy(o)) for o in sandbox.store.listable(name)]
            for name in RESOURCES
        }


def with_lists(records: dict[str, list[dict[str, Any]]]) -> None:
    """Gives some objects non-empty top-level lists (nested tables) and odd values."""
    for index, transaction in enumerate(records["balance_transactions"]):
        if index % 3 == 0:
            transaction["fee_details"] = []  # no nested rows: the Arrow path proper
    for index, customer in enumerate(records["customers"]):
        customer["preferred_locales"] = ["en", "fr"][: index % 3]
        customer["metadata"] = {"Plan Tier": "gold"} if index % 2 else {}
    for index, invoice in enumerate(records["invoices"]):
        invoice["customer_tax_ids"] = (
            [{"type": "eu_vat", "value": f"DE{index:09d}", "extra": {"k": 1}}] if index % 2 else []
        )


def with_children(name: str, items: list[dict[str, Any]]) -> Iterator[Any]:
    """The child-table items split off ``items`` (whole lists: no paging), then ``items``."""
    yield from split_sub_lists(name, items, None)
    yield items


def disposition(name: str) -> Any:
    return "append" if name in APPENDED else "merge"


def dict_source(records: dict[str, list[dict[str, Any]]]) -> Any:
    @dlt.source(name="stripe", max_table_nesting=1)
    def source() -> Any:
        return [
            dlt.resource(
                with_children(name, records[name]),
                name=name,
                write_disposition=disposition(name),
                primary_key="id",
                columns=column_hints(RESOURCES_BY_NAME[name]),
            )
            for name in RESOURCES
        ]

    return source()


def columnar_source(records: dict[str, list[dict[str, Any]]], rejects: RecordingRejecter) -> Any:
    def pages(name: str) -> Iterator[Any]:
        items = records[name]
        yield from split_sub_lists(name, items, None)
        for start in range(0, len(items), 7):
            # appended resources yield plain lists (dlt's incremental reads them first)
            page = items[start : start + 7]
            yield page if name in APPENDED else RecordPage(page)

    @dlt.source(name="stripe", max_table_nesting=1)
    def source() -> Any:
        resources = []
        for name in RESOURCES:
            hints = column_hints(RESOURCES_BY_NAME[name])
            resource = dlt.resource(
                pages(name),
                name=name,
                write_disposition=disposition(name),
                primary_key="id",
                columns=hints,
            )
            appended = name in APPENDED
            step = ColumnarStep(
                ArrowPages(name, declared=hints),
                rejects,
                lists=appended,
                child_tables=not appended,
            )
            resources.append(add_columnar_step(resource, step, after_incremental=appended))
        return resources

    return source()


def run(pipeline_name: str, path: Path, source: Any) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=dlt.destinations.duckdb(str(path)),
        dataset_name="stripe",
    )
    pipeline.run(source, loader_file_format="parquet")
    return pipeline


def table_shapes(pipeline: dlt.Pipeline) -> dict[str, dict[str, Any]]:
    """Per table: parent and the data type of each non-dlt column."""
    return {
        str(table["name"]): {
            "parent": table.get("parent"),
            "columns": {
                name: column.get("data_type")
                for name, column in table["columns"].items()
                if not name.startswith("_dlt") and column.get("data_type")
            },
        }
        for table in pipeline.default_schema.data_tables()
    }


def table_rows(path: Path, table: str, parent: str | None) -> list[tuple[Any, ...]]:
    """Rows without dlt's ids; nested rows with their parent object's id and list index."""
    with duckdb.connect(str(path), read_only=True) as con:
        present = {row[0] for row in con.execute(f"DESCRIBE stripe.{table}").fetchall()}
        exclude = ", ".join(c for c in DLT_IDS if c in present)
        if parent is None:
            query = f"SELECT * EXCLUDE ({exclude}) FROM stripe.{table} ORDER BY id"
        else:
            # appended tables have no root key: nested rows hang on their parent row
            query = (
                f"SELECT r.id AS root_object, c._dlt_list_idx, c.* EXCLUDE ({exclude}) "
                f"FROM stripe.{table} c JOIN stripe.{parent} r ON c._dlt_parent_id = r._dlt_id "
                "ORDER BY 1, 2"
            )
        cursor = con.execute(query)
        names = [d[0] for d in cursor.description]
        order = sorted(range(len(names)), key=lambda i: names[i])
        return [tuple(row[i] for i in order) for row in cursor.fetchall()]


def assert_same_load(dict_pipe: dlt.Pipeline, arrow_pipe: dlt.Pipeline, tmp_path: Path) -> None:
    dict_shapes, arrow_shapes = table_shapes(dict_pipe), table_shapes(arrow_pipe)
    assert arrow_shapes == dict_shapes
    assert any(shape["parent"] for shape in dict_shapes.values()), "no nested table exercised"
    for table, shape in dict_shapes.items():
        expected = table_rows(tmp_path / "dict.duckdb", table, shape["parent"])
        actual = table_rows(tmp_path / "arrow.duckdb", table, shape["parent"])
        assert actual == expected, table
        assert expected, f"{table} is empty"


def test_columnar_load_and_merge_match_dlts_normalizer(dlt_home: Path, tmp_path: Path) -> None:
    records = sandbox_records()
    with_lists(records)
    rejects = RecordingRejecter()
    dict_pipe = run("eq_dict", tmp_path / "dict.duckdb", dict_source(copy.deepcopy(records)))
    arrow_pipe = run(
        "eq_arrow", tmp_path / "arrow.duckdb", columnar_source(copy.deepcopy(records), rejects)
    )
    assert_same_load(dict_pipe, arrow_pipe, tmp_path)

    changed = {name: copy.deepcopy(items[:6]) for name, items in records.items()}
    changed["customers"][1]["preferred_locales"] = []  # emptied list: nested rows go
    changed["customers"][2]["preferred_locales"] = ["de"]  # changed list
    changed["customers"][3]["email"] = "changed@example.com"
    changed["invoices"][1]["customer_tax_ids"] = []
    lines = changed["invoices"][2]["lines"]
    assert lines["data"], "the invoice whose line is removed has none"
    lines["data"] = lines["data"][1:]  # a removed line leaves its child table
    changed["charges"][0]["deleted"] = True
    run("eq_dict", tmp_path / "dict.duckdb", dict_source(copy.deepcopy(changed)))
    run("eq_arrow", tmp_path / "arrow.duckdb", columnar_source(copy.deepcopy(changed), rejects))
    assert_same_load(dict_pipe, arrow_pipe, tmp_path)
    assert rejects.reasons == []


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        pytest.param("amount", "12.50 EUR", "column 'amount'", id="text-in-bigint"),
        pytest.param("created", "not a date", "column 'created'", id="bad-timestamp"),
        pytest.param("paid", "maybe", "column 'paid'", id="text-in-bool"),
    ],
)
def test_values_that_do_not_fit_are_rejected_with_a_reason(
    field: str, value: Any, reason: str
) -> None:
    records = sandbox_records(volume=4)["charges"]
    pages = ArrowPages(
        "charges",
        declared=column_hints(RESOURCES_BY_NAME["charges"]),
        load_id=lambda: "1",
        schema_getter=lambda: None,
    )
    pages.convert(records[:2])  # learns the column types, as earlier pages of a run do
    bad = copy.deepcopy(records[2])
    bad[field] = value
    page = pages.convert([bad, records[3]])
    assert [r for r, _ in page.rejected] == [bad]
    assert page.rejected[0][1].startswith(reason)
    assert page.rows == 1
    table = page.items[0]
    assert table.column("id").to_pylist() == [records[3]["id"]]


def test_each_id_passes_once_per_run_so_the_package_is_deduplicated() -> None:
    records = sandbox_records(volume=4)["customers"]
    repeated: list[int] = []
    step = ColumnarStep(
        ArrowPages("customers", load_id=lambda: "1", schema_getter=lambda: None),
        RecordingRejecter(),
        unique_key="id",
        on_duplicates=repeated.append,
    )
    first = list(step(RecordPage(records[:3])))
    second = list(step(RecordPage([copy.deepcopy(records[1]), records[3]])))

    def ids(items: list[Any]) -> list[str]:
        found: list[str] = []
        for item in items:
            table = getattr(item, "data", item)
            if isinstance(table, list):
                found += [r["id"] for r in table]
            else:
                found += table.column("id").to_pylist()
        return found

    assert sorted(ids(first)) == sorted(r["id"] for r in records[:3])
    assert ids(second) == [records[3]["id"]]
    assert repeated == [1]


def test_appended_resources_keep_their_cursor_and_tables_on_the_fast_path(
    dlt_home: Path, tmp_path: Path
) -> None:
    """balance_transactions and events through the real source, with and without Arrow:
    same int ``created`` cursors saved, same tables; a second run appends nothing new."""
    names = ["balance_transactions", "events"]
    with StripeSandbox(seed=3, volume=10, rate_limit=0) as sandbox:
        results = {}
        for columnar in (False, True):
            tag = f"cursor_{int(columnar)}"
            client = make_client(api_key=sandbox.api_key, base_url=sandbox.base_url)
            pipeline = run(
                tag,
                tmp_path / f"{tag}.duckdb",
                stripe_source(resources=names, client=client, columnar=columnar),
            )
            again = make_client(api_key=sandbox.api_key, base_url=sandbox.base_url)
            pipeline.run(stripe_source(resources=names, client=again, columnar=columnar))
            state = pipeline.state["sources"]["stripe"]["resources"]
            cursors = {n: state[n]["incremental"]["created"]["last_value"] for n in names}
            tables = table_shapes(pipeline)
            rows = {
                t: len(table_rows(tmp_path / f"{tag}.duckdb", t, shape["parent"]))
                for t, shape in tables.items()
            }
            results[columnar] = (cursors, tables, rows)
    assert results[True] == results[False]
    cursors, tables, rows = results[True]
    assert all(type(value) is int for value in cursors.values())
    assert tables["balance_transactions__fee_details"]["parent"] == "balance_transactions"
    assert tables["events"]["columns"]["data"] == "json"
    assert all(rows.values()), rows
