"""Stripe sync logic that is not HTTP: cursors, the change feed, record shaping."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt
import pendulum

from sources.kit.backfill import StreamGovernor
from sources.kit.connector import make_guard as kit_make_guard
from sources.kit.deadletters import RecordGuard
from sources.kit.errors import ConfigurationError
from sources.kit.validation import RecordValidator

from .client import StripeClient
from .events import (
    ObservedChange,
    change_row,
    is_delete_event,
    is_deleted_stub,
    newest_change,
    retrieved_state,
)
from .settings import (
    BACKFILL_WORKERS,
    EVENT_OVERLAP_S,
    EVENT_RETENTION_MARGIN_S,
    EVENT_RETENTION_S,
    MAX_STREAMS,
    RESOURCES_BY_OBJECT,
    STREAMS_PER_REQUEST_PER_S,
    STRIPE_EPOCH,
    StripeResource,
)
from .spec import SPEC, column_hints

logger = logging.getLogger("sluice.stripe")


def shape_live_object(obj: dict[str, Any]) -> dict[str, Any]:
    """Marks an object read from a list as live (not deleted)."""
    obj["deleted"] = bool(obj.get("deleted", False))
    obj.setdefault("deleted_at", None)
    return obj


def shape_snapshot(
    snapshot: dict[str, Any], event_created: int, event_type: Optional[str] = None
) -> dict[str, Any]:
    """Turns an event's ``data.object`` into the row it stands for.

    A deleted object keeps its row with ``deleted = true`` and ``deleted_at`` (the event
    time). A ``<object>.deleted`` event carries the full object *without* a ``deleted``
    field (../shared/stripe/README.md), so pass ``event_type`` to read the delete from
    it; without it only a deleted stub (``"deleted": true``) counts as a delete.
    Kept for callers that shape one event at a time; the rules live in
    :mod:`sources.stripe.events`.
    """
    deleted = is_deleted_stub(snapshot) or (
        event_type is not None and is_delete_event(event_type, str(snapshot.get("object") or ""))
    )
    return change_row(snapshot, deleted=deleted, seen_at=event_created)


def events_cursor_expired(cursor: int, now: float) -> bool:
    """Whether events after ``cursor`` may already be gone from Stripe's 30-day window."""
    return cursor < now - EVENT_RETENTION_S + EVENT_RETENTION_MARGIN_S


@dataclass
class Change:
    """The newest state of one object, as the event feed (or a retrieve) tells it.

    Attributes:
        event_id: The id of the event the state comes from (its newest event).
        event_created: That event's ``created`` (unix seconds); a delete's ``deleted_at``.
        snapshot: The object's newest state (for a delete: as it was before the delete).
        event_type: That event's type.
        deleted: Whether the object is deleted; derived from the event type (or a deleted
            stub) when not given.
        retrieved: The state was retrieved from the API because same-second events
            disagreed.
    """

    event_id: str
    event_created: int
    snapshot: dict[str, Any]
    event_type: str = ""
    deleted: Optional[bool] = None
    retrieved: bool = False

    def __post_init__(self) -> None:
        if self.deleted is None:
            self.deleted = self.observed.is_delete

    @property
    def observed(self) -> ObservedChange:
        """The change as the shared rules in :mod:`sources.stripe.events` see it."""
        return ObservedChange(self.event_id, self.event_type, self.event_created, self.snapshot)

    @property
    def is_delete(self) -> bool:
        """The object was deleted (a subscription's cancel is not a delete)."""
        return bool(self.deleted)

    @property
    def is_update(self) -> bool:
        """A change of an object that existed before (not a create, not a delete)."""
        return not self.is_delete and not self.event_type.endswith(".created")

    def row(self) -> dict[str, Any]:
        """The row this state stands for, deletes included."""
        return change_row(self.snapshot, deleted=self.is_delete, seen_at=self.event_created)


