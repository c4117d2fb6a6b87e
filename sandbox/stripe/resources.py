"""The Stripe resource types the sandbox serves and their per-type facts."""

from __future__ import annotations

from dataclasses import dataclass

API_VERSION = "2026-10-28.endive"
"""The API version the sandbox reports (the one the installed official SDK pins)."""

EVENTS_WINDOW_SECONDS = 30 * 86_400
"""Stripe lists and retrieves only events of the last 30 days."""


@dataclass(frozen=True)
class Resource:
    """Facts about one object type.

    Attributes:
        name: The ``object`` value, e.g. ``customer``.
        list_name: The URL segment, e.g. ``customers`` for ``/v1/customers``.
        id_prefix: The id prefix without underscore.
        event_prefix: The prefix of its event types (``customer.subscription`` for subscriptions).
        time_field: The field lists sort and filter ``created`` on.
        deletable: Whether ``DELETE`` removes it from lists.
        cancels_on_delete: Whether ``DELETE`` cancels it instead (subscriptions).
        deleted_stub_on_get: Whether ``GET`` of a deleted object answers the deleted stub
            ``{"id", "object", "deleted": true}`` rather than 404: every deletable type. The
            official SDK's ``Customer``, ``Product``, ``Coupon``, ``Plan``, ``InvoiceItem`` and
            ``Invoice`` classes (what ``retrieve`` returns, stripe 16.1) each declare
            ``deleted: Optional[Literal[True]]`` "Always true for a deleted object", and
            Stripe's published fixtures (``fixtures3.json``) hold a ``deleted_<type>`` stub
            for each of them.
        has_events: Whether changes emit events.
        timed_id: Whether ids embed the creation time (``in_1...``) rather than being random.
    """

    name: str
    list_name: str
    id_prefix: str
    event_prefix: str
    time_field: str = "created"
    deletable: bool = False
    cancels_on_delete: bool = False
    deleted_stub_on_get: bool = False
    has_events: bool = True
    timed_id: bool = True

    def event_type(self, action: str) -> str:
        """Return the event type for ``action`` (``created``, ``updated``, ``deleted`` ...)."""
        return f"{self.event_prefix}.{action}"


_ALL = (
    Resource(
        "customer",
        "customers",
        "cus",
        "customer",
        deletable=True,
        deleted_stub_on_get=True,
        timed_id=False,
    ),
    Resource(
        "product",
        "products",
        "prod",
        "product",
        deletable=True,
        deleted_stub_on_get=True,
        timed_id=False,
    ),
    Resource("price", "prices", "price", "price"),
    Resource(
        "coupon", "coupons", "", "coupon", deletable=True, deleted_stub_on_get=True, timed_id=False
    ),
    Resource("plan", "plans", "price", "plan", deletable=True, deleted_stub_on_get=True),
    Resource("charge", "charges", "ch", "charge"),
    Resource("refund", "refunds", "re", "refund"),
    Resource("dispute", "disputes", "dp", "charge.dispute"),
    Resource("payment_intent", "payment_intents", "pi", "payment_intent"),
    Resource("setup_intent", "setup_intents", "seti", "setup_intent"),
    Resource("invoice", "invoices", "in", "invoice", deletable=True, deleted_stub_on_get=True),
    Resource(
        "invoiceitem",
        "invoiceitems",
        "ii",
        "invoiceitem",
        time_field="date",
        deletable=True,
        deleted_stub_on_get=True,
    ),
    Resource(
        "subscription", "subscriptions", "sub", "customer.subscription", cancels_on_delete=True
    ),
    Resource("balance_transaction", "balance_transactions", "txn", "balance", has_events=False),
    Resource("payout", "payouts", "po", "payout"),
    Resource("transfer", "transfers", "tr", "transfer"),
    Resource("event", "events", "evt", "event", has_events=False),
)

RESOURCES: dict[str, Resource] = {resource.name: resource for resource in _ALL}
"""Resources by object name (``customer``)."""

BY_LIST_NAME: dict[str, Resource] = {resource.list_name: resource for resource in _ALL}
"""Resources by list name (``customers``)."""

OBJECT_TYPES: tuple[str, ...] = tuple(r.name for r in _ALL if r.name != "event")
"""The 16 object types kept in the store (events are kept apart)."""


def resource(name: str) -> Resource:
    """Return the resource named ``name`` (object name or list name).

    Raises:
        KeyError: For a type the sandbox does not serve.
    """
    found = RESOURCES.get(name) or BY_LIST_NAME.get(name)
    if found is None:
        raise KeyError(f"unknown Stripe object type: {name!r}")
    return found
