"""Stripe webhooks: the receiver's Stripe wiring, the drain into the ``stripe`` dataset and
reconciliation against ``/v1/events``.

Webhooks bring changes within seconds; the events poll brings the ones a receiver
missed (downtime, a delivery Stripe gave up on). Both land in the same inbox, deduplicated
by event id, and one drain turns the inbox into rows of the poller's own tables:

* each event's ``data.object`` becomes a row of the table of its object type
  (``customer`` -> ``customers``), shaped exactly as the poller shapes event snapshots
  (a delete keeps the row with ``deleted = true``);
* per object only the newest event wins, by event ``created`` (ties by event id), both
  within one drain and across drains: the inbox remembers the newest event applied per
  object, so a late delivery of an older event never overwrites newer state;
* events are marked done only after ``pipeline.run`` returned; a crash before that
  leaves them pending and the next drain merges the same rows again (merge on ``id``).

Every drained event is also listed in ``webhook_events`` (id, type, created, object,
how it arrived), so a load can be audited against what Stripe sent.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource
from starlette.applications import Starlette

from sources.kit.deadletters import contract_for_dead_letters
from sources.kit.destinations import loader_options
from sources.kit.webhooks.inbox import AppliedVersion, Inbox, InboxEvent
from sources.kit.webhooks.receiver import (
    DEFAULT_MAX_BODY_BYTES,
    EventIdentity,
    Verifier,
    create_receiver_app,
)
from sources.kit.webhooks.signatures import (
    DEFAULT_TOLERANCE_S,
    require_header,
    verify_stripe_signature,
)

from . import column_hints, make_guard
from .client import StripeClient
from .helpers import shape_snapshot
from .settings import (
    EVENT_OVERLAP_S,
    EVENT_RETENTION_MARGIN_S,
    EVENT_RETENTION_S,
    RESOURCES_BY_NAME,
    RESOURCES_BY_OBJECT,
    StripeResource,
)

logger = logging.getLogger("sluice.stripe.webhooks")

SIGNATURE_HEADER = "Stripe-Signature"
WEBHOOK_PATH = "/webhooks/stripe"
"""Route the receiver serves Stripe deliveries on."""

DRAIN_BATCH = 5000
"""Events loaded per ``pipeline.run`` of a drain."""

RECONCILE_CURSOR = "stripe_events_reconcile"
"""Name of the inbox cursor reconciliation resumes from."""

AUDIT_TABLE = "webhook_events"
"""One row per drained event: what Stripe sent and how it arrived."""

AUDIT_COLUMNS: dict[str, TColumnSchema] = {
    "id": {"data_type": "text", "nullable": False},
    "type": {"data_type": "text"},
    "created": {"data_type": "timestamp"},
    "received_at": {"data_type": "timestamp"},
    "arrived_via": {"data_type": "text"},
    "object_type": {"data_type": "text", "nullable": True},
    "object_id": {"data_type": "text", "nullable": True},
}


# --- receiving ---------------------------------------------------------------------------


def identify_stripe_event(event: Any) -> EventIdentity:
    """Reads id, created and type from a decoded Stripe event.

    Raises:
        ValueError: The body is not an event with a string id, integer created and type.
    """
    if not isinstance(event, Mapping):
        raise ValueError("event is not a JSON object")
    event_id, created, event_type = event.get("id"), event.get("created"), event.get("type")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("event has no id")
    if not isinstance(created, int) or isinstance(created, bool):
        raise ValueError("event has no integer created")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("event has no type")
    return EventIdentity(event_id, created, event_type)


def stripe_verifier(
    secrets: Sequence[str],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    clock: Callable[[], float] = time.time,
) -> Verifier:
    """A receiver verifier checking ``Stripe-Signature`` against any of ``secrets``.

    Args:
        secrets: Accepted signing secrets (the current one and, while rolling, the old).
        tolerance_s: Largest accepted timestamp distance from now.
        clock: Wall clock (injected in tests).
    """
    accepted = tuple(s for s in secrets if s)

    def verify(body: bytes, headers: Mapping[str, str]) -> None:
        header = require_header(headers, SIGNATURE_HEADER)
        verify_stripe_signature(body, header, accepted, tolerance_s=tolerance_s, now=clock())

    return verify


def create_stripe_receiver(
    inbox: Inbox,
    secrets: Sequence[str],
    *,
    path: str = WEBHOOK_PATH,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The ASGI app receiving Stripe webhooks into ``inbox``.

    Args:
        inbox: The durable inbox.
        secrets: Accepted signing secrets (``whsec_...``).
        path: Route of the webhook endpoint.
        max_body_bytes: Larger bodies get 413.
        tolerance_s: Signature timestamp tolerance.
        clock: Wall clock (injected in tests).
    """
    return create_receiver_app(
        inbox=inbox,
        verifier=stripe_verifier(secrets, tolerance_s=tolerance_s, clock=clock),
        identify=identify_stripe_event,
        path=path,
        max_body_bytes=max_body_bytes,
        clock=clock,
    )