@dataclass
class ChangeFeed:
    """Reads ``/v1/events`` once per run and hands each resource its changed objects.

    Every mutable resource would otherwise page the same events; one shared scan keeps
    the request count down. For each object the feed keeps every event of its newest
    ``created`` second: several events often share one second (``invoice.created``,
    ``invoice.finalized``, ``invoice.paid``) and the order Stripe lists them in within
    a second is not a contract (../shared/stripe/README.md), so "first seen wins" could
    load an older snapshot. :func:`sources.stripe.events.newest_change` picks the newest
    state whatever the order; when same-second snapshots disagree the object is
    retrieved (``GET /v1/<resource>/<id>``, Stripe's advice when order is in doubt) and
    what the API answers is loaded. Objects are routed by ``data.object.object``
    (``customer.subscription.updated`` carries a subscription, ``charge.dispute.created``
    a dispute), not by the event type's prefix.

    Attributes:
        client: Stripe client the scan (and retrieves) go through.
        now: Wall-clock time of the run start (unix seconds).
    """

    client: StripeClient
    now: float
    _since: Optional[int] = field(default=None, init=False)
    _newest: dict[str, dict[str, list[ObservedChange]]] = field(default_factory=dict, init=False)
    _resolved: dict[tuple[str, str], Change] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    events_read: int = field(default=0, init=False)
    retrieved: int = field(default=0, init=False)

    @property
    def next_cursor(self) -> int:
        """Cursor to save after a successful run: the scan's start, less the overlap."""
        return int(self.now) - EVENT_OVERLAP_S

    def changes_for(self, object_type: str, since: int) -> list[Change]:
        """Returns the newest state of every ``object_type`` object changed since ``since``.

        Args:
            object_type: Stripe ``object`` value (``customer``).
            since: Events cursor of the asking resource (unix seconds).

        Returns:
            Changes whose newest event is at or after ``since``, newest first.
        """
        with self._lock:
            self._ensure_scanned(since)
            candidates = [
                list(events)
                for events in self._newest.get(object_type, {}).values()
                if events[0].created >= since
            ]
        # Retrieves run outside the lock: other resources read their own object types.
        changes = [self._resolve(object_type, events) for events in candidates]
        return sorted(changes, key=lambda c: (c.event_created, c.event_id), reverse=True)

    def _resolve(self, object_type: str, events: list[ObservedChange]) -> Change:
        newest = newest_change(events)
        assert newest is not None  # buckets are never empty
        fallback = newest.change
        key = (object_type, fallback.object_id)
        known = self._resolved.get(key)
        if known is not None and known.event_id == fallback.event_id:
            return known
        change = Change(
            fallback.event_id,
            fallback.created,
            dict(fallback.snapshot),
            fallback.event_type,
            deleted=fallback.is_delete,
        )
        if newest.ambiguous:
            change = self._retrieve(object_type, fallback, len(events))
        self._resolved[key] = change
        return change

    def _retrieve(self, object_type: str, fallback: ObservedChange, tied: int) -> Change:
        spec = RESOURCES_BY_OBJECT.get(object_type)
        answer = None
        if spec is not None:
            logger.info(
                "stripe %s %s: %d different snapshots share its newest second; retrieving it",
                spec.name,
                fallback.object_id,
                tied,
                extra={"resource": spec.name},
            )
            answer = self.client.retrieve(spec.path, fallback.object_id, label=spec.name)
            self.retrieved += 1
        snapshot, deleted = retrieved_state(fallback, answer)
        return Change(
            fallback.event_id,
            fallback.created,
            dict(snapshot),
            fallback.event_type,
            deleted=deleted,
            retrieved=answer is not None,
        )

    def _ensure_scanned(self, since: int) -> None:
        if self._since is None:
            self._scan(since, None)
            self._since = since
        elif since < self._since:
            self._scan(since, self._since)
            self._since = since

    def _scan(self, gte: int, lt: Optional[int]) -> None:
        params: dict[str, Any] = {"created[gte]": gte}
        if lt is not None:
            params["created[lt]"] = lt
        for page in self.client.list_pages("/v1/events", label="events_feed", params=params):
            for event in page:
                self._remember(event)

    def _remember(self, event: Any) -> None:
        self.events_read += 1
        if not isinstance(event, Mapping):
            logger.warning("stripe events feed: an item that is not an event object; ignored")
            return
        data = event.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        if not isinstance(obj, Mapping) or not obj.get("id") or not obj.get("object"):
            logger.warning("stripe event %s carries no object with an id; ignored", event.get("id"))
            return
        created = event.get("created")
        if not isinstance(created, int) or isinstance(created, bool):
            # Without a usable time the event cannot be ordered against the others; the
            # events resource dead-letters the same event with its raw payload.
            logger.warning(
                "stripe event %s has no usable 'created' (%s); its change is ignored",
                event.get("id"),
                type(created).__name__,
            )
            return
        observed = ObservedChange(
            str(event.get("id")), str(event.get("type") or ""), created, dict(obj)
        )
        bucket = self._newest.setdefault(observed.object_type, {})
        known = bucket.get(observed.object_id)
        # Only the newest second matters; every event of it is kept (see the class doc).
        if known is None or created > known[0].created:
            bucket[observed.object_id] = [observed]
        elif created == known[0].created and all(k.event_id != observed.event_id for k in known):
            known.append(observed)


