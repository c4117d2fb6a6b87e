"""Stripe webhooks: the receiver's Stripe wiring, the drain into the ``stripe`` dataset and
reconciliation against ``/v1/events``.

Webhooks bring changes within seconds; the events poll brings the ones a receiver
missed (downtime, a delivery Stripe gave up on). Both land in the same inbox, deduplicated
by event id, and one drain turns the inbox into rows of the poller's own tables. Each
event's ``data.object`` stands for a row of the table of its object type
(``customer`` -> ``customers``); per object one row is written per drain, chosen by rules
that do not depend on the order events arrive in (Stripe does not deliver in order, and
several events of one object often share a ``created`` second):

* **Deletes by event type.** A ``<object>.deleted`` event carries the object as it was
  before the delete, *without* a ``deleted`` field (``../shared/stripe/README.md``,
  stripe/stripe-dotnet#1870): the row keeps those columns with ``deleted = true``.
  ``customer.subscription.deleted`` is a cancel (the subscription stays, ``canceled``).
* **Newest wins** (:func:`sources.stripe.events.newest_change`), over the batch's events
  of the object *and* the event the inbox last applied to it: the latest ``created``
  second wins; within it a delete wins, identical snapshots are no tie, and different
  snapshots are *ambiguous*: the drain then retrieves the object from the API
  (``GET /v1/<resource>/<id>``, Stripe's own advice for out-of-order events) and writes
  what Stripe answers; a deleted stub (or 404) keeps the event's columns, deleted.
* **The poller's rows are not overwritten by older events.** The poller saves, per table,
  ``events_cursor`` = its last scan's start less ``EVENT_OVERLAP_S``. An event created
  before that cursor was visible to that scan, so the poller's row is at least as new:
  the event is skipped. An event inside the overlap window may or may not have been seen:
  the object is retrieved. Later events are applied (if the poller saw an even later
  change, that event reaches the inbox too and wins when drained).
* **Done only once committed.** Before planning, the drain finishes any package an
  interrupted run of the pipeline left (its own or the poller's: dlt's ``run`` would load
  that one *instead of* the new data). Then each batch is extracted, normalized and loaded
  step by step, and its events are marked done only when dlt reports the very package
  extracted from that batch as loaded. A crash in between leaves them pending; the next
  drain merges the same rows again (merge on ``id``: nothing doubles).

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
from typing import Any, Literal, Optional

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource
from starlette.applications import Starlette

from sources.kit.deadletters import contract_for_dead_letters
from sources.kit.destinations import loader_options
from sources.kit.errors import ConfigurationError, FatalError
from sources.kit.resume import resume_guard
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
from .events import ObservedChange, change_row, is_delete_event, is_deleted_stub, newest_change
from .settings import (
    EVENT_OVERLAP_S,
    EVENT_RETENTION_MARGIN_S,
    EVENT_RETENTION_S,
    RESOURCES_BY_NAME,
    RESOURCES_BY_OBJECT,
    StripeResource,
)
from .sublists import split_sub_lists

logger = logging.getLogger("sluice.stripe.webhooks")

SIGNATURE_HEADER = "Stripe-Signature"
WEBHOOK_PATH = "/webhooks/stripe"
"""Route the receiver serves Stripe deliveries on."""

DRAIN_BATCH = 5000
"""Events loaded per batch of a drain."""

RECONCILE_CURSOR = "stripe_events_reconcile"
"""Name of the inbox cursor reconciliation resumes from."""

POLLER_SOURCE = "stripe"
"""Name of the poller's dlt source, under which its resource state (cursors) is kept."""

RETRIEVE_LABEL = "webhook_retrieve"
"""Name the drain's ``GET /v1/<resource>/<id>`` requests are counted under."""

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

Key = tuple[str, str]
"""``(object_type, object_id)``."""

Retriever = Callable[[StripeResource, str], Mapping[str, Any]]
"""Answers an object as Stripe has it now (a deleted one as the stub ``deleted: true``)."""


class ClientNeededError(ConfigurationError):
    """The drain must ask the Stripe API about an object but has no client configured."""


