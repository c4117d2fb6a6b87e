"""Reads a connector's raw rows back from the destination, by dlt load id.

The canonical load is derived from what the raw pipeline loaded, whichever path loaded
it (a poll, the webhook drain, a dead-letter replay): every raw row carries the
``_dlt_load_id`` of the load that wrote it, and a merge table keeps only the newest row
of each object, so the rows of the load ids not mapped yet are exactly the objects that
changed since the last canonical load, at their newest state. Only loads recorded as
complete in ``_dlt_loads`` are read: a package a killed raw run left half loaded is
mapped once it completes.

Rows come back as dicts of the table's columns (dlt's own ``_dlt_*`` columns left out),
with ``json`` columns decoded, through the raw pipeline's SQL client (DuckDB, Postgres
and the other SQL destinations alike).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional

import dlt
from dlt.common.json import json
from dlt.common.normalizers.naming import NamingConvention
from dlt.common.schema import Schema
from dlt.destinations.exceptions import DatabaseUndefinedRelation

__all__ = ["RawTables"]

LOAD_ID = "_dlt_load_id"
DLT_PREFIX = "_dlt_"
COMPLETED = 0
"""``_dlt_loads.status`` of a load whose every job is in the destination."""

LOAD_IDS_PER_QUERY = 200
"""Load ids per ``IN (...)`` list (far below any driver's parameter limit)."""

FETCH_ROWS = 2000
"""Rows fetched per round trip while mapping."""


class RawTables:
    """The raw tables of one pipeline, as its destination holds them."""

    def __init__(self, pipeline: dlt.Pipeline) -> None:
        """Reads ``pipeline``'s dataset with its default schema's names and types."""
        self.pipeline = pipeline
        self._completed: Optional[set[str]] = None

    @property
    def dataset_name(self) -> str:
        """The raw dataset."""
        return str(self.pipeline.dataset_name)

    @property
    def schema(self) -> Optional[Schema]:
        """The raw schema (None before the pipeline loaded anything)."""
        if not self.pipeline.default_schema_name:
            return None
        return self.pipeline.default_schema

    @property
    def naming(self) -> NamingConvention:
        """How dlt named the raw tables and columns."""
        schema = self.schema
        if schema is None:
            return Schema("raw").naming
        return schema.naming

    def table_name(self, resource: str) -> str:
        """The table a resource loads into (``Account`` -> ``account``)."""
        return self.naming.normalize_table_identifier(resource)

    def columns(self, table: str) -> dict[str, Any]:
        """The table's columns by name (empty when the schema has no such table)."""
        schema = self.schema
        if schema is None or table not in schema.tables:
            return {}
        return dict(schema.get_table_columns(table))

    def load_ids(self, table: str) -> list[str]:
        """The completed load ids that still have rows in ``table``, sorted."""
        if not self.columns(table):
            return []
        present = self._query(f"SELECT DISTINCT {LOAD_ID} FROM {self._qualified(table)}")  # noqa: S608
        completed = self._completed_loads()
        return sorted(str(r[0]) for r in present if str(r[0]) in completed)

    def rows(self, table: str, load_ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The rows of ``table`` written by ``load_ids``, as decoded dicts."""
        json_columns = {n for n, c in self.columns(table).items() if c.get("data_type") == "json"}
        for start in range(0, len(load_ids), LOAD_IDS_PER_QUERY):
            chunk = list(load_ids[start : start + LOAD_IDS_PER_QUERY])
            marks = ", ".join(["%s"] * len(chunk))
            sql = f"SELECT * FROM {self._qualified(table)} WHERE {LOAD_ID} IN ({marks})"  # noqa: S608
            with self.pipeline.sql_client() as client, client.execute_query(sql, *chunk) as cursor:
                names = [d[0] for d in cursor.description]
                while batch := cursor.fetchmany(FETCH_ROWS):
                    for values in batch:
                        yield _decoded(dict(zip(names, values, strict=True)), json_columns)

    def _completed_loads(self) -> set[str]:
        if self._completed is None:
            rows = self._query(
                f"SELECT load_id FROM {self._qualified('_dlt_loads')} WHERE status = %s",  # noqa: S608
                COMPLETED,
            )
            self._completed = {str(r[0]) for r in rows}
        return self._completed

    def _qualified(self, table: str) -> str:
        with self.pipeline.sql_client() as client:
            return str(client.make_qualified_table_name(table))

    def _query(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        try:
            with self.pipeline.sql_client() as client:
                return list(client.execute_sql(sql, *args) or [])
        except DatabaseUndefinedRelation:
            return []


def _decoded(row: Mapping[str, Any], json_columns: set[str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, value in row.items():
        if name.startswith(DLT_PREFIX):
            continue
        if name in json_columns and isinstance(value, bytes):
            value = value.decode("utf-8")
        if name in json_columns and isinstance(value, str):
            value = json.loads(value)
        record[name] = value
    return record
