"""A bulk export's JSONL put back together: child rows under their parents.

Shopify's bulk query results are one object per line; an object of a nested connection
is a line of its own carrying ``__parentId``, the id of the object it belongs to, and
lines come parents first (https://shopify.dev/docs/api/usage/bulk-operations/queries#the-jsonl-data-format).
:func:`reassemble` turns them back into the nested rows paging gives, so a bulk
backfill and a paged one load the same tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional

PARENT_KEY = "__parentId"

ChildField = Callable[[dict[str, Any]], Optional[str]]
"""Names the parent's list a child line goes into (from its id's type, say)."""


def parse_lines(lines: Iterable[str]) -> Iterator[tuple[Optional[dict[str, Any]], str]]:
    """Each non-empty line decoded, or ``(None, line)`` when it is not a JSON object."""
    for line in lines:
        text = line.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError:
            yield None, text
            continue
        yield (value, text) if isinstance(value, dict) else (None, text)


def reassemble(
    objects: Iterable[dict[str, Any]],
    child_field: ChildField,
    list_fields: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Roots with their children attached, in file order.

    Args:
        objects: Decoded lines.
        child_field: The list a child goes into in its parent (None: drop the line).
        list_fields: Fields every root has as a list even with no child lines, so a
            product without variants gets ``variants = []`` as paging gives.

    Returns:
        The root objects, each child list in file order (nested children too).
    """
    by_id: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    fields = tuple(list_fields)
    for obj in objects:
        parent_id = obj.pop(PARENT_KEY, None)
        if isinstance(obj.get("id"), str):
            by_id[obj["id"]] = obj
        if parent_id is None:
            for name in fields:
                obj.setdefault(name, [])
            roots.append(obj)
            continue
        parent = by_id.get(str(parent_id))
        field_name = child_field(obj)
        if parent is None or field_name is None:
            continue
        children = parent.setdefault(field_name, [])
        if isinstance(children, list):
            children.append(obj)
    return roots
