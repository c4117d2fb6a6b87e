"""Shopify source: products, customers, orders, collections and inventory levels over the
Admin GraphQL API, merged on the global id (``gid://shopify/Product/1``).

Every run lists the records changed since the saved ``updated_at`` cursor (search
``updated_at:>'...'``, sortKey UPDATED_AT, with a lookback), paced by the kit's cost
limiter fed by Shopify's ``extensions.cost``. A first sync above ``bulk_threshold``
records (or with ``backfill = "bulk"``) runs a bulk operation instead and reassembles
its JSONL into the same rows. Deleted products and collections come from
``deletionEvents``, every kind's deletes from ``*/delete`` webhooks (:mod:`.webhooks`);
both keep the row with ``deleted = true``. Variants, line items, refunds and
fulfillments load as child tables replaced with their parent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from sources.kit.connector import ResourceSpec, make_guard, make_resource, select_names, start_run
from sources.kit.deadletters import contract_for_dead_letters
from sources.kit.first_sync import parse_start
from sources.kit.monitor import SyncMonitor
from sources.kit.settings import ListSetting, str_list
from sources.kit.webhooks.inbox import Inbox

from .bulk import batches, try_export
from .client import ShopifyClient, make_client
from .deletes import deletion_events
from .listing import Failed, Listed, level_rows, list_pages
from .queries import SHAPES, bulk_query
from .run import Run, check_backfill, emit, iso, minus, newest, reject, search_for, wants_bulk
from .settings import BULK_THRESHOLD, DEFAULT_RESOURCES, LOOKBACK_S, RESOURCES
from .spec import SPEC
from .webhooks import delete_tombstones

logger = logging.getLogger("sluice.shopify")

__all__ = ["DEFAULT_RESOURCES", "RESOURCES", "ShopifyClient", "make_client", "shopify_source"]


@dlt.source(name="shopify", max_table_nesting=0, schema_contract=contract_for_dead_letters())
def shopify_source(
    resources: ListSetting = None,
    lookback_s: float = LOOKBACK_S,
    backfill: str = "auto",
    bulk_threshold: int = BULK_THRESHOLD,
    bulk_fallback: bool = True,
    start_date: Optional[str] = None,
    client: Optional[ShopifyClient] = None,
    run_id: Optional[str] = None,
    monitor: Optional[SyncMonitor] = None,
    now: Optional[float] = None,
    webhook_inbox: Optional[str] = None,
) -> Any:
    """Loads a Shopify store incrementally on ``updated_at``, deletes included.

    Connection settings (``shop_url``, ``access_token``, ``api_version``, timeouts and
    retries) are read from ``sources.shopify.*`` by :func:`make_client`.

    Args:
        resources: Resource names (``sources.shopify.resources``); all five by default.
        lookback_s: Seconds re-read behind the saved cursors.
        backfill: First syncs by ``bulk`` operation, ``paged``, or ``auto`` (bulk above
            ``bulk_threshold`` records, where the API can count them).
        bulk_threshold: Records above which ``auto`` uses a bulk operation.
        bulk_fallback: Page when a bulk operation fails or is canceled (else stop).
        start_date: First sync only: records updated at or after this ISO 8601 date.
        client: A prebuilt client; built from ``sources.shopify.*`` when omitted.
        run_id: Identifier of this run (dead letters, ledger).
        monitor: Run ledger counters.
        now: Run start in unix seconds (injected in tests).
        webhook_inbox: The inbox file the webhook receiver stores into; its pending
            ``*/delete`` deliveries load as ``deleted = true`` rows.

    Returns:
        One resource per selected name.
    """
    selected = select_names(SPEC, str_list(resources, SPEC.resources_setting))
    start = parse_start(start_date, f"{SPEC.section}.start_date")
    client = client or make_client()
    started = start_run(SPEC, client, selected, run_id=run_id, monitor=monitor)
    run = Run(
        started.run_id,
        started.monitor,
        client,
        lookback_s=lookback_s,
        backfill=check_backfill(backfill),
        bulk_threshold=bulk_threshold,
        bulk_fallback=bulk_fallback,
        now=now if now is not None else time.time(),
        first_since=iso(start) if start else None,
        inbox_path=webhook_inbox,
    )
    return [shopify_resource(name, run) for name in selected]


def shopify_resource(name: str, run: Run) -> DltResource:
    """The dlt resource of one Shopify resource."""
    spec = SPEC.resource(name)
    return make_resource(spec, resource_rows(spec, run))


def listed_pages(
    spec: ResourceSpec, run: Run, cursor: Optional[str], search: Optional[str], guard: Any
) -> Iterator[tuple[Listed, int]]:
    """The resource's nodes by bulk export or by paging, with the API pages each took."""
    shape = SHAPES[spec.name]
    client = run.client
    if wants_bulk(run, shape, cursor, search, spec.name):
        query = bulk_query(shape, search)
        result = try_export(client, shape, query, spec.name, run.bulk_fallback)
        if result is not None:
            logger.info("shopify %s: bulk export of %d record(s)", spec.name, len(result.roots))
            for index, batch in enumerate(batches(result.roots)):
                yield Listed(batch, []), 1 if index == 0 else 0
            if result.malformed:
                yield Listed([], [_bad_line(line) for line in result.malformed]), 0
            return
    for listed in list_pages(
        client.graphql, shape, label=spec.name, search=search, sizers=run.sizers
    ):
        yield listed, 1


