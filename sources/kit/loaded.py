"""Reading back what a flat, merged table holds in the running pipeline's destination.

Sources whose API has no complete delete signal compare a full listing of keys with the
keys loaded before: a loaded row whose key the source no longer lists was deleted. This
module gives them the loaded side: the live keys (``deleted`` not true) and the rows of
given keys, read through dlt's SQL client. Tables with nested child tables need more
(see Stripe's relist); this covers flat ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Optional

import dlt
from dlt.common.configuration.container import Container
from dlt.common.pipeline import PipelineContext
from dlt.common.schema.utils import has_table_seen_data

logger = logging.getLogger("sluice.loaded")

KEY_CHUNK = 500
"""Keys per ``IN (...)`` query."""
FETCH_CHUNK = 10_000
DLT_COLUMN_PREFIX = "_dlt_"


def has_loaded(table: str) -> bool:
    """Whether ``table`` was loaded before and this run's refresh does not drop it."""
    schema_table = dlt.current.source_schema().tables.get(table)
    if schema_table is None or not has_table_seen_data(schema_table):
        return False
    try:
        package = dlt.current.load_package_state()["state"]
    except Exception:  # noqa: BLE001 - outside an extraction there is no refresh
        return True
    for key in ("dropped_tables", "truncated_tables"):
        for dropped in package.get(key) or ():  # type: ignore[attr-defined]
            if str(dropped.get("name")) == table:
                return False
    return True


@contextmanager
def destination_sql(what: str) -> Iterator[Optional[Any]]:
    """An open SQL client of the running pipeline's dataset, or None (logged) without one.

    Args:
        what: What the comparison is for, for the log line (``servicenow incident``).
    """
    context = Container()[PipelineContext]
    if not context.is_active():
        logger.warning("%s: no active pipeline to read loaded rows from; nothing compared", what)
        yield None
        return
    pipeline = context.pipeline()
    try:
        # dlt injects config sections while it resolves the client: done on the
        # extracting thread it would disturb the extraction's context.
        with ThreadPoolExecutor(max_workers=1) as builder:
            client = builder.submit(pipeline.sql_client).result()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - each destination raises its own types
        logger.warning(
            "%s: the destination offers no SQL access (%s); nothing compared",
            what,
            type(exc).__name__,
        )
        yield None
        return
    with client:
        yield client


def live_keys(client: Any, table: str, key: str, deleted: str = "deleted") -> set[str]:
    """Keys of the rows of ``table`` not marked deleted."""
    columns = ", ".join(client.escape_column_name(n) for n in (key, deleted))
    qualified = client.make_qualified_table_name(table)
    sql = f"SELECT {columns} FROM {qualified}"  # noqa: S608 - identifiers escaped by the client
    live: set[str] = set()
    with client.execute_query(sql) as cursor:
        while chunk := cursor.fetchmany(FETCH_CHUNK):
            live.update(str(k) for k, gone in chunk if k is not None and gone is not True)
    return live


def rows_by_key(client: Any, table: str, key: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ``keys`` as loaded, without dlt's own columns."""
    rows: list[dict[str, Any]] = []
    qualified, column = client.make_qualified_table_name(table), client.escape_column_name(key)
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = list(keys[start : start + KEY_CHUNK])
        marks = ", ".join(["%s"] * len(chunk))
        # Identifiers escaped by the client; values bound as parameters.
        sql = f"SELECT * FROM {qualified} WHERE {column} IN ({marks})"  # noqa: S608
        with client.execute_query(sql, *chunk) as cursor:
            names = [d[0] for d in cursor.native_cursor.description]
            for values in cursor.fetchall():
                row = dict(zip(names, values, strict=True))
                rows.append({k: v for k, v in row.items() if not k.startswith(DLT_COLUMN_PREFIX)})
    return rows
