"""Checks before replicating: server, role, tables, publication and slot, one line each.

``wal_level``: https://www.postgresql.org/docs/current/runtime-config-wal.html#GUC-WAL-LEVEL
``REPLICATION``: https://www.postgresql.org/docs/current/logical-replication-security.html
``REPLICA IDENTITY``: https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-REPLICA-IDENTITY
``pg_replication_slots``: https://www.postgresql.org/docs/current/view-pg-replication-slots.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from psycopg2 import sql

from .errors import CdcConfigurationError, SlotBusyError


@dataclass(frozen=True)
class SlotInfo:
    """A row of ``pg_replication_slots``."""

    plugin: Optional[str]
    database: Optional[str]
    active_pid: Optional[int]
    confirmed_flush_lsn: Optional[str]


def check_server(cur: Any) -> None:
    """``wal_level`` logical and a role allowed to replicate."""
    cur.execute("SHOW wal_level")
    level = cur.fetchone()[0]
    if level != "logical":
        raise CdcConfigurationError(
            f"wal_level is {level!r}, logical replication needs 'logical': run "
            "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL"
        )
    cur.execute(
        "SELECT rolname, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user"
    )
    role, allowed = cur.fetchone()
    if not allowed:
        raise CdcConfigurationError(
            f"role {role} lacks the REPLICATION privilege: run ALTER ROLE {role} REPLICATION; "
            "(as a superuser)"
        )


def table_key(cur: Any, schema: str, table: str) -> tuple[str, ...]:
    """The primary key columns of a table; () when it has none but REPLICA IDENTITY FULL.

    Raises:
        CdcConfigurationError: No such table, or no key and no full replica identity.
    """
    cur.execute(
        "SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
        (schema, table),
    )
    found = cur.fetchone()
    if found is None:
        raise CdcConfigurationError(
            f"table {schema}.{table} not found; fix sources.postgres_cdc.tables"
        )
    oid, identity = found
    cur.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s AND i.indisprimary"
        " ORDER BY array_position(i.indkey, a.attnum)",
        (oid,),
    )
    key = tuple(row[0] for row in cur.fetchall())
    if not key and identity != "f":
        raise CdcConfigurationError(
            f"table {schema}.{table} has no primary key: add one, or run "
            f"ALTER TABLE {schema}.{table} REPLICA IDENTITY FULL;"
        )
    return key


def ensure_publication(cur: Any, publication: str, schema: str, tables: Sequence[str]) -> None:
    """The publication exists and publishes exactly ``tables``."""
    names = sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables)
    cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,))
    verb = (
        "ALTER PUBLICATION {} SET TABLE {}"
        if cur.fetchone()
        else "CREATE PUBLICATION {} FOR TABLE {}"
    )
    cur.execute(sql.SQL(verb).format(sql.Identifier(publication), names))


def slot_info(cur: Any, slot: str) -> Optional[SlotInfo]:
    """The slot's row, or None when there is no such slot."""
    cur.execute(
        "SELECT plugin, database, active_pid, confirmed_flush_lsn::text FROM pg_replication_slots"
        " WHERE slot_name = %s",
        (slot,),
    )
    row = cur.fetchone()
    return SlotInfo(*row) if row else None


def check_slot_ours(info: SlotInfo, slot: str, database: str) -> None:
    """A slot of that name is a logical pgoutput slot of this database, not in use.

    Raises:
        CdcConfigurationError: It belongs to something else (other plugin or database).
        SlotBusyError: Another process streams from it now.
    """
    if info.plugin != "pgoutput" or info.database != database:
        raise CdcConfigurationError(
            f"replication slot {slot} belongs to something else (plugin {info.plugin}, "
            f"database {info.database}): set sources.postgres_cdc.slot_name to another name"
        )
    if info.active_pid is not None:
        raise SlotBusyError(
            f"replication slot {slot} is in use by process {info.active_pid}: stop that consumer "
            f"or run SELECT pg_terminate_backend({info.active_pid});"
        )


def slot_lag(cur: Any, slot: str) -> tuple[Optional[int], Optional[str]]:
    """Bytes of WAL the slot retains past its confirmed position, and that position."""
    cur.execute(
        "SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, confirmed_flush_lsn::text"
        " FROM pg_replication_slots WHERE slot_name = %s",
        (slot,),
    )
    row = cur.fetchone()
    return (int(row[0]) if row and row[0] is not None else None, row[1] if row else None)
