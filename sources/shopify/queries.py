"""The connector's GraphQL documents, built from one declaration per resource.

Fields follow the 2025-01 Admin schema (https://shopify.dev/docs/api/admin-graphql/2025-01):
``Product``, ``ProductVariant``, ``Customer``, ``Order`` (``lineItems`` connection,
``refunds``/``fulfillments`` lists), ``Collection``, ``Location.inventoryLevels``.
Paged documents take ``$first``/``$after``/``$query``; bulk documents select the same
fields without paging arguments (https://shopify.dev/docs/api/usage/bulk-operations/queries).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from .settings import CHILD_PAGE_SIZE, LIST_SIZE, LOCATION_LEVELS_PAGE_SIZE

PAGE_INFO = "pageInfo { hasNextPage endCursor }"
MONEY = "shopMoney { amount currencyCode }"


@dataclass(frozen=True)
class Nested:
    """A nested connection of a resource's node (paged per parent past its first page).

    Attributes:
        field: The connection field (``variants``).
        parent_type: The parent's GraphQL type, for ``node(id:)`` follow-ups.
        child_type: The children's type (names bulk lines by their gid).
        fields: The children's selection.
        first: Children fetched with the parent.
    """

    field: str
    parent_type: str
    child_type: str
    fields: str
    first: int = CHILD_PAGE_SIZE


@dataclass(frozen=True)
class Shape:
    """What one resource selects and how it is listed.

    Attributes:
        root: The QueryRoot connection (``products``).
        fields: The node's selection (nested connections excluded).
        nested: Nested connections.
        incremental: Listed by ``updated_at`` search with sortKey UPDATED_AT.
        deletion_subject: ``DeletionEventSubjectType`` of its deletes, if Shopify logs them.
        rows_from: Rows are this nested connection's nodes, not the root's (inventory).
    """

    root: str
    fields: str
    nested: tuple[Nested, ...] = ()
    incremental: bool = True
    deletion_subject: Optional[str] = None
    rows_from: Optional[str] = None


VARIANTS = Nested(
    "variants",
    "Product",
    "ProductVariant",
    "id legacyResourceId title sku barcode price compareAtPrice position inventoryQuantity "
    "createdAt updatedAt inventoryItem { id }",
)
LINE_ITEMS = Nested(
    "lineItems",
    "Order",
    "LineItem",
    f"id title name sku quantity currentQuantity originalUnitPriceSet {{ {MONEY} }} "
    "variant { id } product { id }",
)
INVENTORY_LEVELS = Nested(
    "inventoryLevels",
    "Location",
    "InventoryLevel",
    "id createdAt updatedAt item { id } location { id } "
    'quantities(names: ["available", "on_hand"]) { name quantity }',
    first=LOCATION_LEVELS_PAGE_SIZE,
)

SHAPES: dict[str, Shape] = {
    "products": Shape(
        "products",
        "id legacyResourceId title handle vendor productType status tags totalInventory "
        "createdAt updatedAt publishedAt",
        (VARIANTS,),
        deletion_subject="PRODUCT",
    ),
    "customers": Shape(
        "customers",
        "id legacyResourceId firstName lastName displayName email phone state verifiedEmail "
        "taxExempt tags numberOfOrders amountSpent { amount currencyCode } note "
        "createdAt updatedAt",
    ),
    "orders": Shape(
        "orders",
        "id legacyResourceId name email createdAt updatedAt processedAt cancelledAt closedAt "
        "currencyCode displayFinancialStatus displayFulfillmentStatus "
        f"totalPriceSet {{ {MONEY} }} totalRefundedSet {{ {MONEY} }} tags test customer {{ id }} "
        f"refunds(first: {LIST_SIZE}) {{ id legacyResourceId note createdAt updatedAt "
        f"totalRefundedSet {{ {MONEY} }} }} "
        f"fulfillments(first: {LIST_SIZE}) {{ id legacyResourceId name status createdAt "
        "updatedAt }",
        (LINE_ITEMS,),
    ),
    "collections": Shape(
        "collections",
        "id legacyResourceId title handle sortOrder updatedAt",
        deletion_subject="COLLECTION",
    ),
    "inventory_levels": Shape(
        "locations",
        "id",
        (INVENTORY_LEVELS,),
        incremental=False,
        rows_from="inventoryLevels",
    ),
}


def _nested_paged(nested: Nested) -> str:
    return f"{nested.field}(first: {nested.first}) {{ {PAGE_INFO} nodes {{ {nested.fields} }} }}"


def paged_query(shape: Shape) -> str:
    """The page query of a resource: ``$first``, ``$after`` and the search ``$query``."""
    children = " ".join(_nested_paged(n) for n in shape.nested)
    sort = ", sortKey: UPDATED_AT" if shape.incremental else ""
    return (
        "query($first: Int!, $after: String, $query: String) { "
        f"{shape.root}(first: $first, after: $after, query: $query{sort}) {{ "
        f"{PAGE_INFO} nodes {{ {shape.fields} {children} }} }} }}"
    )


def nested_query(nested: Nested) -> str:
    """The follow-up query paging one parent's nested connection past its first page."""
    return (
        "query($id: ID!, $first: Int!, $after: String) { node(id: $id) { "
        f"... on {nested.parent_type} {{ {nested.field}(first: $first, after: $after) {{ "
        f"{PAGE_INFO} nodes {{ {nested.fields} }} }} }} }} }}"
    )


def bulk_query(shape: Shape, search: Optional[str]) -> str:
    """The bulk export of a resource: the same fields, connections without paging.

    Bulk documents select ``edges { node }``; nested connections become lines of their
    own with ``__parentId`` (https://shopify.dev/docs/api/usage/bulk-operations/queries).
    """
    children = " ".join(f"{n.field} {{ edges {{ node {{ {n.fields} }} }} }}" for n in shape.nested)
    arguments = []
    if search:
        arguments.append(f"query: {json.dumps(search)}")
    if shape.incremental:
        arguments.append("sortKey: UPDATED_AT")
    args = f"({', '.join(arguments)})" if arguments else ""
    return f"{{ {shape.root}{args} {{ edges {{ node {{ {shape.fields} {children} }} }} }} }}"


DELETION_EVENTS = (
    "query($first: Int!, $after: String, $query: String, $types: [DeletionEventSubjectType!]) { "
    "deletionEvents(first: $first, after: $after, query: $query, subjectTypes: $types, "
    f"sortKey: CREATED_AT) {{ {PAGE_INFO} nodes {{ occurredAt subjectId subjectType }} }} }}"
)
"""Shopify's log of deleted products and collections
(https://shopify.dev/docs/api/admin-graphql/2025-01/queries/deletionEvents)."""

RUN_BULK = (
    "mutation($query: String!) { bulkOperationRunQuery(query: $query) { "
    "bulkOperation { id status } userErrors { field message code } } }"
)

BULK_OPERATION_FIELDS = "id status errorCode objectCount url partialDataUrl createdAt completedAt"

POLL_BULK = (
    "query($id: ID!) { node(id: $id) { ... on BulkOperation { " + BULK_OPERATION_FIELDS + " } } }"
)

CANCEL_BULK = (
    "mutation($id: ID!) { bulkOperationCancel(id: $id) { "
    "bulkOperation { id status } userErrors { field message } } }"
)

SHOP = "{ shop { id name myshopifyDomain } }"
"""The credentials check: cheap (1 point) and readable with any scope."""