# --- planning a drain --------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedChange:
    """One inbox event with the object snapshot it carries.

    Attributes:
        event: The stored event.
        spec: The resource of the object's type, or None when sluice loads no such table.
        snapshot: ``data.object``, or None when the event carries no object with an id.
    """

    event: InboxEvent
    spec: Optional[StripeResource]
    snapshot: Optional[dict[str, Any]]

    @property
    def key(self) -> Optional[tuple[str, str]]:
        """``(object_type, object_id)`` of the snapshot, if it has one."""
        if self.snapshot is None:
            return None
        return (str(self.snapshot["object"]), str(self.snapshot["id"]))

    @property
    def order_key(self) -> tuple[int, str]:
        """Newer events compare greater: event ``created``, then event id."""
        return (self.event.created, self.event.event_id)


@dataclass
class DrainPlan:
    """What one drain batch loads and records.

    Attributes:
        event_ids: Every event of the batch; all are marked done after the load.
        rows: Newest row per changed object, by table.
        versions: The event applied per object, recorded with ``mark_done``.
        audit: One ``webhook_events`` row per event.
        stale: Events skipped because a newer one of the same object won.
        unroutable: Events whose object has no table (or no id).
    """

    event_ids: list[str] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    versions: list[AppliedVersion] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    stale: int = 0
    unroutable: int = 0

    @property
    def objects(self) -> int:
        """Rows this batch writes to object tables."""
        return sum(len(rows) for rows in self.rows.values())


def read_change(event: InboxEvent) -> ReceivedChange:
    """Decodes an inbox event and finds the table of the object it carries."""
    try:
        body = json.loads(event.payload)
    except ValueError:
        logger.warning("stripe webhook %s: stored body is not JSON; skipped", event.event_id)
        return ReceivedChange(event, None, None)
    data = body.get("data") if isinstance(body, Mapping) else None
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping) or not obj.get("id") or not obj.get("object"):
        return ReceivedChange(event, None, None)
    spec = RESOURCES_BY_OBJECT.get(str(obj["object"]))
    if spec is None or not spec.mutable:
        return ReceivedChange(event, None, dict(obj))
    return ReceivedChange(event, spec, dict(obj))


def newest_per_object(changes: Sequence[ReceivedChange]) -> dict[tuple[str, str], ReceivedChange]:
    """The newest loadable change of each object (by event created, then event id)."""
    newest: dict[tuple[str, str], ReceivedChange] = {}
    for change in changes:
        key = change.key
        if change.spec is None or key is None:
            continue
        known = newest.get(key)
        if known is None or change.order_key > known.order_key:
            newest[key] = change
    return newest


