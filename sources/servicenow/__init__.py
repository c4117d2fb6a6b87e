"""ServiceNow source: one dlt resource per Table API table, merged on ``sys_id``.

Every run lists the records changed since the saved ``sys_updated_on`` cursor (all of
them the first time) by ``sysparm_offset`` pages in ``sys_updated_on, sys_id`` order,
following the ``Link`` header. Deletions are read from ``sys_audit_delete`` and keep
their row with ``deleted = true``. See the README section "ServiceNow connector".
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from sources.kit.deadletters import contract_for_dead_letters
from sources.kit.emit import emit_page
from sources.kit.monitor import SyncMonitor
from sources.kit.settings import ListSetting, str_list

from .client import ServiceNowClient, make_auth, make_client
from .helpers import (
    Listing,
    RunContext,
    check_display_value,
    column_hints,
    list_changes,
    list_deletes,
    make_guard,
    needs_another_pass,
    run_start_cursor,
    select_tables,
)
from .records import minus_seconds, newest, tombstone
from .settings import DEFAULT_TABLES, LOOKBACK_S, PRIMARY_KEY

logger = logging.getLogger("sluice.servicenow")

__all__ = ["DEFAULT_TABLES", "make_auth", "make_client", "servicenow_source"]


@dlt.source(name="servicenow", max_table_nesting=0, schema_contract=contract_for_dead_letters())
def servicenow_source(
    tables: ListSetting = None,
    display_value: Optional[str] = None,
    lookback_s: float = LOOKBACK_S,
    client: Optional[ServiceNowClient] = None,
    run_id: Optional[str] = None,
    monitor: Optional[SyncMonitor] = None,
    now: Optional[float] = None,
) -> Any:
    """Loads ServiceNow tables incrementally on ``sys_updated_on``, deletes included.

    Connection settings (``base_url``, ``credentials``, ``rate_limit``, timeouts and
    retries) are read from ``sources.servicenow.*`` by :func:`make_client`.

    Args:
        tables: Table names (``sources.servicenow.tables``); incident, change_request,
            sys_user and cmdb_ci when omitted.
        display_value: ``sysparm_display_value``; only ``false`` (raw values) is accepted.
        lookback_s: Seconds re-read behind the saved cursors.
        client: A prebuilt client; built from ``sources.servicenow.*`` when omitted.
        run_id: Identifier of this run (dead letters, ledger).
        monitor: Run ledger counters.
        now: Run start in unix seconds (injected in tests).

    Returns:
        One resource per table.
    """
    check_display_value(display_value)
    selected = select_tables(str_list(tables, "sources.servicenow.tables"))
    run_id = run_id or uuid.uuid4().hex
    run = RunContext(
        client=client or make_client(),
        run_id=run_id,
        monitor=monitor or SyncMonitor("servicenow", run_id),
        lookback_s=lookback_s,
        now=now if now is not None else time.time(),
    )
    run.monitor.expect(selected)
    return [table_resource(table, run) for table in selected]


def table_resource(table: str, run: RunContext) -> DltResource:
    """The dlt resource of one table."""
    return dlt.resource(
        table_rows(table, run),
        name=table,
        write_disposition="merge",
        primary_key=PRIMARY_KEY,
        columns=column_hints(),
        parallelized=True,
    )


def table_rows(table: str, run: RunContext) -> Iterator[Any]:
    """Changed records since the cursor, then the deletions since the deletion cursor."""
    state = dlt.current.resource_state(table)
    guard = make_guard(table, run.run_id)
    cursor: Optional[str] = state.get("cursor")
    run.monitor.cursor(table, before=cursor)
    listing = Listing()
    passes = 0
    while True:
        passes += 1
        for fresh in list_changes(run.client, table, cursor, listing):
            run.monitor.set_total(table, listing.total)
            updated = sum(1 for r in fresh if cursor and is_update(r, cursor))
            yield from emit_page(guard, fresh, run.monitor, table, updated=updated)
        if not needs_another_pass(listing, passes):
            break
        logger.info("servicenow %s: records shifted while paging; listing again", table)
    deletes_since = state.get("deletes_cursor") or run_start_cursor(run.now, run.lookback_s)
    deletes = DeleteScan()
    yield from load_deletes(table, run, guard, deletes_since, deletes)
    deletes_newest = deletes.newest
    high = newest(cursor, listing.newest)
    if high is not None:
        state["cursor"] = minus_seconds(high, run.lookback_s)
    if deletes_newest is not None:
        state["deletes_cursor"] = minus_seconds(deletes_newest, run.lookback_s)
    elif "deletes_cursor" not in state:
        state["deletes_cursor"] = deletes_since
    run.monitor.cursor(table, after=state.get("cursor"))


@dataclass
class DeleteScan:
    """The newest ``sys_audit_delete`` time seen by one scan."""

    newest: Optional[str] = None


def load_deletes(
    table: str, run: RunContext, guard: Any, since: str, scan: DeleteScan
) -> Iterator[Any]:
    """Yields a ``deleted = true`` row per ``sys_audit_delete`` entry since ``since``."""
    for page in list_deletes(run.client, table, since):
        audits = [a for a in page.records if isinstance(a, dict)]
        for audit in audits:
            scan.newest = newest(scan.newest, audit.get("sys_created_on"))
        rows = [tombstone(audit, table) for audit in audits]
        if rows:
            yield from emit_page(guard, rows, run.monitor, table, deleted=len(rows), pages=1)


def is_update(record: Any, cursor: str) -> bool:
    """A change of a record created before the cursor (not a create)."""
    created = record.get("sys_created_on") if isinstance(record, dict) else None
    return isinstance(created, str) and created < cursor
