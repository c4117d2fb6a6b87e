"""Reading back an object's loaded rows from the running pipeline's destination.

Delete marks and refreshed formula values are merged as whole rows (a merge replaces a
row), so both read the row as loaded and rename its columns back to Salesforce names.
Nothing is read when there is nothing to compare with: no active pipeline, a destination
without SQL, a table never loaded or dropped by this run's refresh. The reading itself is
the kit's (``sources.kit.loaded``); this adds Salesforce's column names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Optional

import dlt

from sources.kit.loaded import destination_sql, has_loaded, live_keys, rows_by_key
from sources.kit.redact import global_redactor

from .helpers import DELETED_AT_COLUMN, DELETED_COLUMN, PRIMARY_KEY, ObjectSpec

logger = logging.getLogger("sluice.salesforce")

FETCH_CHUNK = 10_000
"""Rows fetched at a time."""


class LoadedObject:
    """One object's destination table, column names as loaded.

    Args:
        client: An open dlt SQL client of the pipeline's dataset.
        spec: The object.
    """

    def __init__(self, client: Any, spec: ObjectSpec) -> None:
        naming = dlt.current.source_schema().naming
        self._client = client
        self.table = naming.normalize_table_identifier(spec.resource)
        self.key = naming.normalize_identifier(PRIMARY_KEY)
        self.deleted = naming.normalize_identifier(DELETED_COLUMN)
        names = (*spec.fields, DELETED_COLUMN, DELETED_AT_COLUMN)
        self.names = {naming.normalize_identifier(n): n for n in names}
        """Loaded column -> Salesforce field name."""

    def live_ids(self) -> set[str]:
        """Ids of the rows not marked deleted."""
        return live_keys(self._client, self.table, self.key, self.deleted)

    def rows(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of ``ids`` under Salesforce field names, dlt's own columns left out."""
        loaded = rows_by_key(self._client, self.table, self.key, ids)
        return [rename(row, self.names) for row in loaded]

    def values(self, fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{id: {field: loaded value}}`` of every row, for the fields the table has."""
        known = (dlt.current.source_schema().tables.get(self.table) or {}).get("columns") or {}
        columns = [c for c, name in self.names.items() if name in fields and c in known]
        c = self._client
        selected = ", ".join(c.escape_column_name(n) for n in (self.key, *columns))
        sql = f"SELECT {selected} FROM {c.make_qualified_table_name(self.table)}"  # noqa: S608
        found: dict[str, dict[str, Any]] = {}
        with c.execute_query(sql) as cursor:
            while chunk := cursor.fetchmany(FETCH_CHUNK):
                for row in chunk:
                    if row[0] is not None:
                        found[str(row[0])] = {
                            self.names[col]: v for col, v in zip(columns, row[1:], strict=True)
                        }
        return found


def rename(row: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A loaded row with its columns renamed back (``names``: loaded -> Salesforce)."""
    return {names.get(column, column): value for column, value in row.items()}


@contextmanager
def loaded_object(spec: ObjectSpec) -> Iterator[Optional[LoadedObject]]:
    """The object's loaded table, or None when never loaded or not readable (logged)."""
    naming = dlt.current.source_schema().naming
    if not has_loaded(naming.normalize_table_identifier(spec.resource)):
        yield None
        return
    with destination_sql(f"salesforce {spec.resource}") as client:
        yield None if client is None else LoadedObject(client, spec)


def warn_unreadable(spec: ObjectSpec, exc: BaseException, purpose: str, outcome: str) -> None:
    """One redacted warning: the loaded rows could not be read for ``purpose``.

    Args:
        spec: The object.
        exc: What reading raised.
        purpose: What they were read for (``to mark deletes``).
        outcome: What happens instead (``purged deletes stay live until the next re-list``).
    """
    first = global_redactor().redact_text(str(exc)).splitlines()[:1]
    logger.warning(
        "salesforce %s: could not read the loaded rows %s (%s: %s); %s",
        spec.resource,
        purpose,
        type(exc).__name__,
        first[0] if first else "",
        outcome,
        extra={"resource": spec.resource},
    )
