"""Resolvers binding the SDL to the store, access scopes, and the field-level faults.

graphql-core's default resolver reads a dict key of the field's name, so records carry
their public fields under GraphQL names; nested connections and references are resolved
here. Access scopes (https://shopify.dev/docs/api/usage/access-scopes): a field needing a
scope the app lacks resolves to null with an ``ACCESS_DENIED`` error naming the scope
(the rest of the query still runs: partial data).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from .faults import Faults
from .paging import connection, matches, parse_query
from .seed import SHOP_DOMAIN, Record
from .store import Store

Resolver = Callable[..., Any]

DEFAULT_SCOPES = frozenset(
    {"read_products", "read_customers", "read_orders", "read_inventory", "read_locations"}
)
# Which scope each entry point needs (https://shopify.dev/docs/api/usage/access-scopes):
# products, collections and their deletion events read_products, ...
_FIELD_SCOPES: dict[tuple[str, str], str] = {
    ("QueryRoot", "products"): "read_products",
    ("QueryRoot", "product"): "read_products",
    ("QueryRoot", "collections"): "read_products",
    ("QueryRoot", "collection"): "read_products",
    ("QueryRoot", "productsCount"): "read_products",
    ("QueryRoot", "collectionsCount"): "read_products",
    ("QueryRoot", "customersCount"): "read_customers",
    ("QueryRoot", "ordersCount"): "read_orders",
    ("QueryRoot", "deletionEvents"): "read_products",
    ("QueryRoot", "customers"): "read_customers",
    ("QueryRoot", "customer"): "read_customers",
    ("Order", "customer"): "read_customers",
    ("QueryRoot", "orders"): "read_orders",
    ("QueryRoot", "order"): "read_orders",
    ("QueryRoot", "locations"): "read_locations",
    ("QueryRoot", "location"): "read_locations",
    ("Location", "inventoryLevels"): "read_inventory",
}
_TYPE_SCOPES = {
    "Product": "read_products",
    "ProductVariant": "read_products",
    "Collection": "read_products",
    "Customer": "read_customers",
    "Order": "read_orders",
    "LineItem": "read_orders",
    "Refund": "read_orders",
    "Fulfillment": "read_orders",
    "Location": "read_locations",
    "InventoryLevel": "read_inventory",
    "InventoryItem": "read_inventory",
}
_KIND_OF_ROOT = {
    "products": "product",
    "customers": "customer",
    "orders": "order",
    "collections": "collection",
}


@dataclass
class Context:
    """What resolvers see of the sandbox during one execution."""

    store: Store
    faults: Faults
    scopes: frozenset[str] = DEFAULT_SCOPES
    bulk: bool = False
    """A bulk operation's export: connections need no ``first`` and are not paged."""
    bulk_api: Any = None
    """The sandbox's ``BulkOperations`` (``run``, ``cancel``, ``current``, ``get``)."""
    errors: list[GraphQLError] = field(default_factory=list)


def access_denied(scope: str, what: str) -> GraphQLError:
    """Shopify's ACCESS_DENIED error for a field or object needing ``scope``.

    Wording as reported from the live API: "Access denied for giftCards field."
    (Shopify/shopify-api-js#271), "Access denied for menu field. Required access:
    `unauthenticated_read_content` access scope." (vercel/commerce#1350); a non-null root
    field so denied answers ``"data": null`` (Shopify/shopify-app-template-node#845).
    """
    return GraphQLError(
        f"Access denied for {what} field. Required access: `{scope}` access scope.",
        extensions={
            "code": "ACCESS_DENIED",
            "documentation": "https://shopify.dev/api/usage/access-scopes",
            "requiredAccess": f"`{scope}` access scope.",
        },
    )