def _bad_line(line: str) -> Failed:
    return Failed({"line": line}, "malformed bulk line: not a JSON object")


def resource_rows(spec: ResourceSpec, run: Run) -> Iterator[Any]:
    """Changed records since the cursor, then the deletion events since the last run's."""
    name = spec.name
    shape = SHAPES[name]
    state = dlt.current.resource_state(name)
    guard = make_guard(SPEC, spec, run.run_id)
    cursor: Optional[str] = state.get("cursor") if shape.incremental else None
    run.monitor.cursor(name, before=cursor)
    search = search_for(shape, cursor, run.first_since)
    high = cursor
    for listed, pages in listed_pages(spec, run, cursor, search, guard):
        nodes = level_rows(listed.nodes) if shape.rows_from else listed.nodes
        high = newest(high, nodes, "updatedAt")
        yield from emit(guard, spec, run.monitor, nodes, cursor, pages=pages)
        yield from reject(guard, run.monitor, name, listed.failed)
    if shape.deletion_subject:
        yield from load_deletes(spec, run, guard, state, high)
    if run.inbox_path and "webhook" in spec.deletes:
        yield from webhook_deletes(spec, run, guard)
    if shape.incremental and high is not None:
        state["cursor"] = minus(high, run.lookback_s)
    run.monitor.cursor(name, after=state.get("cursor"))


def webhook_deletes(spec: ResourceSpec, run: Run, guard: Any) -> Iterator[Any]:
    """Tombstones of the inbox's pending ``<resource>/delete`` webhooks.

    The deliveries are marked drained once their rows are extracted.
    """
    with Inbox(str(run.inbox_path)) as inbox:
        for rows, ids in delete_tombstones(inbox, spec.name):
            if rows:
                yield from emit(guard, spec, run.monitor, rows, None, deleted=len(rows), pages=0)
            inbox.mark_done(ids)


def load_deletes(
    spec: ResourceSpec, run: Run, guard: Any, state: Any, high: Optional[str]
) -> Iterator[Any]:
    """Tombstones for the deletion events since the saved deletes cursor.

    A first run starts the deletes cursor at the newest change it listed (or now):
    objects deleted before were never listed.
    """
    shape = SHAPES[spec.name]
    since: Optional[str] = state.get("deletes_cursor")
    if since is None:
        first = high or iso(datetime.fromtimestamp(run.now, timezone.utc))
        state["deletes_cursor"] = minus(first, run.lookback_s)
        return
    latest = since
    for rows, newest_event in deletion_events(
        run.client.graphql, str(shape.deletion_subject), since, spec.name
    ):
        if rows:
            yield from emit(guard, spec, run.monitor, rows, None, deleted=len(rows), pages=0)
        if newest_event and newest_event > latest:
            latest = newest_event
    state["deletes_cursor"] = minus(latest, run.lookback_s) if latest != since else since