def plan_drain(
    changes: Sequence[ReceivedChange],
    applied: Mapping[tuple[str, str], AppliedVersion],
) -> DrainPlan:
    """Chooses the rows one drain batch loads.

    Args:
        changes: The batch's events, decoded.
        applied: Newest event already applied per object (from earlier drains).

    Returns:
        The plan: newest row per object unless an earlier drain applied a newer event.
    """
    plan = DrainPlan(event_ids=[c.event.event_id for c in changes])
    plan.audit = [audit_row(c) for c in changes]
    plan.unroutable = sum(1 for c in changes if c.spec is None or c.key is None)
    winners = newest_per_object(changes)
    for key, change in winners.items():
        before = applied.get(key)
        if before is not None and change.order_key <= before.order_key:
            continue
        if change.spec is None or change.snapshot is None:
            continue
        row = shape_snapshot(change.snapshot, change.event.created)
        plan.rows.setdefault(change.spec.name, []).append(row)
        plan.versions.append(AppliedVersion(key[0], key[1], *change.order_key))
    plan.stale = len(changes) - plan.unroutable - len(plan.versions)
    return plan


def audit_row(change: ReceivedChange) -> dict[str, Any]:
    """The ``webhook_events`` row of one event."""
    key = change.key
    return {
        "id": change.event.event_id,
        "type": change.event.type,
        "created": change.event.created,
        "received_at": change.event.received_at,
        "arrived_via": change.event.source,
        "object_type": key[0] if key else None,
        "object_id": key[1] if key else None,
    }


def plan_from_inbox(inbox: Inbox, limit: int = DRAIN_BATCH) -> DrainPlan:
    """Reads up to ``limit`` pending events and plans their load."""
    changes = [read_change(event) for event in inbox.pending(limit)]
    keys = {c.key for c in changes if c.key is not None and c.spec is not None}
    return plan_drain(changes, inbox.applied_versions(sorted(keys)))


# --- the dlt source ----------------------------------------------------------------------


@dlt.source(name="stripe", max_table_nesting=1, schema_contract=contract_for_dead_letters())
def stripe_webhook_source(
    inbox: Inbox,
    plan: Optional[DrainPlan] = None,
    limit: int = DRAIN_BATCH,
    run_id: Optional[str] = None,
) -> Any:
    """The drain's dlt source: one merge resource per changed table, plus the audit table.

    Shares the ``stripe`` schema with :func:`sources.stripe.stripe_source`: same table
    names, columns, primary key and schema contract, so rows merge with polled ones.

    Args:
        inbox: The webhook inbox.
        plan: A prepared plan (the drain passes the one it will mark done); read from
            ``inbox`` when omitted.
        limit: Events planned when ``plan`` is omitted.
        run_id: Identifier of this drain, written with dead letters.

    Returns:
        The resources.
    """
    plan = plan if plan is not None else plan_from_inbox(inbox, limit)
    run = run_id or uuid.uuid4().hex
    resources = [
        changed_objects(RESOURCES_BY_NAME[table], rows, run)
        for table, rows in sorted(plan.rows.items())
    ]
    resources.append(received_events(plan.audit))
    return resources


def changed_objects(spec: StripeResource, rows: list[dict[str, Any]], run_id: str) -> DltResource:
    """Merge resource writing the newest rows of one table, as the poller declares it."""

    def objects() -> Iterator[Any]:
        yield from make_guard(spec, run_id, "merge").batches(rows)

    return dlt.resource(
        objects,
        name=spec.name,
        write_disposition="merge",
        primary_key="id",
        columns=column_hints(spec),
    )


def received_events(audit: list[dict[str, Any]]) -> DltResource:
    """Merge resource listing every drained event in ``webhook_events``."""
    return dlt.resource(
        audit,
        name=AUDIT_TABLE,
        write_disposition="merge",
        primary_key="id",
        columns=AUDIT_COLUMNS,
    )


# --- draining ----------------------------------------------------------------------------