class DrainLoadError(FatalError):
    """dlt did not report a drain batch's package as loaded; its events stay pending."""


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
    def key(self) -> Optional[Key]:
        """``(object_type, object_id)`` of the snapshot, if it has one."""
        if self.snapshot is None:
            return None
        return (str(self.snapshot["object"]), str(self.snapshot["id"]))

    @property
    def order_key(self) -> tuple[int, str]:
        """Event ``created``, then event id (what :class:`AppliedVersion` records)."""
        return (self.event.created, self.event.event_id)

    @property
    def is_delete(self) -> bool:
        """The event deleted its object: by the event type (the snapshot has no flag)."""
        if self.snapshot is None:
            return False
        return is_delete_event(self.event.type, str(self.snapshot["object"])) or (
            is_deleted_stub(self.snapshot)
        )

    def observed(self) -> ObservedChange:
        """The change as :mod:`sources.stripe.events` compares it."""
        return ObservedChange(
            self.event.event_id, self.event.type, self.event.created, self.snapshot or {}
        )


Outcome = Literal["apply", "stale", "polled", "retrieve"]


@dataclass(frozen=True)
class Choice:
    """What the drain does with one object.

    Attributes:
        outcome: ``apply`` the winner's snapshot; ``stale``: the row already holds this
            state or a newer one; ``polled``: the poller's row is at least as new;
            ``retrieve``: the events cannot tell the newest state, ask the API.
        winner: The newest change (for ``retrieve``: the fallback whose columns a
            deleted object keeps and whose version is recorded).
    """

    outcome: Outcome
    winner: ReceivedChange


def choose(
    changes: Sequence[ReceivedChange],
    applied: Optional[AppliedVersion] = None,
    applied_change: Optional[ReceivedChange] = None,
    poller_cursor: Optional[int] = None,
) -> Choice:
    """Decides one object's row from its events, whatever order they arrived in.

    Args:
        changes: The batch's events of the object (at least one).
        applied: The event an earlier drain applied to the object's row, if any.
        applied_change: That event, decoded (its body stays in the inbox).
        poller_cursor: The poller's ``events_cursor`` of the object's table, if it ran.

    Returns:
        The outcome and the winning change.
    """
    candidates = [*changes, *([applied_change] if applied_change is not None else [])]
    by_id = {c.event.event_id: c for c in candidates}
    newest = newest_change(c.observed() for c in candidates)
    assert newest is not None  # noqa: S101 - changes is never empty
    winner = by_id[newest.change.event_id]
    if poller_cursor is not None and winner.event.created < poller_cursor:
        # The poller's scan saw every one of these events (and resolved their ties itself).
        return Choice("polled", winner)
    if newest.ambiguous:
        return Choice("retrieve", winner)
    if applied is not None:
        if (
            winner.event.event_id == applied.event_id
            or winner.event.created < applied.event_created
        ):
            return Choice("stale", winner)
        if winner.event.created == applied.event_created and not winner.is_delete:
            # Same second as the applied event: with its snapshot at hand the tie was
            # resolved above (identical, nothing new); without it, it cannot be told.
            return Choice("stale" if applied_change is not None else "retrieve", winner)
    # A delete is final: whatever the poller saw, the object is deleted now.
    in_overlap = (
        poller_cursor is not None and winner.event.created < poller_cursor + EVENT_OVERLAP_S
    )
    if in_overlap and not winner.is_delete:
        return Choice("retrieve", winner)
    return Choice("apply", winner)


@dataclass
class DrainPlan:
    """What one drain batch loads and records.

    Attributes:
        event_ids: Every event of the batch; all are marked done after the load.
        rows: Newest row per changed object, by table.
        versions: The event applied per object, recorded with ``mark_done``.
        audit: One ``webhook_events`` row per event.
        stale: Events that wrote no row: a newer event of the same object won, the row
            already held the state, or the poller's row is at least as new.
        polled: Objects skipped because the poller's row is at least as new.
        retrieved: Objects whose state was retrieved from the API.
        unroutable: Events whose object has no table (or no id).
    """

    event_ids: list[str] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    versions: list[AppliedVersion] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    stale: int = 0
    polled: int = 0
    retrieved: int = 0
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


def changes_per_object(changes: Sequence[ReceivedChange]) -> dict[Key, list[ReceivedChange]]:
    """The loadable changes of each object, in arrival order."""
    grouped: dict[Key, list[ReceivedChange]] = {}
    for change in changes:
        key = change.key
        if change.spec is not None and key is not None:
            grouped.setdefault(key, []).append(change)
    return grouped


def newest_per_object(
    changes: Sequence[ReceivedChange],
) -> dict[Key, ReceivedChange]:
    """The newest loadable change of each object, by :func:`choose`'s rule alone.

    For an ambiguous object this is the fallback change (the caller must retrieve it).
    """
    return {key: choose(group).winner for key, group in changes_per_object(changes).items()}


