"""Reads back loaded rows of the running pipeline's destination (values the stream omits)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sources.kit.loaded import DLT_COLUMN_PREFIX, FETCH_CHUNK, destination_sql, has_loaded

from .changes import Key, Row
from .settings import DELETED_COLUMN


def _where(client: Any, key_columns: Sequence[str]) -> str:
    return " AND ".join(f"{client.escape_column_name(k)} = %s" for k in key_columns)


def loaded_rows(table: str, key_columns: Sequence[str], keys: Sequence[Key]) -> dict[Key, Row]:
    """The loaded rows of ``keys`` (without dlt's columns); none before a first load."""
    if not keys or not has_loaded(table):
        return {}
    found: dict[Key, Row] = {}
    with destination_sql(f"postgres_cdc {table}") as client:
        if client is None:
            return {}
        qualified = client.make_qualified_table_name(table)
        where = _where(client, key_columns)
        for key in keys:
            # identifiers escaped by the client; values bound as parameters
            query = f"SELECT * FROM {qualified} WHERE {where}"  # noqa: S608
            with client.execute_query(query, *key) as cursor:
                names = [d[0] for d in cursor.native_cursor.description]
                values = cursor.fetchone()
            if values is not None:
                row = dict(zip(names, values, strict=True))
                found[key] = {k: v for k, v in row.items() if not k.startswith(DLT_COLUMN_PREFIX)}
    return found


def loaded_keys(table: str, key_columns: Sequence[str]) -> list[Key]:
    """Keys of the loaded rows of ``table`` not marked deleted."""
    if not has_loaded(table):
        return []
    with destination_sql(f"postgres_cdc {table}") as client:
        if client is None:
            return []
        columns = ", ".join(client.escape_column_name(c) for c in (*key_columns, DELETED_COLUMN))
        query = f"SELECT {columns} FROM {client.make_qualified_table_name(table)}"  # noqa: S608
        keys: list[Key] = []
        with client.execute_query(query) as cursor:
            while chunk := cursor.fetchmany(FETCH_CHUNK):
                keys.extend(tuple(r[:-1]) for r in chunk if r[-1] is not True)
    return keys
