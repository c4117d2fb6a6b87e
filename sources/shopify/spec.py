"""Shopify declared for the kit's connector framework: five resources over Admin GraphQL.

GraphQL has one endpoint, so the spec's data selector and paginator (REST notions) are
unused: listing is the kit's :mod:`sources.kit.graphql` paging, paced by its cost limiter
(Shopify meters points, not requests; the request-rate limit is only a backstop).
"""

from __future__ import annotations

from dlt.common.schema.typing import TColumnSchema
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator
from requests import Response

from sources.kit.connector import ChildSpec, ConnectorSpec, ResourceSpec
from sources.kit.errors import error_from_response
from sources.kit.http_config import HttpConfiguration
from sources.kit.redact import global_redactor

from .rows import shape_row
from .settings import DEFAULT_RESOURCES

__all__ = ["CHILDREN", "SPEC", "resource_spec"]

REQUEST_RATE = 40.0
"""Requests per second at most (a backstop: the cost bucket paces the real budget)."""


def raise_for_shopify(response: Response) -> None:
    """HTTP errors (401 bad token, 402/423 shop unavailable, 5xx) as the kit's exceptions."""
    if response.status_code >= 400:
        raise error_from_response(response, global_redactor())


def http_defaults() -> HttpConfiguration:
    """Shopify's HTTP defaults (a request-rate backstop beside the cost bucket)."""
    return HttpConfiguration(rate_limit=REQUEST_RATE)


def columns(*timestamps: str) -> dict[str, TColumnSchema]:
    """Key, numeric id, timestamps and the soft-delete flag (a fresh dict per call)."""
    hints: dict[str, TColumnSchema] = {
        "id": {"data_type": "text", "nullable": False},
        "legacy_resource_id": {"data_type": "bigint", "nullable": True},
        # of two copies of a row in one load (changed mid-run) keep the newer
        "updated_at": {"data_type": "timestamp", "nullable": True, "dedup_sort": "desc"},
        "deleted": {"data_type": "bool"},
        "deleted_at": {"data_type": "timestamp", "nullable": True},
    }
    for name in timestamps:
        hints[name] = {"data_type": "timestamp", "nullable": True}
    return hints


def child_columns(*timestamps: str, **texts: str) -> dict[str, TColumnSchema]:
    """A child table's hints: its key and timestamps (nullable ones typed up front)."""
    hints: dict[str, TColumnSchema] = {"id": {"data_type": "text", "nullable": False}}
    for name in timestamps:
        hints[name] = {"data_type": "timestamp", "nullable": True}
    for name in texts:
        hints[name] = {"data_type": "text", "nullable": True}
    return hints


STAMPS = ("created_at", "updated_at")
CHILDREN: dict[str, tuple[ChildSpec, ...]] = {
    "products": (
        ChildSpec(
            "product_variants",
            "variants",
            "product_id",
            columns=child_columns(*STAMPS, compare_at_price="", barcode=""),
        ),
    ),
    "orders": (
        ChildSpec("order_line_items", "line_items", "order_id", columns=child_columns(sku="")),
        ChildSpec("order_refunds", "refunds", "order_id", columns=child_columns(*STAMPS, note="")),
        ChildSpec("order_fulfillments", "fulfillments", "order_id", columns=child_columns(*STAMPS)),
    ),
}
"""Nested lists loaded as child tables, replaced whole with their parent."""

_CURSORS = {"inventory_levels": None}
_TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "products": ("created_at", "published_at"),
    "customers": ("created_at",),
    "orders": ("created_at", "processed_at", "cancelled_at", "closed_at"),
    "collections": (),
    "inventory_levels": ("created_at",),
}
_DELETES: dict[str, tuple[str, ...]] = {
    "products": ("audit_log", "webhook"),
    "collections": ("audit_log", "webhook"),
    "customers": ("webhook",),
    "orders": ("webhook",),
    "inventory_levels": ("relist",),
}


_TEXTS: dict[str, tuple[str, ...]] = {
    "customers": ("email", "phone", "note", "first_name", "last_name"),
    "orders": ("email",),
}
"""Nullable text columns a small shop may leave empty in every row of a load."""


def resource_spec(name: str) -> ResourceSpec:
    """One resource: merged on the global id, incremental on ``updated_at``.

    Built per call so dlt, which writes into column hints, never shares them between runs.
    """
    return ResourceSpec(
        name=name,
        primary_key=("id",),
        cursor=_CURSORS.get(name, "updated_at"),
        write_disposition="merge",
        columns={
            **columns(*_TIMESTAMPS[name]),
            **{t: {"data_type": "text", "nullable": True} for t in _TEXTS.get(name, ())},
        },
        deletes=_DELETES[name],
        children=CHILDREN.get(name, ()),
    )


SPEC = ConnectorSpec(
    name="shopify",
    title="Shopify",
    data_selector="data",
    paginator=SinglePagePaginator,
    raise_for_error=raise_for_shopify,
    rate_limit=REQUEST_RATE,
    http_defaults=http_defaults,
    resources=tuple(resource_spec(name) for name in DEFAULT_RESOURCES),
    default_resources=DEFAULT_RESOURCES,
    record_shaper=shape_row,
)
"""The Shopify connector (``sources.shopify``)."""
