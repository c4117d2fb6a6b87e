"""Mapping paths resolved against the flattened rows dlt loaded into the warehouse.

Mapping files name source fields as the API sends them (``address.country``,
``FirstName``, ``price.recurring.interval``). In the warehouse dlt has renamed and
flattened them: names go through the schema's naming convention (``first_name``), nested
objects become ``a__b`` columns down to the connector's ``max_table_nesting`` and deeper
values are kept whole in ``json`` columns. :func:`warehouse_path` turns an API path into
the path of the loaded row: the longest prefix that is a column of the table, then the
rest as keys inside that column's (decoded JSON) value::

    address.country             -> address__country
    billing_details.address.city -> billing_details__address.city   (a json column)
    items.data.0.price.id       -> items__data.0.price.id

so the same mapping reads a table whatever its nesting, and the docs, the dead letters
and the drift report name the column an analyst finds in the warehouse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from dlt.common.normalizers.naming import NamingConvention

from .paths import split_path
from .spec import FieldMapping, MappingSpec

__all__ = ["spec_for_table", "warehouse_path"]


def warehouse_path(path: str, columns: Collection[str], naming: NamingConvention) -> str:
    """The path of an API field in a loaded row of a table with ``columns``.

    Args:
        path: Dot-path as the API sends the record (``address.country``).
        columns: Column names of the loaded table.
        naming: The schema's naming convention (how dlt named the columns).

    Returns:
        ``<column>[.<key>...]``; when no prefix is a column, the fully flattened name
        (absent from every row, so the drift report names it as missing).
    """
    segments = split_path(path)
    for end in range(len(segments), 0, -1):
        column = _column_for(segments[:end], columns, naming)
        if column is not None:
            return ".".join((column, *segments[end:]))
    return naming.make_path(*(_normalised(s, naming) for s in segments))


def spec_for_table(
    spec: MappingSpec, columns: Collection[str], naming: NamingConvention
) -> MappingSpec:
    """``spec`` with every source path resolved against a loaded table (see module doc)."""

    def resolve(mapping: FieldMapping) -> FieldMapping:
        if mapping.source:
            return dataclasses.replace(
                mapping, source=warehouse_path(mapping.source, columns, naming)
            )
        paths = tuple(warehouse_path(p, columns, naming) for p in mapping.sources)
        return dataclasses.replace(mapping, sources=paths)

    superseded = spec.superseded_by
    return dataclasses.replace(
        spec,
        fields=tuple(resolve(f) for f in spec.fields),
        superseded_by=warehouse_path(superseded, columns, naming) if superseded else None,
    )


def _column_for(
    segments: Sequence[str], columns: Collection[str], naming: NamingConvention
) -> str | None:
    if any(s.isdigit() for s in segments):
        return None  # list positions live inside json values, never in column names
    candidates = (
        naming.make_path(*(_normalised(s, naming) for s in segments)),
        "__".join(segments),  # a name dlt kept as given (Salesforce ``My_Field__c``)
    )
    return next((c for c in candidates if c in columns), None)


def _normalised(segment: str, naming: NamingConvention) -> str:
    return segment if segment.isdigit() else naming.normalize_identifier(segment)
