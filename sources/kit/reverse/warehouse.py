"""The warehouse side of a sync: the source rows and the per-sync state table.

Both go through dlt's SQL client of the pipeline (DuckDB, Postgres, any destination
with one). The state table ``_reverse_sync_state`` holds, per sync and key, the hash and
values the target last accepted and the target's id of the record. It is written with
plain SQL in one transaction per accepted batch, right after the target answered, so a
kill between two batches loses at most the batch in flight (re-sent idempotently).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, Optional

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from sources.kit.errors import ConfigurationError

from .plan import DELETE, Op, StateEntry
from .spec import SyncSpec

logger = logging.getLogger("sluice.reverse")

STATE_TABLE = "_reverse_sync_state"
STATE_COLUMNS = ("sync_name", "record_key", "value_hash", "payload", "target_id", "synced_at")


class SourceQueryError(ConfigurationError):
    """The sync's source table or query cannot be read."""


def read_rows(pipeline: dlt.Pipeline, spec: SyncSpec) -> list[dict[str, Any]]:
    """Every row of the sync's source table or query.

    Raises:
        SourceQueryError: The table is missing, the query fails or lacks a column.
    """
    with pipeline.sql_client() as client:
        if spec.table:
            # every column: the change token column appears only once the inbound side
            # loaded a record the sync wrote
            sql = f"SELECT * FROM {client.make_qualified_table_name(spec.table)}"  # noqa: S608
        else:
            sql = str(spec.query)
        try:
            with client.execute_query(sql) as cursor:
                columns = [d[0] for d in cursor.description]
                rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
        except DatabaseUndefinedRelation:
            raise SourceQueryError(
                f"sync {spec.name}: source.{'table' if spec.table else 'query'} refers to a "
                f"table missing from dataset {pipeline.dataset_name}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - any driver error is the query's
            raise SourceQueryError(
                f"sync {spec.name}: source query failed: {str(exc).splitlines()[0]}"
            ) from None
    missing = [c for c in spec.columns if rows and c not in rows[0] and c != spec.token_column]
    if missing:
        raise SourceQueryError(f"sync {spec.name}: source.query returns no column {missing[0]}")
    return rows


def _ensure_state_table(client: Any) -> str:
    if not client.has_dataset():
        client.create_dataset()
    table = client.make_qualified_table_name(STATE_TABLE)
    client.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {table} (sync_name VARCHAR NOT NULL, "
        "record_key VARCHAR NOT NULL, value_hash VARCHAR NOT NULL, payload TEXT, "
        "target_id VARCHAR, synced_at TIMESTAMP)"
    )
    return str(table)


def load_state(pipeline: dlt.Pipeline, sync_name: str) -> dict[str, StateEntry]:
    """The last accepted values of every key of ``sync_name`` ({} before the first run)."""
    with pipeline.sql_client() as client:
        try:
            table = client.make_qualified_table_name(STATE_TABLE)
            result = client.execute_sql(
                f"SELECT record_key, value_hash, payload, target_id FROM {table} "  # noqa: S608
                "WHERE sync_name = %s",
                sync_name,
            )
        except DatabaseUndefinedRelation:
            return {}
    return {
        str(key): StateEntry(str(digest), json.loads(payload or "{}"), target_id)
        for key, digest, payload, target_id in result or []
    }


def commit(
    pipeline: dlt.Pipeline,
    sync_name: str,
    accepted: Sequence[tuple[Op, Optional[str]]],
    now: Optional[datetime] = None,
) -> None:
    """Saves the hashes of accepted writes in one transaction (deletes drop their key).

    Args:
        pipeline: The warehouse pipeline.
        sync_name: The sync.
        accepted: ``(op, target_id)`` the target accepted.
        now: ``synced_at`` (UTC now by default).
    """
    if not accepted:
        return
    stamp = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    keys = [op.key for op, _ in accepted]
    rows = [
        (sync_name, op.key, op.value_hash, json.dumps(dict(op.payload), default=str),
         target_id or op.target_id, stamp)
        for op, target_id in accepted
        if op.kind != DELETE
    ]  # fmt: skip
    with pipeline.sql_client() as client:
        table = _ensure_state_table(client)
        with client.begin_transaction():
            for chunk in _chunks(keys, 500):
                marks = ", ".join(["%s"] * len(chunk))
                client.execute_sql(
                    f"DELETE FROM {table} WHERE sync_name = %s AND record_key IN ({marks})",  # noqa: S608
                    sync_name,
                    *chunk,
                )
            for chunk_rows in _chunks(rows, 200):
                values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk_rows))
                flat = [v for row in chunk_rows for v in row]
                client.execute_sql(f"INSERT INTO {table} VALUES {values}", *flat)  # noqa: S608


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
