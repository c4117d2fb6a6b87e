"""Shopify Admin GraphQL constants: resources, version, page sizes, backfill choice."""

from __future__ import annotations

RESOURCES: tuple[str, ...] = ("products", "customers", "orders", "collections", "inventory_levels")
"""Every resource the connector loads."""

DEFAULT_RESOURCES: tuple[str, ...] = RESOURCES
"""What a run loads when ``sources.shopify.resources`` is not set."""

API_VERSION = "2025-01"
"""Pinned Admin API version (``sources.shopify.api_version``); Shopify keeps each stable
version for at least 12 months (https://shopify.dev/docs/api/usage/versioning)."""

GRAPHQL_PATH = "/admin/api/{version}/graphql.json"
"""The Admin GraphQL endpoint under the shop's URL (https://shopify.dev/docs/api/admin-graphql)."""

ACCESS_TOKEN_KEY = "sources.shopify.access_token"  # noqa: S105 - a key name, not a secret
SHOP_URL_KEY = "sources.shopify.shop_url"

MAX_PAGE_SIZE = 250
"""Largest ``first`` Shopify accepts (https://shopify.dev/docs/api/usage/pagination-graphql)."""

START_PAGE_SIZE = 10
"""First page of a run, before an answer taught the bucket (kept cheap on purpose)."""

CHILD_PAGE_SIZE = 10
"""``first`` of nested connections (variants, line items); the rest is paged per parent."""

LOCATION_LEVELS_PAGE_SIZE = 50
"""``first`` of a location's inventory levels per page of locations."""

LIST_SIZE = 20
"""``first`` of plain lists (an order's refunds and fulfillments)."""

LOOKBACK_S = 300
"""Re-read this far behind the saved ``updated_at`` (same-second changes, clock skew)."""

BACKFILL_MODES = ("auto", "bulk", "paged")
"""``sources.shopify.backfill``: a first sync by bulk operation, by paging, or bulk above
``bulk_threshold`` records (counted with ``<resource>Count`` where the API has it)."""

BULK_THRESHOLD = 10_000
"""Records above which ``auto`` backfills with a bulk operation."""

BULK_POLL_START_S = 1.0
BULK_POLL_MAX_S = 30.0
BULK_MAX_WAIT_S = 6 * 3600.0
"""Polling of a bulk operation: exponential from 1 s, capped at 30 s, for at most 6 h."""

BULK_URL_RETRIES = 3
"""Times an expired result URL is re-requested before giving up."""
