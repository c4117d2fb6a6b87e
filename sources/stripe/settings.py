"""Stripe endpoints, object types and constants.

Everything the Stripe connector knows about the API surface lives here, so the
resource definitions in ``__init__.py`` and the HTTP code in ``client.py`` stay free
of literals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_BASE_URL = "https://api.stripe.com"
"""Where the real Stripe API lives; overridden by ``sources.stripe.base_url``."""

STRIPE_VERSION = "2024-06-20"
"""API version pinned with the ``Stripe-Version`` header so payload shapes stay stable."""

PAGE_SIZE = 100
"""Largest page Stripe serves (``limit`` is 1..100)."""

STRIPE_EPOCH = 1293840000
"""2011-01-01: nothing in Stripe is older, so a full listing starts here."""

BACKFILL_WORKERS = 4
"""Requests in flight per resource during a full listing (time-sliced)."""

STREAMS_PER_REQUEST_PER_S = 0.25
"""Slices listed at once across resources, per request/s of the rate limit: enough to
keep the limit busy at ~250 ms per request, few enough that splits stay rare."""

COLUMNAR_BATCH = 1000
"""Objects per Arrow table handed to dlt (dlt's per-item costs are paid per batch; the
batch's dicts are held in memory until converted)."""

MAX_STREAMS = 16
"""Slices listed at once across resources, whatever the rate limit (threads cost memory
and CPU; beyond this the client, not the API, is the bottleneck)."""

NO_RATE_LIMIT = 1_000_000.0
"""Requests per second used when ``sources.stripe.rate_limit`` is 0 (no proactive
limit: for a local emulator or an account with raised limits; 429s still slow down)."""

EVENT_RETENTION_S = 30 * 24 * 3600
"""Stripe lists events of the last 30 days only."""

EVENT_RETENTION_MARGIN_S = 3600
"""A saved events cursor this close to the retention edge is treated as expired."""

EVENT_OVERLAP_S = 300
"""Events are re-read this far behind the saved cursor: Stripe makes events visible
with a small delay, and replaying an event is harmless (newest snapshot wins)."""

LIVE_RATE_LIMIT = 100.0
"""Read requests per second Stripe allows in live mode."""

TEST_RATE_LIMIT = 25.0
"""Read requests per second Stripe allows in test mode."""

SEARCH_RATE_LIMIT = 20.0
FILES_RATE_LIMIT = 20.0

ENDPOINT_GROUPS: Mapping[str, tuple[str, float]] = {
    "search": (r"^/v1/[^/]+/search", SEARCH_RATE_LIMIT),
    "files": (r"^/v1/files", FILES_RATE_LIMIT),
}
"""Endpoint groups with their own, lower, limits (a request also counts against the global one)."""

SHOULD_RETRY_HEADER = "Stripe-Should-Retry"


@dataclass(frozen=True)
class StripeResource:
    """One Stripe list endpoint loaded as one dlt resource (and table).

    Attributes:
        name: Resource and table name, equal to the list path (``customers``).
        object_type: The ``object`` field of its items (``customer``); events carry it too.
        mutable: Whether objects change after creation (changes are caught from events).
        list_params: Extra query parameters every list request needs.
        time_field: The creation-time field the ``created`` list filter applies to
            (invoice items call it ``date``).
    """

    name: str
    object_type: str
    mutable: bool = True
    list_params: Mapping[str, str] = field(default_factory=dict)
    time_field: str = "created"

    @property
    def path(self) -> str:
        """The list endpoint path, relative to the base URL."""
        return f"/v1/{self.name}"


RESOURCES: tuple[StripeResource, ...] = (
    StripeResource("customers", "customer"),
    StripeResource("products", "product"),
    StripeResource("prices", "price"),
    StripeResource("coupons", "coupon"),
    StripeResource("plans", "plan"),
    StripeResource("charges", "charge"),
    StripeResource("refunds", "refund"),
    StripeResource("disputes", "dispute"),
    StripeResource("payment_intents", "payment_intent"),
    StripeResource("setup_intents", "setup_intent"),
    StripeResource("invoices", "invoice"),
    StripeResource("invoiceitems", "invoiceitem", time_field="date"),
    # Stripe hides canceled subscriptions unless asked for all of them.
    StripeResource(
        "subscriptions",
        "subscription",
        list_params={"status": "all"},
    ),
    StripeResource("payouts", "payout"),
    StripeResource("transfers", "transfer"),
    StripeResource(
        "balance_transactions",
        "balance_transaction",
        mutable=False,
    ),
    StripeResource("events", "event", mutable=False),
)

RESOURCES_BY_NAME: Mapping[str, StripeResource] = {r.name: r for r in RESOURCES}
RESOURCES_BY_OBJECT: Mapping[str, StripeResource] = {r.object_type: r for r in RESOURCES}


@dataclass(frozen=True)
class StripeSubList:
    """A list embedded in a Stripe object, loaded as its own table (names as Fivetran's
    and Airbyte's Stripe schemas use them).

    Attributes:
        table: Child table name.
        field: The parent's field holding the list object.
        parent_key: Column naming the parent in each child row.
        object_type: The ``object`` field of the entries.
    """

    table: str
    field: str
    parent_key: str
    object_type: str


SUB_LISTS: Mapping[str, tuple[StripeSubList, ...]] = {
    # Embedded lists carry at most 10 entries; the rest is paged from their ``url``
    # (GET /v1/invoices/<id>/lines, GET /v1/subscription_items?subscription=<id>).
    "invoices": (StripeSubList("invoice_line_items", "lines", "invoice_id", "line_item"),),
    "subscriptions": (
        StripeSubList("subscription_items", "items", "subscription_id", "subscription_item"),
    ),
}
"""Parent resource name -> its embedded lists loaded as child tables."""

LISTED_ELSEWHERE: Mapping[str, tuple[str, ...]] = {
    # A charge's refunds are the ``refunds`` table's rows (each names its ``charge``);
    # since API version 2022-11-15 Stripe includes them only when expanded.
    "charges": ("refunds",),
}
"""Parent resource name -> embedded lists dropped because another table holds them whole."""

NESTED_OBJECT_LISTS: Mapping[str, Mapping[str, str]] = {
    # A dispute embeds the balance transactions of its withdrawal and reinstatement.
    "disputes": {"balance_transactions": "balance_transaction"},
}
"""Parent resource name -> list field -> the ``object`` type of its entries, for the
lists left to dlt's nested tables whose entries carry unix times."""
