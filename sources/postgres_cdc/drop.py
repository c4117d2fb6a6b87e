"""Drops the replication slot and the publication cleanly (a forgotten slot fills the disk).

``pg_drop_replication_slot``: https://www.postgresql.org/docs/current/functions-admin.html
"""

from __future__ import annotations

import logging

from psycopg2 import sql

from . import checks, replication

logger = logging.getLogger("sluice.postgres_cdc")


def drop_slot_and_publication(dsn: str, slot: str, publication: str) -> list[str]:
    """Drops both if they exist; returns what was dropped.

    Raises:
        SlotBusyError: A consumer streams from the slot right now.
    """
    dropped: list[str] = []
    conn = replication.connect(dsn)
    try:
        with conn.cursor() as cur:
            info = checks.slot_info(cur, slot)
            if info is not None:
                if info.active_pid is not None:
                    checks.check_slot_ours(info, slot, conn.info.dbname)
                cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                dropped.append(f"slot {slot}")
            cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,))
            if cur.fetchone():
                cur.execute(sql.SQL("DROP PUBLICATION {}").format(sql.Identifier(publication)))
                dropped.append(f"publication {publication}")
    finally:
        conn.close()
    logger.info("postgres_cdc: dropped %s", ", ".join(dropped) or "nothing")
    return dropped
