"""Child tables: a sub-list embedded in a parent record, loaded as its own table.

APIs embed lists in their records (an invoice's lines, a subscription's items) and often
truncate them, with a way to page the rest. Loading such a list as a JSON column hides
the entries past the cut; loading it through dlt's nesting names the table after the
JSON path and keys it on dlt's own ids. A :class:`ChildSpec` declares the table instead:
its name, its primary key and the column naming the parent.

Every parent that carries the list replaces all its children: the child table is merged
``delete-insert`` with the parent column as merge key, and each parent adds one marker
row flagged for hard delete. The merge deletes every stored child of the parents in the
load (the marker matches even when the list is now empty) and inserts the new ones (the
marker itself is never inserted), so a child removed from its parent disappears and no
orphan survives. A parent row without the list field (a deleted stub) leaves its
children as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.hints import TResourceHints

__all__ = [
    "REPLACED_MARKER",
    "ChildSpec",
    "CompleteList",
    "child_items",
]

REPLACED_MARKER = "_sluice_replaced"
"""Column of the marker row each parent adds (``hard_delete``: it is never stored)."""

CompleteList = Callable[[Mapping[str, Any], "ChildSpec"], Optional[list[dict[str, Any]]]]
"""Hook: every entry of a parent's embedded list, fetching what the parent left out;
``None`` when they cannot be known now (the stored children are then kept as they are)."""


@dataclass(frozen=True)
class ChildSpec:
    """A sub-list of a parent resource, loaded as its own table.

    Attributes:
        name: Table name (``invoice_line_items``).
        field: The parent's field holding the list (``lines``).
        parent_key: Column naming the parent in each child row (``invoice_id``).
        primary_key: Columns that identify a child.
        columns: dlt column hints declared up front (timestamps and the like).
    """

    name: str
    field: str
    parent_key: str
    primary_key: tuple[str, ...] = ("id",)
    columns: Mapping[str, TColumnSchema] = dataclasses.field(default_factory=dict)

    def hints(self, table_format: Optional[str] = None) -> TResourceHints:
        """The child table's dlt hints (a fresh dict per call: dlt writes into hints).

        Args:
            table_format: ``delta`` for Delta tables on the filesystem destination, which
                merge by ``upsert`` only: children are then updated and added by their
                own key, but a child removed from its parent stays (no merge key).
        """
        columns: dict[str, TColumnSchema] = {
            **{name: dict(hint) for name, hint in self.columns.items()},  # type: ignore[misc]
            self.parent_key: {"data_type": "text", "nullable": False},
            REPLACED_MARKER: {"data_type": "bool", "nullable": True, "hard_delete": True},
        }
        if table_format:
            return dlt.mark.make_hints(
                table_name=self.name,
                write_disposition={"disposition": "merge", "strategy": "upsert"},
                primary_key=list(self.primary_key),
                columns=columns,
                table_format=table_format,  # type: ignore[arg-type]
            )
        return dlt.mark.make_hints(
            table_name=self.name,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            primary_key=list(self.primary_key),
            merge_key=self.parent_key,
            columns=columns,
        )

    def marker(self, parent_id: str) -> dict[str, Any]:
        """The row that clears the parent's stored children (and is never stored)."""
        row: dict[str, Any] = {key: f"{parent_id}#replaced" for key in self.primary_key}
        row[self.parent_key] = parent_id
        row[REPLACED_MARKER] = True
        return row


def child_rows(
    parent: Mapping[str, Any], child: ChildSpec, complete: CompleteList
) -> list[dict[str, Any]] | None:
    """The parent's children as rows (marker first); ``None`` when it has no such list or
    its entries cannot be known now."""
    if not isinstance(parent.get(child.field), Mapping | list):
        return None
    entries = complete(parent, child)
    if entries is None:
        return None
    parent_id = str(parent["id"])
    return [child.marker(parent_id), *({**e, child.parent_key: parent_id} for e in entries)]


def child_items(
    parents: Iterable[Any],
    children: Sequence[ChildSpec],
    complete: CompleteList,
    *,
    keep_embedded: bool = False,
    table_format: Optional[str] = None,
) -> Iterator[Any]:
    """Splits the children off ``parents`` and yields them as items of their own tables.

    Args:
        parents: Parent records (non-dict items, such as dead letters, are skipped).
        children: The parent resource's child tables.
        complete: Hook returning every entry of a parent's list (paging the rest).
        keep_embedded: Leave the list on the parent record; by default it is removed,
            the child table holds it.
        table_format: The child tables' table format (``delta``; see :meth:`ChildSpec.hints`).

    Yields:
        One list of rows per child table with its hints (``dlt.mark.with_hints``).
    """
    per_table: dict[str, list[dict[str, Any]]] = {child.name: [] for child in children}
    for parent in parents:
        if not isinstance(parent, dict):
            continue
        for child in children:
            rows = child_rows(parent, child, complete)
            if rows is not None:
                per_table[child.name].extend(rows)
            if not keep_embedded:
                parent.pop(child.field, None)
    for child in children:
        if per_table[child.name]:
            yield dlt.mark.with_hints(
                per_table[child.name], child.hints(table_format), create_table_variant=True
            )