def plan_drain(
    changes: Sequence[ReceivedChange],
    applied: Mapping[Key, AppliedVersion],
    *,
    applied_changes: Optional[Mapping[Key, ReceivedChange]] = None,
    poller_cursors: Optional[Mapping[str, int]] = None,
    retrieve: Optional[Retriever] = None,
) -> DrainPlan:
    """Chooses the rows one drain batch loads (see the module docstring for the rules).

    Args:
        changes: The batch's events, decoded.
        applied: Event already applied per object (from earlier drains).
        applied_changes: Those events decoded, by object.
        poller_cursors: The poller's ``events_cursor`` per table.
        retrieve: Asks the Stripe API for an object's current state.

    Returns:
        The plan: at most one row per object.

    Raises:
        ClientNeededError: An object must be retrieved and ``retrieve`` is None.
    """
    applied_changes = applied_changes or {}
    poller_cursors = poller_cursors or {}
    plan = DrainPlan(event_ids=[c.event.event_id for c in changes])
    plan.audit = [audit_row(c) for c in changes]
    plan.unroutable = sum(1 for c in changes if c.spec is None or c.key is None)
    choices: dict[Key, Choice] = {}
    for key, group in changes_per_object(changes).items():
        spec = group[0].spec
        assert spec is not None  # noqa: S101 - grouped changes have a table
        choices[key] = choose(
            group, applied.get(key), applied_changes.get(key), poller_cursors.get(spec.name)
        )
    to_retrieve = [key for key, choice in choices.items() if choice.outcome == "retrieve"]
    if to_retrieve and retrieve is None:
        object_type, object_id = to_retrieve[0]
        raise ClientNeededError(
            f"the drain must retrieve {len(to_retrieve)} Stripe object(s) from the API "
            f"(e.g. {object_type} {object_id}: its events cannot tell its newest state) but "
            "no Stripe client is configured: set sources.stripe.api_key "
            "(SOURCES__STRIPE__API_KEY)"
        )
    for key, choice in choices.items():
        winner = choice.winner
        assert winner.spec is not None and winner.snapshot is not None  # noqa: S101
        if choice.outcome == "polled":
            plan.polled += 1
            continue
        if choice.outcome == "stale":
            continue
        if choice.outcome == "retrieve":
            assert retrieve is not None  # noqa: S101 - checked above
            row = retrieved_row(winner, retrieve(winner.spec, key[1]))
            plan.retrieved += 1
        else:
            row = change_row(
                winner.snapshot, deleted=winner.is_delete, seen_at=winner.event.created
            )
        plan.rows.setdefault(winner.spec.name, []).append(row)
        plan.versions.append(AppliedVersion(key[0], key[1], *winner.order_key))
    plan.stale = len(changes) - plan.unroutable - plan.objects
    return plan


def retrieved_row(fallback: ReceivedChange, current: Mapping[str, Any]) -> dict[str, Any]:
    """The row for an object as the API answered it.

    A deleted object (the stub) keeps the columns of the newest event's snapshot, with
    ``deleted = true`` seen at that event's time.

    Raises:
        FatalError: The answer is not the object asked for.
    """
    assert fallback.snapshot is not None and fallback.key is not None  # noqa: S101
    object_type, object_id = fallback.key
    if current.get("id") != object_id or current.get("object") != object_type:
        raise FatalError(
            f"Stripe answered GET of {object_type} {object_id} with another object "
            f"({current.get('object')} {current.get('id')}): check sources.stripe.base_url"
        )
    if is_deleted_stub(current):
        return change_row(fallback.snapshot, deleted=True, seen_at=fallback.event.created)
    return change_row(current, deleted=False, seen_at=None)


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


def plan_from_inbox(
    inbox: Inbox,
    limit: int = DRAIN_BATCH,
    *,
    poller_cursors: Optional[Mapping[str, int]] = None,
    retrieve: Optional[Retriever] = None,
) -> DrainPlan:
    """Reads up to ``limit`` pending events and plans their load.

    The events applied earlier to the same objects are read back from the inbox, so a
    late delivery is compared with the snapshot the row holds, not only its time.
    """
    changes = [read_change(event) for event in inbox.pending(limit)]
    keys = sorted({c.key for c in changes if c.key is not None and c.spec is not None})
    applied = inbox.applied_versions(keys)
    stored = inbox.events_by_id(v.event_id for v in applied.values())
    applied_changes = {
        key: read_change(stored[version.event_id])
        for key, version in applied.items()
        if version.event_id in stored
    }
    return plan_drain(
        changes,
        applied,
        applied_changes={k: c for k, c in applied_changes.items() if c.key == k},
        poller_cursors=poller_cursors,
        retrieve=retrieve,
    )


