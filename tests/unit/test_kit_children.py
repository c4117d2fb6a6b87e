"""Child tables split off their parents: rows, parent key, replacement marker, hints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import pytest

from sources.kit.connector import REPLACED_MARKER, ChildSpec, child_items

LINES = ChildSpec(name="invoice_line_items", field="lines", parent_key="invoice_id")


def embedded(parent: Mapping[str, Any], child: ChildSpec) -> Optional[list[dict[str, Any]]]:
    return list(parent[child.field]["data"])


def unknown(parent: Mapping[str, Any], child: ChildSpec) -> Optional[list[dict[str, Any]]]:
    return None


def split(parents: list[Any], complete: Any = embedded) -> list[Any]:
    return list(child_items(parents, (LINES,), complete))


def test_children_carry_their_parent_after_a_marker_that_clears_the_stored_ones() -> None:
    parents = [{"id": "in_1", "lines": {"data": [{"id": "il_1"}, {"id": "il_2"}]}}]

    (item,) = split(parents)

    assert item.meta.hints["table_name"] == "invoice_line_items"
    marker, *rows = item.data
    assert marker == {"id": "in_1#replaced", "invoice_id": "in_1", REPLACED_MARKER: True}
    assert rows == [{"id": "il_1", "invoice_id": "in_1"}, {"id": "il_2", "invoice_id": "in_1"}]
    assert "lines" not in parents[0]  # the child table holds the list, not the parent


def test_an_emptied_list_still_sends_the_marker_so_old_children_go() -> None:
    (item,) = split([{"id": "in_1", "lines": {"data": []}}])

    assert [row["id"] for row in item.data] == ["in_1#replaced"]


@pytest.mark.parametrize(
    ("parent", "complete"),
    [
        pytest.param({"id": "in_1", "deleted": True}, embedded, id="stub-without-the-list"),
        pytest.param({"id": "in_1", "lines": {"data": [{"id": "x"}]}}, unknown, id="unknown"),
    ],
)
def test_a_parent_whose_children_are_unknown_keeps_the_stored_ones(
    parent: dict[str, Any], complete: Any
) -> None:
    assert split([parent, "not a record"], complete) == []
    assert "lines" not in parent


def test_hints_merge_delete_insert_on_the_parent_key_and_hard_delete_the_marker() -> None:
    hints = LINES.hints()

    assert hints["write_disposition"] == {"disposition": "merge", "strategy": "delete-insert"}
    assert hints["merge_key"] == "invoice_id"
    assert hints["columns"][REPLACED_MARKER]["hard_delete"] is True
    assert hints["columns"]["invoice_id"]["nullable"] is False