@dataclass
class DrainReport:
    """What a drain did, summed over its batches."""

    events: int = 0
    rows: int = 0
    stale: int = 0
    unroutable: int = 0
    batches: int = 0
    tables: dict[str, int] = field(default_factory=dict)

    def add(self, plan: DrainPlan) -> None:
        """Adds one loaded batch."""
        self.batches += 1
        self.events += len(plan.event_ids)
        self.rows += plan.objects
        self.stale += plan.stale
        self.unroutable += plan.unroutable
        for table, rows in plan.rows.items():
            self.tables[table] = self.tables.get(table, 0) + len(rows)


def drain(
    inbox: Inbox,
    pipeline: dlt.Pipeline,
    *,
    batch_size: int = DRAIN_BATCH,
    run_id: Optional[str] = None,
) -> DrainReport:
    """Loads every pending inbox event into the pipeline's dataset and marks it done.

    Events are marked done only after ``pipeline.run`` returned, together with the
    newest event applied per object; a crash in between re-loads the same rows on the
    next drain (merged on ``id``, so nothing doubles).

    Args:
        inbox: The webhook inbox.
        pipeline: A pipeline on the ``stripe`` dataset (``pipeline_name="stripe"``).
        batch_size: Events per load.
        run_id: Identifier of this drain.

    Returns:
        Counts of events, rows, stale and unroutable events.
    """
    report = DrainReport()
    run = run_id or uuid.uuid4().hex
    while True:
        plan = plan_from_inbox(inbox, batch_size)
        if not plan.event_ids:
            break
        pipeline.run(
            stripe_webhook_source(inbox, plan=plan, run_id=run),
            **loader_options(pipeline),
        )
        inbox.mark_done(plan.event_ids, plan.versions)
        report.add(plan)
        logger.info(
            "stripe webhooks: drained %d event(s) into %d row(s); %d stale, %d without a table",
            len(plan.event_ids),
            plan.objects,
            plan.stale,
            plan.unroutable,
        )
    return report


# --- reconciling -------------------------------------------------------------------------


def reconcile(
    inbox: Inbox,
    client: StripeClient,
    *,
    since: Optional[int] = None,
    clock: Callable[[], float] = time.time,
    overlap_s: int = EVENT_OVERLAP_S,
) -> int:
    """Stores the events the receiver missed, read from ``/v1/events``.

    Lists events created at or after the saved reconcile cursor (on the first run, every
    event Stripe still keeps), stores those the inbox lacks, then saves the cursor as the
    scan's start less ``overlap_s`` (events become listable with a small delay).

    Args:
        inbox: The webhook inbox.
        client: Stripe client.
        since: Start here instead of the saved cursor (unix seconds).
        clock: Wall clock (injected in tests).
        overlap_s: How far behind the scan start the next one begins.

    Returns:
        How many events were missing from the inbox (now stored, pending a drain).
    """
    started = clock()
    cursor = since if since is not None else inbox.get_cursor(RECONCILE_CURSOR)
    if cursor is None:
        cursor = int(started) - EVENT_RETENTION_S + EVENT_RETENTION_MARGIN_S
    missing = 0
    seen = 0
    params = {"created[gte]": int(cursor)}
    for page in client.list_pages("/v1/events", label="reconcile", params=params):
        events = [listed_event(event, clock()) for event in page]
        seen += len(events)
        missing += sum(inbox.put_many(events))
    next_cursor = max(int(cursor), int(started) - overlap_s)
    inbox.set_cursor(RECONCILE_CURSOR, next_cursor)
    logger.info(
        "stripe webhooks: reconciled %d listed event(s); %d were missing from the inbox",
        seen,
        missing,
    )
    return missing


def listed_event(event: Mapping[str, Any], received_at: float) -> InboxEvent:
    """An event from ``/v1/events`` as the inbox stores it (``source = reconcile``)."""
    identity = identify_stripe_event(event)
    payload = json.dumps(event, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return InboxEvent(
        identity.event_id,
        identity.created,
        identity.type,
        payload,
        received_at,
        source="reconcile",
    )
