"""Stripe source: one dlt resource per Stripe object type, merged on ``id``.

The first run lists every object (newest first, by ``created``). Later runs read the
changes from ``/v1/events``: creates, updates and deletes of mutable objects, newest
snapshot per object wins, deletes keep their row with ``deleted = true``. Immutable
objects (balance transactions, events) are appended by their ``created`` cursor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Optional, cast

import dlt
import pendulum
from dlt.common.schema.typing import TWriteDispositionConfig
from dlt.extract.resource import DltResource

from sources.kit.backfill import StreamGovernor
from sources.kit.columnar import ArrowPages, ColumnarStep, add_columnar_step
from sources.kit.connector import ConnectorRun, select_names, start_run
from sources.kit.connector import columnar_step as kit_columnar_step
from sources.kit.connector import make_resource as kit_make_resource
from sources.kit.deadletters import RecordGuard, contract_for_dead_letters
from sources.kit.emit import emit_page, gather_pages
from sources.kit.errors import ConfigurationError
from sources.kit.monitor import SyncMonitor
from sources.kit.settings import ListSetting, str_list

from .client import StripeClient, make_client
from .helpers import (
    ChangeFeed,
    Listing,
    events_cursor_expired,
    iter_change_rows,
    make_guard,
    parse_start_date,
    shape_live_object,
    stream_cap,
)
from .relist import ListedIds, sweep_unlisted
from .settings import BACKFILL_WORKERS, COLUMNAR_BATCH, RESOURCES_BY_NAME, StripeResource
from .spec import IMMUTABLE_CURSOR, SPEC, column_hints
from .sublists import split_sub_lists

logger = logging.getLogger("sluice.stripe")

__all__ = ["stripe_source", "make_client", "column_hints", "RESOURCE_NAMES"]

RESOURCE_NAMES: tuple[str, ...] = tuple(SPEC.resource_names())

DEDUPLICATED_MERGE: TWriteDispositionConfig = {
    "disposition": "merge",
    "strategy": "delete-insert",
    "deduplicated": True,
}
"""Merge on ``id``; the columnar step passes each id once per run, so the destination
skips its dedup pass over the staging table (faster, far less memory)."""


@dlt.source(name="stripe", max_table_nesting=1, schema_contract=contract_for_dead_letters())
def stripe_source(
    resources: ListSetting = None,
    start_date: Optional[str] = None,
    backfill_workers: int = BACKFILL_WORKERS,
    client: Optional[StripeClient] = None,
    run_id: Optional[str] = None,
    monitor: Optional[SyncMonitor] = None,
    clock: Optional[Callable[[], float]] = None,
    columnar: bool = True,
    table_format: Optional[str] = None,
) -> Any:
    """Loads Stripe objects, catching later changes from the events feed.

    Connection settings (``api_key``, ``base_url``, ``stripe_account``,
    ``stripe_version``, ``rate_limit``, timeouts and retries) are read from
    ``sources.stripe.*`` by :func:`make_client`.

    Args:
        resources: Resource names to load (``sources.stripe.resources``); all when omitted.
        start_date: Only objects created at or after this date (ISO 8601).
        backfill_workers: Requests in flight per resource while listing in full.
        client: A prebuilt client (the pipeline passes one to report request figures);
            built from ``sources.stripe.*`` when omitted.
        run_id: Identifier of this run, written with dead letters and the ledger.
        monitor: Run ledger counters (records, pages, cursors) the resources report to.
        clock: Wall clock in unix seconds (injected in tests).
        columnar: Hand dlt Arrow tables for every resource and child table
            (``sources.stripe.columnar``); ``false`` sends every record through dlt's own
            normalizer (same tables, several times slower).
        table_format: ``delta`` writes Delta tables on the filesystem destination
            (``sources.stripe.table_format``); merges then use dlt's ``upsert`` strategy,
            the one Delta supports.

    Returns:
        The selected resources.
    """
    names = select_names(SPEC, str_list(resources, SPEC.resources_setting))
    selected = [RESOURCES_BY_NAME[name] for name in names]
    check_table_format(table_format)
    client = client or make_client()
    run = start_run(SPEC, client, names, run_id=run_id, monitor=monitor)
    feed = ChangeFeed(client=client, now=(clock or time.time)())
    listing = Listing(
        client=client,
        start_ts=parse_start_date(start_date),
        workers=backfill_workers,
        governor=StreamGovernor(stream_cap(client)),
    )
    return [
        make_resource(
            spec, listing=listing, feed=feed, run=run, columnar=columnar, table_format=table_format
        )
        for spec in selected
    ]


def make_resource(
    spec: StripeResource,
    *,
    listing: Listing,
    feed: ChangeFeed,
    run: ConnectorRun,
    columnar: bool = True,
    table_format: Optional[str] = None,
) -> DltResource:
    """Builds the dlt resource for one Stripe object type."""
    format_hint: Any = {"table_format": table_format} if table_format else {}
    declared = SPEC.resource(spec.name)
    if spec.mutable:
        guard = make_guard(spec, run.run_id, "merge", columnar=columnar)
        resource = kit_make_resource(
            declared,
            mutable_objects(spec, listing, feed, run, guard, columnar, table_format),
            columns=column_hints(spec),
            write_disposition=merge_disposition(columnar, table_format),
            **format_hint,
        )
        if not columnar:
            return resource
        step = columnar_step(spec, guard, run, key_hash_ids=bool(table_format))
        return add_columnar_step(resource, step)
    guard = make_guard(spec, run.run_id, "append", columnar=columnar)
    # dlt takes a generator function too (its incremental argument is bound by dlt);
    # the kit's make_resource is typed for generators only.
    rows = cast(Iterator[Any], immutable_objects(spec, listing, run, guard))
    resource = kit_make_resource(declared, rows, columns=column_hints(spec), **format_hint)
    if not columnar:
        return resource
    # Plain lists, not record pages: dlt's incremental step (before this one) reads the
    # ``created`` cursor from the dicts, so the saved cursor is the same int as without it.
    step = columnar_step(spec, guard, run, unique=False)
    return add_columnar_step(resource, step, after_incremental=True)


def check_table_format(table_format: Optional[str]) -> None:
    """Accepts the table formats sluice loads and merges (``delta``).

    Raises:
        ConfigurationError: Any other value of ``sources.stripe.table_format``.
    """
    if table_format not in (None, "", "delta"):
        raise ConfigurationError(
            f"sources.stripe.table_format {table_format!r} is not supported: use 'delta' "
            "(filesystem destination) or leave it unset"
        )


def merge_disposition(columnar: bool, table_format: Optional[str]) -> TWriteDispositionConfig:
    """Upsert for Delta tables; delete-insert elsewhere, declared deduplicated when the
    columnar step guarantees one row per id."""
    if table_format:
        return {"disposition": "merge", "strategy": "upsert"}
    return DEDUPLICATED_MERGE if columnar else "merge"


def columnar_step(
    spec: StripeResource,
    guard: RecordGuard,
    run: ConnectorRun,
    *,
    key_hash_ids: bool = False,
    unique: bool = True,
) -> ColumnarStep:
    """Turns the resource's records into Arrow tables shaped as dlt would shape them.

    Mutable resources (``unique``) send record pages, each id passed once per run, and
    their child tables' rows; immutable ones (appended) send plain lists, which dlt's
    incremental step reads first.
    """

    id_column = "id" if key_hash_ids else None

    def pages(name: str, declared: Any = None) -> ArrowPages:
        return ArrowPages(name, declared=declared, key_hash_ids=id_column)

    declared = column_hints(spec)
    if not unique:
        return kit_columnar_step(spec.name, guard, run.monitor, declared, pages=pages, lists=True)
    return kit_columnar_step(
        spec.name,
        guard,
        run.monitor,
        declared,
        unique_key="id",
        pages=pages,
        child_tables=not key_hash_ids,
    )


def mutable_objects(
    spec: StripeResource,
    listing: Listing,
    feed: ChangeFeed,
    run: ConnectorRun,
    guard: RecordGuard,
    columnar: bool = True,
    table_format: Optional[str] = None,
) -> Iterator[Any]:
    """Full listing on the first run (or after the events window lapsed), changes after.

    Embedded lists (invoice lines, subscription items) go to their child tables.
    """
    state = dlt.current.resource_state(spec.name)
    cursor: Optional[int] = state.get("events_cursor")
    run.monitor.cursor(spec.name, before=cursor)
    if cursor is not None and events_cursor_expired(cursor, feed.now):
        logger.warning(
            "stripe %s: saved events cursor %s is older than Stripe's 30-day event "
            "retention; re-listing every object so no change is skipped",
            spec.name,
            pendulum.from_timestamp(cursor).to_iso8601_string(),
        )
        cursor = None
    if cursor is None:
        # A complete listing: what it no longer returns was deleted while no events were
        # read (deletes show only as events), so its ids are kept to compare afterwards.
        listed = ListedIds() if "relist" in SPEC.resource(spec.name).deletes else None
        for batch, pages in gather_pages(listing.pages(spec, since=None), COLUMNAR_BATCH):
            if listed is not None:
                listed.add(batch)
            live = [shape_live_object(o) if isinstance(o, dict) else o for o in batch]
            yield from split_sub_lists(spec.name, live, listing.client, table_format)
            yield from emit_page(
                guard,
                live,
                run.monitor,
                spec.name,
                pages=pages,
                as_pages=columnar,
                max_batch=COLUMNAR_BATCH,
            )
        if listed is not None:
            gone = sweep_unlisted(
                spec, listed, gte=listing.lower_bound(None), seen_at=int(feed.now)
            )
            yield from emit_page(
                guard,
                gone,
                run.monitor,
                spec.name,
                deleted=len(gone),
                pages=0,
                as_pages=columnar,
                max_batch=COLUMNAR_BATCH,
            )
        state["full_sync_at"] = int(feed.now)
    else:
        changes = feed.changes_for(spec.object_type, since=cursor)
        logger.info("stripe %s: %d changed object(s) from events", spec.name, len(changes))
        run.monitor.set_total(spec.name, len(changes))
        rows = list(iter_change_rows(changes))
        yield from split_sub_lists(spec.name, rows, feed.client, table_format)
        yield from emit_page(
            guard,
            rows,
            run.monitor,
            spec.name,
            updated=sum(1 for c in changes if c.is_update),
            deleted=sum(1 for c in changes if c.is_delete),
            pages=0,
            as_pages=columnar,
            max_batch=COLUMNAR_BATCH,
        )
    state["events_cursor"] = feed.next_cursor
    run.monitor.cursor(spec.name, after=feed.next_cursor)


def immutable_objects(
    spec: StripeResource, listing: Listing, run: ConnectorRun, guard: RecordGuard
) -> Callable[..., Iterator[Any]]:
    """Appends objects created since the saved ``created`` cursor."""

    def objects(
        created: dlt.sources.incremental[int] = dlt.sources.incremental(
            IMMUTABLE_CURSOR,
            initial_value=listing.start_ts or 0,
            on_cursor_value_missing="include",
        ),
    ) -> Iterator[Any]:
        for page in listing.pages(spec, since=created.last_value or None):
            yield from emit_page(guard, page, run.monitor, spec.name)

    return objects