def internal_error() -> GraphQLError:
    """The error of a field that failed on Shopify's side (partial data)."""
    return GraphQLError(
        "Internal error. Looks like something went wrong on our end.",
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


def middleware(next_: Resolver, root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """Scope checks and switched-on field failures, before any resolver runs."""
    context: Context = info.context
    key = (info.parent_type.name, info.field_name)
    scope = _FIELD_SCOPES.get(key)
    if scope is not None and scope not in context.scopes:
        raise access_denied(scope, info.field_name)
    if context.faults.failing(*key):
        raise internal_error()
    return next_(root, info, **args)


def _serve(context: Context, type_name: str) -> Callable[[Record], Record]:
    """What a node becomes when served: itself, or a malformed copy when a fault says so."""

    def transform(record: Record) -> Record:
        if context.faults.take_malformed(type_name):
            spoiled = copy.copy(record)
            spoiled["updatedAt"] = "not-a-timestamp"
            return spoiled
        return record

    return transform


def _root_connection(kind: str, type_name: str) -> Resolver:
    def resolve(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        context: Context = info.context
        records = context.store.records(kind)
        return connection(
            records, args, unbounded=context.bulk, transform=_serve(context, type_name)
        )

    return resolve


def _nested(
    key: str, type_name: str, live: Optional[Callable[[Context, Record], list[Record]]] = None
) -> Resolver:
    def resolve(parent: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        context: Context = info.context
        records = live(context, parent) if live else parent[key]
        return connection(
            records, args, unbounded=context.bulk, transform=_serve(context, type_name)
        )

    return resolve


def _listed(key: str) -> Resolver:
    def resolve(
        parent: Record, info: GraphQLResolveInfo, first: Optional[int] = None
    ) -> list[Record]:
        items = list(parent[key])
        return items if first is None else items[:first]

    return resolve


def _type_of(object_id: str) -> str:
    return object_id.split("/")[3].split("?")[0] if object_id.startswith("gid://shopify/") else ""


def _lookup(context: Context, object_id: str) -> Optional[Record]:
    type_name = _type_of(object_id)
    scope = _TYPE_SCOPES.get(type_name)
    if scope is not None and scope not in context.scopes:
        raise access_denied(scope, "node")
    if type_name == "BulkOperation" and context.bulk_api is not None:
        return context.bulk_api.get(object_id)  # type: ignore[no-any-return]
    return context.store.find(object_id)


def _node(_: Any, info: GraphQLResolveInfo, id: str) -> Optional[Record]:  # noqa: A002
    return _lookup(info.context, id)


def _nodes(_: Any, info: GraphQLResolveInfo, ids: list[str]) -> list[Optional[Record]]:
    return [_lookup(info.context, object_id) for object_id in ids]


def _single(kind: str) -> Resolver:
    def resolve(_: Any, info: GraphQLResolveInfo, id: str) -> Optional[Record]:  # noqa: A002
        return info.context.store.get(kind, id)  # type: ignore[no-any-return]

    return resolve


def _location(_: Any, info: GraphQLResolveInfo, id: Optional[str] = None) -> Optional[Record]:  # noqa: A002
    locations = info.context.store.locations
    if id is None:
        return next(iter(locations.values()), None)  # the shop's primary location
    return locations.get(id)  # type: ignore[no-any-return]


def _locations(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    context: Context = info.context
    return connection(list(context.store.locations.values()), args, unbounded=context.bulk)


def _deletion_events(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    context: Context = info.context
    wanted = args.pop("subjectTypes", None)
    events = [e for e in context.store.deletions if not wanted or e["subjectType"] in wanted]
    return connection(events, args, unbounded=context.bulk)


def _shop(_: Any, info: GraphQLResolveInfo) -> Record:
    return {
        "id": "gid://shopify/Shop/68817911999",
        "name": "Sluice Sandbox",
        "email": "owner@example.com",
        "myshopifyDomain": SHOP_DOMAIN,
        "currencyCode": "USD",
        "ianaTimezone": "UTC",
    }


def _ref(kind: str, key: str) -> Resolver:
    def resolve(parent: Record, info: GraphQLResolveInfo) -> Optional[Record]:
        ref = parent.get(key)
        return info.context.store.get(kind, ref) if ref else None

    return resolve


def _variant(parent: Record, info: GraphQLResolveInfo) -> Optional[Record]:
    product = info.context.store.get("product", parent.get("_product_id"))
    if product is None:
        return None
    return next((v for v in product["_variants"] if v["id"] == parent.get("_variant_id")), None)


def _collection_products(context: Context, collection: Record) -> list[Record]:
    store = context.store
    return [p for pid in collection["_product_ids"] if (p := store.get("product", pid))]


def _quantities(parent: Record, info: GraphQLResolveInfo, names: list[str]) -> list[Record]:
    base = parent["id"].split("?")[0]
    return [
        {
            "id": f"{base}/{name}",
            "name": name,
            "quantity": parent["_quantities"][name],
            "updatedAt": parent["updatedAt"],
        }
        for name in names
        if name in parent["_quantities"]
    ]


def _count(key: str, live: Optional[Callable[[Context, Record], list[Record]]] = None) -> Resolver:
    def resolve(parent: Record, info: GraphQLResolveInfo) -> Record:
        items = live(info.context, parent) if live else parent[key]
        return {"count": len(items), "precision": "EXACT"}

    return resolve


def _root_count(kind: str) -> Resolver:
    """``productsCount(query:, limit:)``: matches up to ``limit``, then ``AT_LEAST``
    (https://shopify.dev/docs/api/admin-graphql/2025-01/queries/productsCount)."""

    def resolve(
        _: Any, info: GraphQLResolveInfo, query: Optional[str] = None, limit: int = 10000, **__: Any
    ) -> Record:
        terms = parse_query(query)
        total = sum(1 for r in info.context.store.records(kind) if matches(r, terms))
        if limit is not None and total > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": total, "precision": "EXACT"}

    return resolve


def _bulk(method: str) -> Resolver:
    def resolve(_: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        return getattr(info.context.bulk_api, method)(**args)

    return resolve


def _resolvers() -> dict[tuple[str, str], Resolver]:
    table: dict[tuple[str, str], Resolver] = {
        ("QueryRoot", "shop"): _shop,
        ("QueryRoot", "node"): _node,
        ("QueryRoot", "nodes"): _nodes,
        ("QueryRoot", "location"): _location,
        ("QueryRoot", "locations"): _locations,
        ("QueryRoot", "deletionEvents"): _deletion_events,
        ("QueryRoot", "currentBulkOperation"): _bulk("current"),
        ("Mutation", "bulkOperationRunQuery"): _bulk("run"),
        ("Mutation", "bulkOperationCancel"): _bulk("cancel"),
        ("Product", "variants"): _nested("_variants", "ProductVariant"),
        ("Product", "variantsCount"): _count("_variants"),
        ("ProductVariant", "product"): _ref("product", "_product_id"),
        ("Order", "customer"): _ref("customer", "_customer_id"),
        ("Order", "lineItems"): _nested("_line_items", "LineItem"),
        ("Order", "refunds"): _listed("_refunds"),
        ("Order", "fulfillments"): _listed("_fulfillments"),
        ("Fulfillment", "trackingInfo"): _listed("trackingInfo"),
        ("LineItem", "variant"): _variant,
        ("LineItem", "product"): _ref("product", "_product_id"),
        ("Collection", "products"): _nested("", "Product", _collection_products),
        ("Collection", "productsCount"): _count("", _collection_products),
        ("Location", "inventoryLevels"): _nested("_levels", "InventoryLevel"),
        ("InventoryLevel", "item"): lambda parent, info: parent["_item"],
        ("InventoryLevel", "location"): lambda parent, info: info.context.store.locations.get(
            parent["_location_id"]
        ),
        ("InventoryLevel", "quantities"): _quantities,
    }
    for root, kind in _KIND_OF_ROOT.items():
        table[("QueryRoot", root)] = _root_connection(kind, kind.capitalize())
        table[("QueryRoot", kind)] = _single(kind)
        table[("QueryRoot", f"{root}Count")] = _root_count(kind)
    return table


def bind(schema: GraphQLSchema) -> GraphQLSchema:
    """Attaches the resolvers and the ``Node`` type resolution to ``schema``; returns it."""
    for (type_name, field_name), resolver in _resolvers().items():
        type_ = schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType), type_name
        type_.fields[field_name].resolve = resolver
    node = schema.get_type("Node")

    def resolve_type(value: Record, info: GraphQLResolveInfo, abstract: Any) -> Optional[str]:
        return _type_of(str(value.get("id", ""))) or None

    node.resolve_type = resolve_type  # type: ignore[union-attr]
    return schema
