"""ServiceNow source: one dlt resource per Table API table, merged on ``sys_id``.

Every run lists the records changed since the saved ``sys_updated_on`` cursor (all of
them the first time) in ``sys_updated_on, sys_id`` order, each page asking for the
records after the last one read (keyset paging, not offsets). Deletions are read from
``sys_audit_delete`` and the ``sys_audit`` DELETED entries (the table's classes included)
and, every ``full_scan_interval_hours``, from a scan of every sys_id; both keep the row
with ``deleted = true``. A rate-limit wait longer than ``max_wait_s`` stops the table with
what loaded kept. See the README section "ServiceNow connector".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from sources.kit.connector import (
    ResourceSpec,
    columnar_step,
    make_guard,
    make_resource,
    select_names,
    start_run,
)
from sources.kit.deadletters import RecordGuard, contract_for_dead_letters
from sources.kit.emit import emit_page
from sources.kit.first_sync import parse_start
from sources.kit.monitor import SyncMonitor
from sources.kit.settings import ListSetting, str_list

from .client import ServiceNowClient, make_auth, make_client
from .deletes import AuditScan, audit_tombstones, logged_tombstones
from .fullscan import DEFAULT_INTERVAL_HOURS, LAST_SCAN, ScanSchedule, scan_deletes
from .helpers import (
    Listing,
    RunContext,
    check_display_value,
    list_changes,
    report_hidden,
    run_start_cursor,
)
from .records import format_glide, minus_seconds, newest
from .runstop import RateStop
from .settings import DEFAULT_TABLES, LOOKBACK_S
from .spec import SPEC, check_table_name, table_spec

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
    full_scan_interval_hours: float = DEFAULT_INTERVAL_HOURS,
    start_date: Optional[str] = None,
    columnar: bool = True,
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
        full_scan_interval_hours: Hours between scans of every sys_id, which find the
            deletes ``sys_audit_delete`` does not record (0: every run).
        start_date: First sync only: list the records whose ``sys_updated_on`` is at or
            after this ISO 8601 date (tables with a saved cursor go on from it).
        columnar: End each resource in the kit's columnar step (Arrow tables,
            ``sources.servicenow.columnar``); ``false`` sends every record through dlt's
            own normalizer (same tables, slower).

    Returns:
        One resource per table.
    """
    check_display_value(display_value)
    selected = select_names(SPEC, str_list(tables, SPEC.resources_setting), check_table_name)
    start = parse_start(start_date, f"{SPEC.section}.start_date")
    first_since = format_glide(start) if start else None
    client = client or make_client()
    # The kit's run: ledger expectations, request counts, _sync_runs rows for any runner.
    started = start_run(SPEC, client, selected, run_id=run_id, monitor=monitor)
    run = RunContext(
        started.run_id,
        started.monitor,
        client=client,
        lookback_s=lookback_s,
        now=now if now is not None else time.time(),
    )
    schedule = ScanSchedule(full_scan_interval_hours)
    columnar = SPEC.columnar and columnar
    return [table_resource(table, run, schedule, first_since, columnar) for table in selected]


def table_resource(
    table: str,
    run: RunContext,
    schedule: Optional[ScanSchedule] = None,
    first_since: Optional[str] = None,
    columnar: bool = False,
) -> DltResource:
    """The dlt resource of one table (``first_since``: glide bound of a first sync)."""
    resource = table_spec(table)
    guard = make_guard(SPEC, resource, run.run_id)
    # Not deduplicated by sys_id: a record changed during the run and its deletion come
    # later in the run than the copy first read, and the step keeps first copies only.
    step = columnar_step(table, guard, run.monitor, resource.columns) if columnar else None
    rows = table_rows(resource, run, guard, schedule or ScanSchedule(), first_since, columnar)
    return make_resource(resource, rows, step=step)


def table_rows(
    resource: ResourceSpec,
    run: RunContext,
    guard: RecordGuard,
    schedule: ScanSchedule,
    first_since: Optional[str] = None,
    columnar: bool = False,
) -> Iterator[Any]:
    """Changed records since the cursor, the audited deletions, then a due sys_id scan
    (as record pages for the columnar step when ``columnar``)."""
    table = resource.name
    state = dlt.current.resource_state(table)
    cursor: Optional[str] = state.get("cursor")
    run.monitor.cursor(table, before=cursor)
    listing = Listing()
    stop = RateStop(table)
    since = cursor or first_since
    for page in stop.pages(list_changes(run.client, table, since, listing)):
        run.monitor.set_total(table, listing.total)
        updated = sum(1 for r in page if cursor and is_update(r, cursor))
        yield from emit_page(guard, page, run.monitor, table, updated=updated, as_pages=columnar)
    if not stop.stopped:
        report_hidden(table, listing)
    deletes_since = state.get("deletes_cursor") or run_start_cursor(run.now, run.lookback_s)
    deletes = AuditScan()
    yield from load_deletes(table, run, guard, deletes_since, deletes, stop, columnar)
    yield from load_vanished(table, run, guard, state, deletes, stop, schedule, columnar)
    # An interrupted audit read may have skipped a class chunk: keep its cursor then.
    deletes_newest = None if stop.stopped else deletes.newest
    high = newest(cursor, listing.newest)
    if high is not None:
        state["cursor"] = minus_seconds(high, run.lookback_s)
    if deletes_newest is not None:
        state["deletes_cursor"] = minus_seconds(deletes_newest, run.lookback_s)
    elif "deletes_cursor" not in state:
        state["deletes_cursor"] = deletes_since
    if stop.error is not None:
        run.monitor.resource_failed(table, stop.error)
    run.monitor.cursor(table, after=state.get("cursor"))


def load_deletes(
    table: str,
    run: RunContext,
    guard: Any,
    since: str,
    scan: AuditScan,
    stop: RateStop,
    columnar: bool = False,
) -> Iterator[Any]:
    """Yields ``deleted = true`` rows for the ``sys_audit_delete`` entries since ``since``,
    then for the ``sys_audit`` DELETED entries of records that had none."""
    pages = audit_tombstones(run.client, table, since, scan, run.run_id)
    for rows in stop.pages(pages):
        yield from emit_page(
            guard, rows, run.monitor, table, deleted=len(rows), pages=1, as_pages=columnar
        )
    for rows in stop.pages(logged_tombstones(run.client, table, since, scan, run.run_id)):
        yield from emit_page(
            guard, rows, run.monitor, table, deleted=len(rows), pages=0, as_pages=columnar
        )


def load_vanished(
    table: str,
    run: RunContext,
    guard: Any,
    state: Any,
    audit: AuditScan,
    stop: RateStop,
    schedule: ScanSchedule,
    columnar: bool = False,
) -> Iterator[Any]:
    """When due, the sys_id scan's ``deleted = true`` rows; then the scan time is saved."""
    if stop.stopped or not schedule.due(state.get(LAST_SCAN), run.now):
        return
    for rows in stop.pages(scan_deletes(run.client, table, audit.keys, run.now)):
        yield from emit_page(
            guard, rows, run.monitor, table, deleted=len(rows), pages=0, as_pages=columnar
        )
    if not stop.stopped:
        state[LAST_SCAN] = run.now


def is_update(record: Any, cursor: str) -> bool:
    """A change of a record created before the cursor (not a create)."""
    created = record.get("sys_created_on") if isinstance(record, dict) else None
    return isinstance(created, str) and created < cursor
