"""Child rows a parent no longer has: removed from the canonical table too.

A raw child table (Stripe ``subscription_items``) is replaced per parent: when a
subscription changes, its load writes every item it has now and drops the others. A
mapping declaring ``children_of = "<target column naming the parent>"`` keeps its
canonical table exact the same way: canonical rows of the parents a load holds that are
not among that load's children are loaded again as dlt hard deletes (``superseded``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from .models import SUPERSEDED_COLUMN
from .spec import MappingSpec

__all__ = ["ChildrenSeen", "removed_children"]

PARENTS_PER_QUERY = 200
"""Parent ids per ``IN (...)`` list."""


class ChildrenSeen:
    """The children each parent has in the loads mapped now."""

    def __init__(self, spec: MappingSpec) -> None:
        """Collects for ``spec``'s ``children_of`` column (nothing when it has none)."""
        self.column = spec.children_of
        self.by_parent: dict[str, set[str]] = {}

    def add(self, row: Mapping[str, Any]) -> None:
        """Notes one mapped row."""
        if self.column and row.get(self.column) is not None:
            parent = str(row[self.column])
            self.by_parent.setdefault(parent, set()).add(str(row["source_id"]))


def removed_children(
    pipeline: dlt.Pipeline, spec: MappingSpec, seen: ChildrenSeen
) -> Iterator[dict[str, Any]]:
    """Hard-delete rows for the canonical children the seen parents no longer have.

    Args:
        pipeline: The canonical pipeline (reads the rows loaded by earlier runs).
        spec: The child mapping.
        seen: Its parents and their children in this load.

    Yields:
        Stored rows (model columns only) with ``superseded`` set.
    """
    if not seen.column or not seen.by_parent:
        return
    model = spec.target_model
    parents = sorted(seen.by_parent)
    for start in range(0, len(parents), PARENTS_PER_QUERY):
        for row in _stored(pipeline, spec, parents[start : start + PARENTS_PER_QUERY]):
            if str(row["source_id"]) not in seen.by_parent[str(row[seen.column])]:
                kept = {k: v for k, v in row.items() if k in model.columns}
                yield {**kept, SUPERSEDED_COLUMN: True}


def _stored(
    pipeline: dlt.Pipeline, spec: MappingSpec, parents: Collection[str]
) -> list[dict[str, Any]]:
    marks = ", ".join(["%s"] * len(parents))
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(spec.target_model.name)
            column = client.escape_column_name(str(spec.children_of))
            sql = (
                f"SELECT * FROM {table} WHERE source_system = %s "  # noqa: S608
                f"AND {column} IN ({marks})"
            )
            with client.execute_query(sql, spec.source_system, *parents) as cursor:
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    except DatabaseUndefinedRelation:
        return []
