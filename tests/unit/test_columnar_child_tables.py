"""ColumnarStep: child-table lists, plain lists behind dlt's incremental, pass-throughs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
import pyarrow as pa
import pytest
from dlt.extract.hints import HintsMeta

from sources.kit.columnar import (
    AfterIncrementalStep,
    ArrowPages,
    ColumnarStep,
    WholeItemStep,
    add_columnar_step,
    child_table_hints,
)
from sources.kit.connector.children import REPLACED_MARKER, ChildSpec
from tests.rejecter import RecordingRejecter

LINES = ChildSpec(
    name="invoice_line_items",
    field="lines",
    parent_key="invoice_id",
    columns={"period__start": {"data_type": "timestamp"}},
)


def make_step(rejects: RecordingRejecter, **options: Any) -> ColumnarStep:
    pages = ArrowPages("invoices", load_id=lambda: "1", schema_getter=lambda: None)
    return ColumnarStep(pages, rejects, **options)


def variant_meta(hints: Any) -> HintsMeta:
    marked = dlt.mark.with_hints([], hints, create_table_variant=True)
    return marked.meta  # type: ignore[no-any-return]


def child_rows() -> list[dict[str, Any]]:
    return [
        LINES.marker("in_1"),
        {"id": "il_1", "invoice_id": "in_1", "amount": 100, "period": {"start": 1700000000}},
        {"id": "il_2", "invoice_id": "in_1", "amount": 250, "period": {"start": 1700000100}},
    ]


def test_child_rows_become_an_arrow_table_of_their_own_table() -> None:
    rejects = RecordingRejecter()
    step = make_step(rejects, child_tables=True)
    out = list(step(child_rows(), variant_meta(LINES.hints())))
    assert len(out) == 1
    item = out[0]
    assert isinstance(item.meta, HintsMeta) and item.meta.create_table_variant
    hints = item.meta.hints
    columns: Any = hints["columns"]
    assert hints["table_name"] == "invoice_line_items"
    assert hints["merge_key"] == "invoice_id"
    assert columns[REPLACED_MARKER]["hard_delete"] is True
    assert columns["_dlt_id"]["row_key"] is True
    table: pa.Table = item.data
    assert table.column("id").to_pylist() == ["in_1#replaced", "il_1", "il_2"]
    assert table.column(REPLACED_MARKER).to_pylist() == [True, None, None]
    assert table.schema.field("period__start").type == pa.timestamp("us", tz="UTC")
    assert table.column("_dlt_load_id").to_pylist() == ["1", "1", "1"]
    assert rejects.reasons == []


def test_child_rows_with_nested_lists_go_to_dlt_with_the_childs_hints() -> None:
    rows = child_rows()
    rows[1]["tax_amounts"] = [{"amount": 5}]
    step = make_step(RecordingRejecter(), child_tables=True)
    out = list(step(rows, variant_meta(LINES.hints())))
    tables = [o for o in out if isinstance(o.data, pa.Table)]
    handed_back = [o for o in out if isinstance(o.data, list)]
    assert [t.data.num_rows for t in tables] == [2]
    assert [o.data for o in handed_back] == [[rows[1]]]
    assert handed_back[0].meta.hints["table_name"] == "invoice_line_items"
    assert handed_back[0].meta.create_table_variant


def test_a_child_value_that_does_not_fit_goes_to_dlt_as_before() -> None:
    rows = child_rows()
    rows[2]["period"] = {"start": "not a date"}
    rejects = RecordingRejecter()
    out = list(make_step(rejects, child_tables=True)(rows, variant_meta(LINES.hints())))
    assert out[0].data.column("id").to_pylist() == ["in_1#replaced", "il_1"]
    assert out[1].data == [rows[2]]  # dlt puts it in a variant column, as without Arrow
    assert out[1].meta.hints["table_name"] == "invoice_line_items"
    assert rejects.reasons == []  # child rows are not the parent's dead letters


@pytest.mark.parametrize(
    ("hints", "reason"),
    [
        pytest.param(LINES.hints("delta"), "upsert derives ids from keys", id="upsert"),
        pytest.param(
            dlt.mark.make_hints(table_name="_dead_letters", write_disposition="merge"),
            "bookkeeping table",
            id="dead-letters",
        ),
    ],
)
def test_lists_dlt_must_normalize_pass_through(hints: Any, reason: str) -> None:
    rows = child_rows()
    meta = variant_meta(hints)
    assert child_table_hints(meta) is None, reason
    assert list(make_step(RecordingRejecter(), child_tables=True)(rows, meta)) == [rows]


@pytest.mark.parametrize(
    ("lists", "converted"),
    [pytest.param(True, True, id="lists"), pytest.param(False, False, id="default")],
)
def test_plain_lists_are_converted_only_when_asked(lists: bool, converted: bool) -> None:
    rows = [{"id": "txn_1", "amount": 1, "fee_details": []}]
    out = list(make_step(RecordingRejecter(), lists=lists)(rows, None))
    assert len(out) == 1
    assert isinstance(getattr(out[0], "data", out[0]), pa.Table) is converted


def test_without_child_tables_a_variant_list_passes_through() -> None:
    rows = child_rows()
    assert list(make_step(RecordingRejecter())(rows, variant_meta(LINES.hints()))) == [rows]


def test_the_step_can_go_behind_dlts_incremental() -> None:
    def objects(
        created: dlt.sources.incremental[int] = dlt.sources.incremental("created", initial_value=0),
    ) -> Iterator[Any]:
        yield [{"id": "evt_1", "created": 1}]

    def steps(after: bool) -> list[type]:
        resource = dlt.resource(objects, name="events")
        add_columnar_step(
            resource, make_step(RecordingRejecter(), lists=True), after_incremental=after
        )
        return [type(s) for s in resource._pipe.steps[1:]]

    assert steps(True)[-1] is AfterIncrementalStep
    assert steps(False)[0] is WholeItemStep
    assert steps(False)[-1] is not WholeItemStep  # the incremental stays last by default
