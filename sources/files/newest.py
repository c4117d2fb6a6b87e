"""Newest file wins across loads, not only within one.

dlt's delete-insert merge keeps, per key, the staged row with the highest ``dedup_sort``
column (``ROW_NUMBER() OVER (PARTITION BY key ORDER BY <dedup_sort> DESC)`` in
``gen_select_from_dedup_sql``, dlt/destinations/sql_jobs.py) and then replaces the
destination row: the ordering covers only the rows of one load. An older file that
arrives late would therefore overwrite a newer file's row loaded before. Before such a
file's rows are yielded, this reads back the keys the destination holds from files newer
than the oldest file of the run, and those rows are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sources.kit.loaded import destination_sql, has_loaded

from .settings import FILE_MODIFIED_AT

logger = logging.getLogger("sluice.files")

Key = tuple[str, ...]


def key_of(row: Mapping[str, Any], primary_key: Sequence[str]) -> Key:
    """A row's key as text (the destination's values come back typed)."""
    return tuple(str(row.get(name)) for name in primary_key)


def as_utc(value: datetime) -> datetime:
    """Aware UTC (DuckDB answers naive or aware depending on the column type)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def newer_keys(table: str, primary_key: Sequence[str], since: datetime) -> dict[Key, datetime]:
    """Keys loaded from files modified after ``since``, with that newest file time.

    Empty when the table was never loaded (or this run's refresh drops it) or the
    destination has no SQL access (logged by the kit).
    """
    if not primary_key or not has_loaded(table):
        return {}
    with destination_sql(f"files {table}") as client:
        if client is None:
            return {}
        keys = [client.escape_column_name(name) for name in primary_key]
        stamp = client.escape_column_name(FILE_MODIFIED_AT)
        qualified = client.make_qualified_table_name(table)
        # Identifiers escaped by the client; the time is bound as a parameter.
        sql = (
            f"SELECT {', '.join(keys)}, MAX({stamp}) FROM {qualified}"  # noqa: S608
            f" WHERE {stamp} > %s GROUP BY {', '.join(keys)}"
        )
        newer: dict[Key, datetime] = {}
        with client.execute_query(sql, since) as cursor:
            for row in cursor.fetchall():
                newer[tuple(str(v) for v in row[:-1])] = as_utc(row[-1])
    if newer:
        logger.info("files %s: %d key(s) already loaded from newer files", table, len(newer))
    return newer


def superseded(newer: Mapping[Key, datetime], key: Key, modified: datetime) -> bool:
    """Whether a newer file than ``modified`` already loaded this key."""
    loaded = newer.get(key)
    return loaded is not None and loaded > modified
