"""Facts about Stripe's fields: which are unix times, and what each one means.

Read from ``fields.json``, generated from the ``stripe`` SDK by
``python -m sources.stripe.fieldgen`` (and kept in sync by a unit test). Field paths are
dotted (``status_transitions.paid_at``); this module turns them into the column names
dlt gives them.

How dlt flattens a record (``max_table_nesting`` of the Stripe source is 1, and the
columnar fast path does the same): a dict in a top-level field becomes ``a__b``
columns; a dict one level deeper stays whole in one JSON column (``a__b``), so a unix
time at ``a.b.c`` has no column of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Optional

from .settings import RESOURCES, SUB_LISTS

__all__ = [
    "MAX_TABLE_NESTING",
    "SLUICE_COLUMNS",
    "column_name",
    "describe_column",
    "field_description",
    "object_types",
    "table_object_types",
    "unix_time_columns",
    "unix_time_fields",
]

MAX_TABLE_NESTING = 1
"""The Stripe source's ``max_table_nesting`` (``sources/stripe/__init__.py``)."""

_SEPARATOR = "__"
"""dlt's snake_case naming joins flattened dict keys with a double underscore."""


@cache
def _data() -> Mapping[str, Any]:
    text = resources.files(__package__).joinpath("fields.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return {key: value for key, value in data.items() if not key.startswith("_")}


def object_types() -> tuple[str, ...]:
    """The object types ``fields.json`` describes (``customer``, ``line_item``...)."""
    return tuple(sorted(_data()))


def _entry(object_type: str) -> Mapping[str, Any]:
    try:
        entry: Mapping[str, Any] = _data()[object_type]
    except KeyError:
        raise KeyError(
            f"Stripe object type {object_type!r} is not in fields.json "
            "(add it to fieldgen.OBJECT_CLASSES and run python -m sources.stripe.fieldgen)"
        ) from None
    return entry


def unix_time_fields(object_type: str) -> tuple[str, ...]:
    """Every unix-time field path of an object type, nested ones included.

    Args:
        object_type: The payload's ``object`` value (``invoice``).

    Returns:
        Dotted paths, sorted (``status_transitions.paid_at``).

    Raises:
        KeyError: The type is not in ``fields.json``.
    """
    return tuple(_entry(object_type)["unix_time"])


def column_name(path: str, max_nesting: int = MAX_TABLE_NESTING) -> Optional[str]:
    """The column a field path loads into, or None when it sits inside a JSON column.

    Args:
        path: Dotted field path (``discount.start``).
        max_nesting: The source's ``max_table_nesting`` (dict levels flattened).

    Returns:
        ``discount__start``; None for ``discount.source.coupon`` at nesting 1.
    """
    parts = path.split(".")
    if len(parts) - 1 > max_nesting:
        return None
    return _SEPARATOR.join(parts)


def unix_time_columns(object_type: str, max_nesting: int = MAX_TABLE_NESTING) -> tuple[str, ...]:
    """The columns of an object type's table that hold unix times (to load as timestamps).

    Args:
        object_type: The payload's ``object`` value (``subscription``).
        max_nesting: The source's ``max_table_nesting``.

    Returns:
        Column names as dlt flattens them (``status_transitions__paid_at``), sorted.

    Raises:
        KeyError: The type is not in ``fields.json``.
    """
    names = (column_name(path, max_nesting) for path in unix_time_fields(object_type))
    return tuple(sorted(name for name in names if name is not None))


@cache
def _descriptions_by_column(object_type: str) -> Mapping[str, str]:
    descriptions: Mapping[str, str] = _entry(object_type)["descriptions"]
    return {path.replace(".", _SEPARATOR): text for path, text in descriptions.items()}


def field_description(object_type: str, column: str) -> str:
    """Stripe's description of the field behind a column ("" when Stripe has none).

    Args:
        object_type: The payload's ``object`` value (``invoice``).
        column: A column of its table (``status_transitions__paid_at``, or a JSON
            column such as ``lines``).

    Returns:
        The SDK's docstring of that field; "" for columns sluice adds (``deleted_at``)
        or fields the SDK does not document. An unknown object type also gives "".
    """
    if object_type not in _data():
        return ""
    return _descriptions_by_column(object_type).get(column, "")


SLUICE_COLUMNS: Mapping[str, str] = {
    "deleted": "Added by sluice: true once the object was deleted in Stripe (seen in the "
    "events feed, a full re-list or a webhook); the row is kept.",
    "deleted_at": "Added by sluice: when the delete was seen (the delete event's time, or "
    "the re-list's); null while the object exists.",
}
"""Columns the connector adds to Stripe's objects."""


def table_object_types() -> Mapping[str, str]:
    """Table -> the Stripe object type of its rows (resources and child tables)."""
    tables = {resource.name: resource.object_type for resource in RESOURCES}
    for sub_lists in SUB_LISTS.values():
        tables.update({sub.table: sub.object_type for sub in sub_lists})
    return tables


def describe_column(table: str, column: str) -> str:
    """A loaded column's description: Stripe's field docs, or what sluice adds.

    Args:
        table: A Stripe table (``invoices``, ``invoice_line_items``).
        column: One of its columns.

    Returns:
        The description; "" for columns of dlt's nested tables and undocumented fields.
    """
    parents = {sub.table: (parent, sub) for parent, subs in SUB_LISTS.items() for sub in subs}
    if table in parents and column == parents[table][1].parent_key:
        parent = parents[table][0]
        return f"Added by sluice: `id` of the row of `{parent}` whose list holds this entry."
    if column in SLUICE_COLUMNS:
        return SLUICE_COLUMNS[column]
    object_type = table_object_types().get(table)
    return field_description(object_type, column) if object_type else ""
