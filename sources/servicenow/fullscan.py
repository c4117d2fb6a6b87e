"""The periodic sys_id scan: the delete signal that does not depend on auditing.

``sys_audit_delete`` misses deletes (unaudited tables, Table Cleaner, purged rows, no read
access: see deletes.py). Every ``full_scan_interval_hours`` the connector lists every
sys_id of a table (``sysparm_fields=sys_id``, keyset pages on ``sys_id`` so concurrent
inserts and deletes never shift a page) and marks the loaded rows the instance no longer
has ``deleted = true``, their other columns read back from the destination.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from sources.kit.loaded import destination_sql, has_loaded, live_keys, rows_by_key

from .client import ServiceNowClient
from .records import format_glide
from .settings import DISPLAY_VALUE, PRIMARY_KEY

logger = logging.getLogger("sluice.servicenow")

LAST_SCAN = "full_scan_at"
"""Resource state key: unix time of the last complete sys_id scan."""
DEFAULT_INTERVAL_HOURS = 24.0
MAX_VANISHED_SHARE = 0.5
"""A scan that would mark more than this share of the loaded rows deleted marks nothing:
losing read access (ACLs hide rows without an error) looks like a mass delete."""


@dataclass(frozen=True)
class ScanSchedule:
    """When the sys_id scan is due.

    Attributes:
        interval_hours: Hours between scans; 0 scans on every run.
    """

    interval_hours: float = DEFAULT_INTERVAL_HOURS

    def due(self, last: Optional[float], now: float) -> bool:
        """Whether a scan is due at ``now`` after one at ``last`` (None: never scanned)."""
        if last is None or self.interval_hours <= 0:
            return True
        return now - last >= self.interval_hours * 3600


@dataclass
class ScannedIds:
    """The sys_ids one scan listed."""

    ids: set[str] = field(default_factory=set)
    pages: int = 0


def scan_query(after: Optional[str]) -> str:
    """Keyset page query: the sys_ids after ``after``, in sys_id order."""
    return f"{PRIMARY_KEY}>{after}^ORDERBY{PRIMARY_KEY}" if after else f"ORDERBY{PRIMARY_KEY}"


def scan_ids(client: ServiceNowClient, table: str) -> ScannedIds:
    """Every sys_id of ``table``, one keyset page at a time."""
    scanned = ScannedIds()
    after: Optional[str] = None
    offset = 0
    while True:
        params = {
            "sysparm_query": scan_query(after),
            "sysparm_fields": PRIMARY_KEY,
            "sysparm_display_value": DISPLAY_VALUE,
            "sysparm_offset": offset,
        }
        # One page per query: the next query starts after its last sys_id.
        page = next(iter(client.list_pages(table, params=params, label=f"{table}_scan")), None)
        if page is None:
            return scanned
        scanned.pages += 1
        keys = [str(r[PRIMARY_KEY]) for r in page.records if r.get(PRIMARY_KEY)]
        scanned.ids.update(keys)
        if keys:
            after, offset = max(keys), 0
            continue
        # Row ACLs apply after sysparm_limit (KB3047115): a page can come back empty while
        # X-Total-Count still counts rows after ``after``. Step over the hidden page; the
        # scan ends only when no counted row is left beyond the offset.
        if page.total is not None and offset + client.page_size < page.total:
            offset += client.page_size
            continue
        return scanned


def vanished_rows(
    table: str, scanned: ScannedIds, skip: set[str], now: float
) -> list[dict[str, Any]]:
    """Loaded live rows whose sys_id the scan no longer listed, as ``deleted = true`` rows.

    Args:
        table: The table (its destination table has the same name).
        scanned: What the scan listed.
        skip: sys_ids this run already marked (from ``sys_audit_delete``).
        now: The run start (their ``deleted_at``).
    """
    if not has_loaded(table):
        return []
    with destination_sql(f"servicenow {table}") as client:
        if client is None:
            return []
        live = live_keys(client, table, PRIMARY_KEY)
        gone = sorted(live - scanned.ids - skip)
        if len(gone) > max(10, MAX_VANISHED_SHARE * len(live)):
            logger.warning(
                "servicenow %s: the sys_id scan misses %d of %d loaded record(s); not marking "
                "them deleted (check the user's read access to %s)",
                table,
                len(gone),
                len(live),
                table,
                extra={"resource": table},
            )
            return []
        rows = rows_by_key(client, table, PRIMARY_KEY, gone) if gone else []
    stamp = format_glide(datetime.fromtimestamp(now, tz=timezone.utc))
    for row in rows:
        row["deleted"], row["deleted_at"] = True, stamp
    if rows:
        logger.info(
            "servicenow %s: %d loaded record(s) no longer on the instance; marked deleted",
            table,
            len(rows),
            extra={"resource": table},
        )
    return rows


def scan_deletes(
    client: ServiceNowClient, table: str, skip: set[str], now: float
) -> Iterator[list[dict[str, Any]]]:
    """Runs one scan and yields the rows it marks deleted (one list, or nothing)."""
    rows = vanished_rows(table, scan_ids(client, table), skip, now)
    if rows:
        yield rows
