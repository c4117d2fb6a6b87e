"""The replication slot and its two reads: the exported snapshot and the change stream.

Slot with exported snapshot: ``CREATE_REPLICATION_SLOT ... LOGICAL pgoutput EXPORT_SNAPSHOT``
on a replication connection returns (slot, consistent_point, snapshot_name, plugin); a
REPEATABLE READ transaction that runs ``SET TRANSACTION SNAPSHOT`` sees the database exactly
at ``consistent_point`` while that connection runs nothing else
(https://www.postgresql.org/docs/current/protocol-replication.html,
https://www.postgresql.org/docs/current/sql-set-transaction.html). Streaming options of
pgoutput (``proto_version``, ``publication_names``, ``messages``):
https://www.postgresql.org/docs/current/protocol-logical-replication.html. psycopg2's
``ReplicationCursor`` (``start_replication``, ``read_message``, ``send_feedback``):
https://www.psycopg.org/docs/extras.html#replication-support-objects
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extras import LogicalReplicationConnection

from sources.kit.errors import RetriableError

from . import pgoutput
from .settings import CREDENTIALS_SETTING, MARKER_PREFIX, SESSION_OPTIONS

logger = logging.getLogger("sluice.postgres_cdc")


def connect(dsn: str, replication: bool = False) -> Any:
    """A connection with the session settings the value parsers expect.

    Raises:
        RetriableError: The server cannot be reached or refuses the login (one line).
    """
    factory = LogicalReplicationConnection if replication else None
    try:
        conn = psycopg2.connect(dsn, connection_factory=factory, options=SESSION_OPTIONS)
    except psycopg2.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise RetriableError(
            f"cannot connect to the source database ({reason}); check {CREDENTIALS_SETTING}"
        ) from exc
    if not replication:
        conn.autocommit = True
    return conn


@dataclass(frozen=True)
class NewSlot:
    """A slot just created: where its stream starts and the snapshot of that instant."""

    consistent_lsn: int
    snapshot_name: str


def create_slot(rcur: Any, slot: str) -> NewSlot:
    """Creates the logical slot, exporting its snapshot (valid until ``rcur`` runs again)."""
    rcur.execute(f"CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput EXPORT_SNAPSHOT")
    _, consistent_point, snapshot_name, _ = rcur.fetchone()
    logger.info("postgres_cdc: created slot %s at %s", slot, consistent_point)
    return NewSlot(pgoutput.parse_lsn(consistent_point), snapshot_name)


def snapshot_rows(
    dsn: str, snapshot_name: str, schema: str, tables: Sequence[str], batch: int = 5000
) -> Iterator[tuple[str, dict[str, int], dict[str, Any]]]:
    """Every row of ``tables`` as of the snapshot: (table, column types, text values).

    Values are read as text so they parse exactly like the stream's.
    """
    conn = connect(dsn)
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot_name,))
            for table in tables:
                columns = table_columns(cur, schema, table)
                names = list(columns)
                select_sql = sql.SQL("SELECT {} FROM {}").format(
                    sql.SQL(", ").join(
                        sql.SQL("{}::text").format(sql.Identifier(n)) for n in names
                    ),
                    sql.Identifier(schema, table),
                )
                with conn.cursor(name=f"snapshot_{table}") as named:
                    named.itersize = batch
                    named.execute(select_sql)
                    for values in named:
                        yield table, columns, dict(zip(names, values, strict=True))
        conn.commit()
    finally:
        conn.close()


def table_columns(cur: Any, schema: str, table: str) -> dict[str, int]:
    """Column names and type OIDs of a table, in order."""
    cur.execute(
        "SELECT a.attname, a.atttypid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s"
        " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (schema, table),
    )
    return {name: int(oid) for name, oid in cur.fetchall()}


def emit_marker(cur: Any, run_id: str) -> int:
    """Writes this run's end marker into the WAL and returns its LSN.

    A transactional logical message in its own transaction: the stream reaches it after
    every transaction committed before this call.
    """
    cur.execute("SELECT pg_logical_emit_message(true, %s, %s)::text", (MARKER_PREFIX, run_id))
    return pgoutput.parse_lsn(cur.fetchone()[0])


def start_stream(rcur: Any, slot: str, publication: str, confirmed_lsn: int) -> None:
    """Starts streaming and confirms the position the destination has committed."""
    rcur.start_replication(
        slot_name=slot,
        decode=False,
        start_lsn=confirmed_lsn,
        options={"proto_version": "1", "publication_names": publication, "messages": "true"},
    )
    # The previous run's load is committed (dlt loaded its package before extracting
    # this run), so the slot may drop the WAL up to it.
    rcur.send_feedback(flush_lsn=confirmed_lsn, reply=True, force=True)


def read_until_marker(
    rcur: Any,
    run_id: str,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[Any, float], Any] = lambda cur, s: select.select([cur], [], [], s),
) -> Iterator[tuple[int, pgoutput.Message]]:
    """Decoded messages up to and including the commit of this run's marker.

    Raises:
        RetriableError: The marker did not arrive within ``timeout_s``.
    """
    deadline = clock() + timeout_s
    seen_marker = False
    while True:
        message = rcur.read_message()
        if message is None:
            remaining = deadline - clock()
            if remaining <= 0:
                raise RetriableError(
                    f"the replication stream did not reach this run's end within {timeout_s:g} s;"
                    " raise sources.postgres_cdc.stream_timeout_s or retry"
                )
            wait(rcur, min(remaining, 1.0))
            continue
        decoded = pgoutput.decode(message.payload)
        yield message.data_start, decoded
        if isinstance(decoded, pgoutput.LogicalMessage) and decoded.prefix == MARKER_PREFIX:
            seen_marker = seen_marker or decoded.content.decode() == run_id
        elif seen_marker and isinstance(decoded, pgoutput.Commit):
            return