def poller_cursors(pipeline: dlt.Pipeline) -> dict[str, int]:
    """The poller's ``events_cursor`` per table, from the pipeline's state.

    Read after any pending package was loaded, so the cursors belong to rows that are in
    the destination.
    """
    sources = pipeline.state.get("sources") or {}
    resources = (sources.get(POLLER_SOURCE) or {}).get("resources") or {}
    cursors: dict[str, int] = {}
    for table, state in resources.items():
        cursor = state.get("events_cursor") if isinstance(state, Mapping) else None
        if isinstance(cursor, int) and not isinstance(cursor, bool):
            cursors[str(table)] = cursor
    return cursors


def retrieve_object(client: StripeClient, spec: StripeResource, object_id: str) -> dict[str, Any]:
    """``GET /v1/<resource>/<id>``: the object as Stripe has it now.

    A deleted object answers the stub ``{"id", "object", "deleted": true}``
    (``../shared/stripe/README.md``). A 404 for an id that a signed event of the account
    carried means the object is gone as well: it is answered as the stub.

    Raises:
        SluiceError: Any other error answer (retried first by the client's session).
    """
    found = client.retrieve(spec.path, object_id, label=RETRIEVE_LABEL)
    if found is None:
        logger.warning(
            "stripe %s %s: the API no longer knows it (404); loaded as deleted",
            spec.object_type,
            object_id,
        )
        return {"id": object_id, "object": spec.object_type, "deleted": True}
    return found


# --- the dlt source ----------------------------------------------------------------------


@dlt.source(name="stripe", max_table_nesting=1, schema_contract=contract_for_dead_letters())
def stripe_webhook_source(
    inbox: Optional[Inbox] = None,
    plan: Optional[DrainPlan] = None,
    limit: int = DRAIN_BATCH,
    run_id: Optional[str] = None,
    client: Optional[StripeClient] = None,
) -> Any:
    """The drain's dlt source: one merge resource per changed table, plus the audit table.

    Shares the ``stripe`` schema with :func:`sources.stripe.stripe_source`: same table
    names, columns, primary key and schema contract, so rows merge with polled ones.

    Args:
        inbox: The webhook inbox, planned from when ``plan`` is omitted.
        plan: A prepared plan (the drain passes the one it will mark done); read from
            ``inbox`` when omitted (without a client or the poller's cursors).
        limit: Events planned when ``plan`` is omitted.
        run_id: Identifier of this drain, written with dead letters.
        client: Pages the rest of an embedded list the delivered object truncates
            (invoice lines, subscription items); without one such an object fails the load.

    Returns:
        The resources.
    """
    if plan is None:
        if inbox is None:
            raise ValueError("stripe_webhook_source needs an inbox or a plan")
        plan = plan_from_inbox(inbox, limit)
    run = run_id or uuid.uuid4().hex
    resources = [
        changed_objects(RESOURCES_BY_NAME[table], rows, run, client)
        for table, rows in sorted(plan.rows.items())
    ]
    resources.append(received_events(plan.audit))
    return resources


def changed_objects(
    spec: StripeResource,
    rows: list[dict[str, Any]],
    run_id: str,
    client: Optional[StripeClient] = None,
) -> DltResource:
    """Merge resource writing the newest rows of one table (and its child tables), as the
    poller declares them."""

    def objects() -> Iterator[Any]:
        yield from split_sub_lists(spec.name, rows, client)
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
    """What a drain did, summed over its batches.

    Attributes:
        events: Events drained (marked done).
        rows: Rows merged into object tables.
        stale: Events that wrote no row (superseded, already applied, or polled).
        polled: Objects whose poller row was newer than their events.
        retrieved: Objects retrieved from the API.
        unroutable: Events without a table.
        batches: Loads made.
        resumed: Packages an interrupted run had left, loaded before the drain's own.
        tables: Rows merged per table.
    """

    events: int = 0
    rows: int = 0
    stale: int = 0
    polled: int = 0
    retrieved: int = 0
    unroutable: int = 0
    batches: int = 0
    resumed: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)

    def add(self, plan: DrainPlan) -> None:
        """Adds one loaded batch."""
        self.batches += 1
        self.events += len(plan.event_ids)
        self.rows += plan.objects
        self.stale += plan.stale
        self.polled += plan.polled
        self.retrieved += plan.retrieved
        self.unroutable += plan.unroutable
        for table, rows in plan.rows.items():
            self.tables[table] = self.tables.get(table, 0) + len(rows)


