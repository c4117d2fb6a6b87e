"""Salesforce source: one dlt resource per sObject, merged on ``Id``.

Columns are typed from each object's describe. The first run queries every record;
later runs query what changed since the saved ``SystemModstamp`` (less a lookback)
and, for objects with a recycle bin, read deletions with ``queryAll``
(``IsDeleted = true``): a deleted record keeps its row with ``deleted = true``.
Deletes purged from the recycle bin are found through the delete log and full re-lists
of ids (``deletes.py``); formula fields are re-read periodically (``formulas.py``); a
query whose locator dies is re-issued from the last loaded record (``locators.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from sources.kit.connector import columnar_step, make_guard, make_resource, start_run
from sources.kit.deadletters import RecordGuard, contract_for_dead_letters
from sources.kit.emit import emit_page
from sources.kit.first_sync import parse_start
from sources.kit.monitor import SyncMonitor
from sources.kit.settings import ListSetting, str_list

from .client import SalesforceClient, make_client
from .deletes import RECONCILED_AT, deletes_since
from .formulas import REFRESHED_AT, check_mode, formula_refresh, loaded_spec
from .helpers import (
    PRIMARY_KEY,
    ObjectSpec,
    RunContext,
    changed_pages,
    column_hints,
    is_new,
    newest_cursor,
    object_spec,
    query_start,
    select_objects,
    shape_row,
)
from .settings import (
    DEFAULT_BULK_THRESHOLD,
    DEFAULT_FORMULA_FIELDS,
    DEFAULT_FORMULA_REFRESH_HOURS,
    DEFAULT_OBJECTS,
    DEFAULT_RECONCILE_HOURS,
    LOOKBACK_S,
)
from .spec import SPEC
from .types import DecimalFitValidator

logger = logging.getLogger("sluice.salesforce")

__all__ = ["DEFAULT_OBJECTS", "make_client", "salesforce_source"]


@dlt.source(name="salesforce", max_table_nesting=0, schema_contract=contract_for_dead_letters())
def salesforce_source(
    objects: ListSetting = None,
    lookback_s: int = LOOKBACK_S,
    bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
    formula_fields: str = DEFAULT_FORMULA_FIELDS,
    formula_refresh_interval_hours: float = DEFAULT_FORMULA_REFRESH_HOURS,
    reconcile_interval_hours: float = DEFAULT_RECONCILE_HOURS,
    client: Optional[SalesforceClient] = None,
    run_id: Optional[str] = None,
    monitor: Optional[SyncMonitor] = None,
    start_date: Optional[str] = None,
    columnar: bool = True,
) -> Any:
    """Loads Salesforce sObjects incrementally on ``SystemModstamp``, deletes included.

    Connection settings (``credentials``, ``max_api_usage_share``, ``rate_limit``,
    timeouts and retries) are read from ``sources.salesforce.*`` by :func:`make_client`.

    Args:
        objects: sObject API names (``sources.salesforce.objects``); Account, Contact,
            Lead, Opportunity and User when omitted.
        lookback_s: Seconds each incremental query re-reads before the saved cursor.
        bulk_threshold: Above this many matching records an object is read with a
            Bulk API 2.0 query job instead of REST pages (0: never; one ``COUNT()``
            request per object decides).
        formula_fields: ``refresh`` (re-read formula fields every
            ``formula_refresh_interval_hours``), ``exclude`` (leave them out) or
            ``incremental`` (values as of each record's last change).
        formula_refresh_interval_hours: Hours between two formula re-reads (0: every run).
        reconcile_interval_hours: Hours between two full re-lists of ids that mark
            deletes no API reported (0: every run; negative: only when the delete log
            says deletes were lost).
        client: A prebuilt client (the pipeline passes one for its request figures).
        run_id: Identifier of this run, written with dead letters and the ledger.
        monitor: Run ledger counters the resources report to.
        start_date: First sync only: read the records whose ``SystemModstamp`` is at or
            after this ISO 8601 date (objects with a saved cursor go on from it).
        columnar: End each resource in the kit's columnar step (Arrow tables typed by
            describe, ``sources.salesforce.columnar``); ``false`` sends every record
            through dlt's own normalizer (same tables, slower).

    Returns:
        One resource per object, named after it in lower case (``account``).
    """
    names = select_objects(str_list(objects, SPEC.resources_setting))
    start = parse_start(start_date, "sources.salesforce.start_date")
    client = client or make_client()
    mode = check_mode(formula_fields)
    specs = [
        loaded_spec(object_spec(client.describe(name, label=name.lower())), mode) for name in names
    ]
    ledger = start_run(SPEC, client, [s.resource for s in specs], run_id=run_id, monitor=monitor)
    run = RunContext(
        ledger.run_id,
        ledger.monitor,
        client=client,
        lookback_s=lookback_s,
        bulk_threshold=bulk_threshold,
        formula_fields=mode,
        formula_refresh_hours=formula_refresh_interval_hours,
        reconcile_hours=reconcile_interval_hours,
    )
    return [object_resource(spec, run, start, SPEC.columnar and columnar) for spec in specs]


def object_resource(
    spec: ObjectSpec, run: RunContext, start: Optional[datetime], columnar: bool
) -> DltResource:
    """The dlt resource of one described object (columnar: Arrow tables as last step)."""
    guard = make_guard(
        SPEC,
        spec.declaration(),
        run.run_id,
        columns=column_hints(spec),
        validator_type=DecimalFitValidator,
        decimals=spec.decimals,
    )
    # Not deduplicated by Id: a formula refresh or a deletion later in the run is a
    # newer copy of a record already emitted, and the step keeps first copies only.
    step = (
        columnar_step(spec.resource, guard, run.monitor, column_hints(spec)) if columnar else None
    )
    return make_resource(
        spec.declaration(),
        object_records(spec, run, guard, start, columnar),
        columns=column_hints(spec),
        step=step,
    )


def object_records(
    spec: ObjectSpec,
    run: RunContext,
    guard: RecordGuard,
    start: Optional[datetime] = None,
    columnar: bool = False,
) -> Iterator[Any]:
    """Every record (changed since ``start``) on the first run; changes and deletions
    since the cursor after (as record pages for the columnar step when ``columnar``)."""
    state = dlt.current.resource_state(spec.resource)
    cursor: Optional[str] = state.get("modstamp_cursor")
    run.monitor.cursor(spec.resource, before=cursor)
    since = query_start(cursor, run.lookback_s)
    started = run.now().isoformat()
    emitted: set[str] = set()
    # A first sync bounded by ``start`` is still a full load: no deletes, no refresh.
    bound = since if since is not None else start
    for page in changed_pages(spec, run, bound):
        rows = [shape_row(record, deleted=False) for record in page]
        emitted.update(str(r.get(PRIMARY_KEY)) for r in rows)
        updated = sum(1 for r in rows if since is not None and not is_new(r, since))
        yield from emit_page(
            guard, rows, run.monitor, spec.resource, updated=updated, as_pages=columnar
        )
        cursor = newest_cursor(cursor, rows)
    if since is None:  # a full load: nothing deleted is loaded, formulas are fresh
        state[RECONCILED_AT] = state[REFRESHED_AT] = started
    else:
        for rows in deletes_since(spec, run, state, since, emitted):
            yield from emit_page(
                guard, rows, run.monitor, spec.resource, deleted=len(rows), as_pages=columnar
            )
            cursor = newest_cursor(cursor, rows)
        for rows in formula_refresh(spec, run, state, emitted):
            yield from emit_page(
                guard, rows, run.monitor, spec.resource, updated=len(rows), as_pages=columnar
            )
    if cursor is not None:
        state["modstamp_cursor"] = cursor
    run.monitor.cursor(spec.resource, after=cursor)
