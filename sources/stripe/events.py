"""What a Stripe event says about its object: deleted or not, and which snapshot is newest.

Shared by the events poller (:class:`sources.stripe.helpers.ChangeFeed`) and the webhook
drain (:mod:`sources.stripe.webhooks`), so both read an event the same way.

Two facts of the real API shape these rules (``../shared/stripe/README.md``):

* A ``<object>.deleted`` event carries the **full object as it was before the delete,
  with no ``deleted`` field**; only the event type says it was deleted (a Stripe engineer
  in stripe/stripe-dotnet#1870). Only ``DELETE`` and a later ``GET /v1/<resource>/<id>``
  answer the stub ``{"id", "object", "deleted": true}``.
  ``customer.subscription.deleted`` is a cancel: its object is a ``subscription``, which
  still exists with ``status: canceled``; the rule below never calls it a delete because
  the event type is not ``subscription.deleted``.
* Several events of one object often share one ``created`` second (``invoice.created``,
  ``invoice.finalized``, ``invoice.paid``), and Stripe objects carry no updated-at field.
  The order of same-second events in a list, or of webhook deliveries, is not a contract
  (Stripe: "Stripe doesn't guarantee the delivery of events in the order that they're
  generated"; its advice is to retrieve the object from the API). So a tie is resolved by
  a rule that does not depend on order: a delete is final and wins; identical snapshots
  are no tie; anything else is *ambiguous* and the caller retrieves the object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

DELETABLE_OBJECT_TYPES: frozenset[str] = frozenset(
    {"customer", "product", "price", "coupon", "plan", "invoice", "invoiceitem"}
)
"""Object types sluice loads that Stripe can delete (they then vanish from lists).

The official SDK's event type literals (``stripe/_event.py``, stripe 16.1) name a
``<object>.deleted`` event for exactly these among the loaded types: ``customer``,
``product``, ``price`` (a price never used can be deleted in the Dashboard), ``coupon``,
``plan``, ``invoice`` (drafts only) and ``invoiceitem``. Subscriptions are canceled, not
deleted (``customer.subscription.deleted``); charges, refunds and the rest are never
deleted.
"""


def is_deletable(object_type: str) -> bool:
    """Whether objects of ``object_type`` can be deleted (and disappear from lists)."""
    return object_type in DELETABLE_OBJECT_TYPES


def is_delete_event(event_type: str, object_type: str) -> bool:
    """Whether an event of ``event_type`` carrying an ``object_type`` object is its deletion.

    Stripe names the deletion of an object ``<object>.deleted`` (``customer.deleted``,
    ``invoiceitem.deleted``). Events whose type merely ends in ``.deleted`` but whose
    object is of another type are not deletions of that object:
    ``customer.subscription.deleted`` carries a canceled ``subscription``.
    """
    return event_type == f"{object_type}.deleted"


def is_deleted_stub(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` is the stub ``DELETE`` and ``GET`` answer for a deleted object."""
    return obj.get("deleted") is True


@dataclass(frozen=True)
class ObservedChange:
    """One event's view of one object.

    Attributes:
        event_id: The event's id (``evt_...``).
        event_type: The event's type (``customer.updated``).
        created: The event's ``created`` (unix seconds).
        snapshot: The event's ``data.object``.
    """

    event_id: str
    event_type: str
    created: int
    snapshot: Mapping[str, Any]

    @property
    def object_type(self) -> str:
        """The snapshot's ``object`` field (``customer``)."""
        return str(self.snapshot.get("object") or "")

    @property
    def object_id(self) -> str:
        """The snapshot's ``id``."""
        return str(self.snapshot.get("id") or "")

    @property
    def is_delete(self) -> bool:
        """The event says the object was deleted (by its type, or a deleted stub)."""
        return is_delete_event(self.event_type, self.object_type) or is_deleted_stub(self.snapshot)

    @property
    def is_create(self) -> bool:
        """The event created the object."""
        return self.event_type.endswith(".created")


@dataclass(frozen=True)
class Newest:
    """The outcome of comparing the events seen for one object.

    Attributes:
        change: The event whose snapshot is the newest state. When ``ambiguous``, one of
            the newest second's events, to fall back on (its snapshot is complete).
        ambiguous: Several different snapshots share the newest second and none is a
            delete: the newest state cannot be told from the events; retrieve the object.
    """

    change: ObservedChange
    ambiguous: bool = False


def newest_change(changes: Iterable[ObservedChange]) -> Optional[Newest]:
    """Chooses the newest state of one object from its events, whatever their order.

    The latest ``created`` second wins. Within it: a delete wins (a deleted object takes
    no later change); otherwise, if the events carry different snapshots, the result is
    ambiguous. The fallback ``change`` is the same whichever order the events came in
    (greatest event id), so repeated drains and polls agree.

    Args:
        changes: Events of one object (duplicates allowed).

    Returns:
        The newest change, or None when there are no events.
    """
    candidates = list(changes)
    if not candidates:
        return None
    latest = max(c.created for c in candidates)
    tied = sorted((c for c in candidates if c.created == latest), key=lambda c: c.event_id)
    deletes = [c for c in tied if c.is_delete]
    if deletes:
        return Newest(deletes[-1])
    distinct = {_fingerprint(c.snapshot) for c in tied}
    return Newest(tied[-1], ambiguous=len(distinct) > 1)


def retrieved_state(
    fallback: ObservedChange, answer: Optional[Mapping[str, Any]]
) -> tuple[Mapping[str, Any], bool]:
    """What to load for an ambiguous object, from what ``GET /v1/<resource>/<id>`` answered.

    Args:
        fallback: The ambiguous :class:`Newest`'s ``change`` (a complete snapshot).
        answer: The retrieved object; ``None`` when it could not be retrieved.

    Returns:
        ``(snapshot, deleted)``: the live object as answered; for a deleted stub the
        fallback's snapshot (the stub carries no columns) flagged deleted; without an
        answer the fallback as the events describe it.
    """
    if answer is None:
        return fallback.snapshot, fallback.is_delete
    if is_deleted_stub(answer):
        return fallback.snapshot, True
    return answer, False


def _fingerprint(snapshot: Mapping[str, Any]) -> str:
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), default=str)


def change_row(
    snapshot: Mapping[str, Any], *, deleted: bool, seen_at: Optional[int]
) -> dict[str, Any]:
    """The row an object's newest state stands for, deletes included.

    A deleted object keeps its row with ``deleted = true`` and ``deleted_at`` (when the
    deletion happened: the event time). ``snapshot`` may already carry Stripe's own
    ``deleted`` field (a stub); it is replaced by the flag given.

    Args:
        snapshot: The object as last seen (for a delete: as it was before the delete).
        deleted: Whether the object is deleted.
        seen_at: The deletion time (unix seconds), used when ``deleted``.
    """
    row = dict(snapshot)
    row["deleted"] = bool(deleted)
    row["deleted_at"] = seen_at if deleted else None
    return row