def finish_pending_loads(pipeline: dlt.Pipeline) -> list[str]:
    """Loads what an interrupted run of the pipeline left, before the drain extracts.

    A drain or poller run killed during its load leaves a pending package; dlt's ``run``
    would then load that package *instead of* the data it is given. ``run()`` without data
    is dlt's own way to finish it (normalize, load; on a fresh working directory it first
    restores the pipeline state from the destination, so the poller's cursors are known).

    Returns:
        Load ids of the packages loaded now (empty when nothing was pending).
    """
    # resume_guard removes the rows a job killed after its commit loads a second time
    with resume_guard(pipeline):
        pending = pipeline.has_pending_data
        if pending:
            logger.warning(
                "stripe webhooks: pipeline %s has a package an interrupted run left; "
                "loading it before draining",
                pipeline.pipeline_name,
            )
        info = pipeline.run()
    return list(info.loads_ids) if pending and info is not None else []


def load_plan(
    pipeline: dlt.Pipeline,
    plan: DrainPlan,
    run_id: str,
    client: Optional[StripeClient] = None,
) -> list[str]:
    """Extracts, normalizes and loads one batch; returns once its package is loaded.

    Raises:
        DrainLoadError: dlt did not report the package extracted from ``plan`` as loaded.
    """
    extracted = pipeline.extract(
        stripe_webhook_source(plan=plan, run_id=run_id, client=client),
        **loader_options(pipeline),
    )
    load_ids = list(extracted.loads_ids)
    if not load_ids:
        raise DrainLoadError("dlt extracted no package from a drain batch; its events stay pending")
    pipeline.normalize()
    info = pipeline.load()
    loaded = {p.load_id for p in (info.load_packages if info else []) if p.state == "loaded"}
    missing = [load_id for load_id in load_ids if load_id not in loaded]
    if missing:
        raise DrainLoadError(
            f"dlt did not load the drain's package {missing[0]} of pipeline "
            f"{pipeline.pipeline_name}; its events stay pending, drain again"
        )
    return load_ids


def drain(
    inbox: Inbox,
    pipeline: dlt.Pipeline,
    *,
    client: Optional[StripeClient] = None,
    batch_size: int = DRAIN_BATCH,
    run_id: Optional[str] = None,
) -> DrainReport:
    """Loads every pending inbox event into the pipeline's dataset and marks it done.

    First loads any package an interrupted run left, then reads the poller's cursors, then
    plans and loads batch after batch. Events are marked done, together with the event
    applied per object, only once the package of their own batch is loaded.

    Args:
        inbox: The webhook inbox.
        pipeline: The pipeline the poller loads the ``stripe`` dataset with.
        client: Stripe client to retrieve objects whose events cannot tell their newest
            state; without one, such a drain stops with :class:`ClientNeededError`.
        batch_size: Events per load.
        run_id: Identifier of this drain.

    Returns:
        Counts of events, rows, stale, polled, retrieved and unroutable events.
    """
    report = DrainReport()
    run = run_id or uuid.uuid4().hex
    report.resumed = finish_pending_loads(pipeline)
    cursors = poller_cursors(pipeline)
    retrieve: Optional[Retriever] = None
    if client is not None:
        bound = client

        def retrieve(spec: StripeResource, object_id: str) -> Mapping[str, Any]:
            return retrieve_object(bound, spec, object_id)

    while True:
        plan = plan_from_inbox(inbox, batch_size, poller_cursors=cursors, retrieve=retrieve)
        if not plan.event_ids:
            break
        load_plan(pipeline, plan, run, client)
        inbox.mark_done(plan.event_ids, plan.versions)
        report.add(plan)
        logger.info(
            "stripe webhooks: drained %d event(s) into %d row(s) (%d retrieved); %d stale, "
            "%d object(s) newer in the poller's rows, %d without a table",
            len(plan.event_ids),
            plan.objects,
            plan.retrieved,
            plan.stale,
            plan.polled,
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
