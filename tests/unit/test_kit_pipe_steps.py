"""The columnar step gets list items whole (dlt's yield map would split them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
import pytest
from dlt.extract import extractors

from sources.kit.columnar import WholeItemStep


def test_a_list_item_reaches_the_step_once_with_its_meta() -> None:
    calls: list[tuple[Any, Any]] = []

    def step(item: Any, meta: Any = None) -> Iterator[Any]:
        calls.append((item, meta))
        yield item

    rows = [{"id": 1}, {"id": 2}, {"id": 3}]
    out = list(WholeItemStep(step)(rows, "meta"))
    assert calls == [(rows, "meta")]
    assert out == [rows]


def test_child_rows_with_hints_are_written_as_one_item(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[tuple[str, int]] = []
    write_items = extractors.Extractor.write_items

    def counting(self: Any, resource: Any, items: Any, meta: Any) -> None:
        rows = items if isinstance(items, list) else [items]
        if any(isinstance(row, dict) and "parent_id" in row for row in rows):
            writes.append((type(items).__name__, len(rows)))
        write_items(self, resource, items, meta)

    monkeypatch.setattr(extractors.Extractor, "write_items", counting)

    @dlt.resource(name="parents")
    def parents() -> Iterator[Any]:
        children = [{"id": f"c{i}", "parent_id": "p"} for i in range(50)]
        yield dlt.mark.with_hints(children, dlt.mark.make_hints(table_name="children"))

    resource = parents().add_step(WholeItemStep(lambda item, meta=None: iter([item])))
    pipeline = dlt.pipeline("pipe_steps_test", destination="duckdb", dev_mode=True)
    pipeline.extract(resource)
    assert writes == [("list", 50)]  # dlt's yield map would have written 50 single rows