def iter_change_rows(changes: list[Change]) -> Iterator[dict[str, Any]]:
    """Rows for the changed objects, deletes included."""
    for change in changes:
        yield change.row()


@dataclass
class Listing:
    """Full listings of Stripe resources: time-sliced across workers when allowed.

    Attributes:
        client: Stripe client.
        start_ts: ``sources.stripe.start_date`` in unix seconds, if set.
        workers: Requests in flight per resource (1 pages sequentially).
        governor: Cap on slices listed at once across all resources of the run.
    """

    client: StripeClient
    start_ts: Optional[int]
    workers: int = 1
    governor: Optional[StreamGovernor] = None

    def lower_bound(self, since: Optional[int]) -> int:
        """The oldest creation time listed: ``since``, the start date or Stripe's epoch."""
        return max(v for v in (since, self.start_ts, STRIPE_EPOCH) if v is not None)

    def pages(self, spec: StripeResource, since: Optional[int]) -> Iterator[list[Any]]:
        """Every page of ``spec`` created at or after ``since`` (or the start date)."""
        gte = self.lower_bound(since)
        if self.workers > 1:
            yield from self.client.list_sliced(
                spec.path,
                label=spec.name,
                params=spec.list_params,
                gte=gte,
                workers=self.workers,
                time_field=spec.time_field,
                governor=self.governor,
            )
            return
        params = {**spec.list_params, "created[gte]": gte}
        yield from self.client.list_pages(spec.path, label=spec.name, params=params)


def stream_cap(client: StripeClient) -> int:
    """Slices listed at once across resources, from the configured rate limit."""
    limiter = client.session.rate_limiter
    rate = limiter.current_rate() if limiter is not None else 25.0
    return min(MAX_STREAMS, max(BACKFILL_WORKERS, math.ceil(rate * STREAMS_PER_REQUEST_PER_S)))


def parse_start_date(start_date: Optional[str]) -> Optional[int]:
    """Turns ``sources.stripe.start_date`` into unix seconds."""
    if not start_date:
        return None
    try:
        return int(pendulum.parse(str(start_date)).timestamp())  # type: ignore[union-attr]
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise ConfigurationError(
            f"sources.stripe.start_date {start_date!r} is not an ISO 8601 date (e.g. 2024-01-01)"
        ) from exc


def make_guard(
    spec: StripeResource, run_id: str, write_disposition: str, *, columnar: bool = False
) -> RecordGuard:
    """Routes records that cannot be loaded as declared to ``_dead_letters``.

    The kit's guard with Stripe's validator: the creation-time field must be an int
    (unix seconds). With ``columnar`` the resource's columnar step types every value, so
    the guard only checks the key, that field and its strict type.
    """
    resource = SPEC.resource(spec.name)
    validator = RecordValidator(
        primary_key=resource.primary_key,
        columns=column_hints(spec),
        schema_getter=dlt.current.source_schema,
        table_name=spec.name,
        required=resource.required,
        strict_types={spec.time_field: int},
        check_columns=not columnar,
    )
    return kit_make_guard(
        SPEC, resource, run_id, validator=validator, write_disposition=write_disposition
    )
