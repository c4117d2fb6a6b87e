"""The Shopify sandbox's GraphQL surface: auth, paging, search, sort, nodes, errors, faults."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.shopify import ShopifySandbox, Volume
from sandbox.shopify.__main__ import build_parser, connection_lines
from sandbox.shopify.clock import parse_time

PAGE = """
query Page($first: Int!, $after: String, $query: String, $sortKey: ProductSortKeys,
           $reverse: Boolean) {
  products(first: $first, after: $after, query: $query, sortKey: $sortKey, reverse: $reverse) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id legacyResourceId updatedAt variants(first: 10) { nodes { id } } } }
  }
}
"""


def data(sb: ShopifySandbox, query: str, variables: dict[str, Any] | None = None) -> Any:
    answer = sb.post(query, variables).json()
    assert "errors" not in answer, answer
    return answer["data"]


def all_products(sb: ShopifySandbox, **variables: Any) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = data(sb, PAGE, {"first": 7, "after": after, **variables})["products"]
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize(
    ("token", "status"),
    [("", 401), ("shpat_wrong", 401)],
    ids=["missing", "wrong"],
)
def test_bad_token_is_401_with_shopifys_message(
    shopify_sandbox: ShopifySandbox, token: str, status: int
) -> None:
    reply = shopify_sandbox.post("{ shop { name } }", token=token)
    assert reply.status_code == status
    assert reply.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_urls_follow_the_admin_api_layout(shopify_sandbox: ShopifySandbox) -> None:
    assert shopify_sandbox.graphql_url == (
        f"{shopify_sandbox.base_url}/admin/api/2025-01/graphql.json"
    )
    assert shopify_sandbox.access_token.startswith("shpat_")


def test_paging_returns_every_product_once_with_variants(shopify_sandbox: ShopifySandbox) -> None:
    nodes = all_products(shopify_sandbox)
    store = {p["id"]: p for p in shopify_sandbox.store.products()}
    assert [n["id"] for n in nodes] == sorted(store, key=lambda g: int(g.rsplit("/", 1)[1]))
    for node in nodes:
        assert node["legacyResourceId"] == node["id"].rsplit("/", 1)[1]
        assert [v["id"] for v in node["variants"]["nodes"]] == [
            v["id"] for v in store[node["id"]]["variants"]
        ]


def test_updated_at_filter_and_sort(shopify_sandbox: ShopifySandbox) -> None:
    stamps = sorted(p["updatedAt"] for p in shopify_sandbox.store.products())
    middle = stamps[len(stamps) // 2]
    nodes = all_products(shopify_sandbox, query=f"updated_at:>'{middle}'", sortKey="UPDATED_AT")
    got = [n["updatedAt"] for n in nodes]
    assert got == sorted(got)
    assert got and all(stamp > middle for stamp in got)
    assert len(got) == sum(stamp > middle for stamp in stamps)
    inclusive = all_products(shopify_sandbox, query=f"updated_at:>={middle}", sortKey="UPDATED_AT")
    assert len(inclusive) == len(got) + stamps.count(middle)


def test_reverse_sort(shopify_sandbox: ShopifySandbox) -> None:
    forward = [n["id"] for n in all_products(shopify_sandbox, sortKey="UPDATED_AT")]
    backward = [n["id"] for n in all_products(shopify_sandbox, sortKey="UPDATED_AT", reverse=True)]
    assert backward == forward[::-1]


def test_id_filter(shopify_sandbox: ShopifySandbox) -> None:
    ids = sorted(int(p["legacyResourceId"]) for p in shopify_sandbox.store.products())
    nodes = all_products(shopify_sandbox, query=f"id:>{ids[9]}")
    assert [int(n["legacyResourceId"]) for n in nodes] == ids[10:]


def test_an_update_moves_the_record_to_the_end_of_an_incremental_sync(
    shopify_sandbox: ShopifySandbox,
) -> None:
    first = shopify_sandbox.store.products()[0]
    shopify_sandbox.advance(120)
    shopify_sandbox.update("product", first["id"], title="Renamed")
    newest = all_products(shopify_sandbox, sortKey="UPDATED_AT")[-1]
    assert newest["id"] == first["id"]
    assert parse_time(newest["updatedAt"]) == int(shopify_sandbox.clock())


def test_create_and_delete(shopify_sandbox: ShopifySandbox) -> None:
    new = shopify_sandbox.create("product", title="Brand New")
    assert new in {n["id"] for n in all_products(shopify_sandbox)}
    shopify_sandbox.delete("product", new)
    assert new not in {n["id"] for n in all_products(shopify_sandbox)}
    assert data(shopify_sandbox, '{ node(id: "' + new + '") { id } }') == {"node": None}


def test_backward_paging_with_last_and_before(shopify_sandbox: ShopifySandbox) -> None:
    query = "query($before: String) { customers(last: 5, before: $before) { pageInfo { hasPreviousPage startCursor } nodes { id } } }"  # noqa: E501
    seen: list[str] = []
    before = None
    while True:
        page = data(shopify_sandbox, query, {"before": before})["customers"]
        seen[:0] = [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert seen == [c["id"] for c in sorted(shopify_sandbox.store.customers(), key=_num)]


def _num(record: dict[str, Any]) -> int:
    return int(record["id"].rsplit("/", 1)[1])


def test_orders_carry_line_items_refunds_fulfillments_and_customer(
    shopify_sandbox: ShopifySandbox,
) -> None:
    query = """query($after: String) { orders(first: 20, after: $after, sortKey: ID) {
        pageInfo { hasNextPage endCursor } nodes {
        id name customer { id } totalPriceSet { shopMoney { amount currencyCode } }
        lineItems(first: 10) { nodes { id quantity variant { id } } }
        refunds { id totalRefundedSet { shopMoney { amount } } }
        fulfillments { id status trackingInfo { number } } } } }"""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = data(shopify_sandbox, query, {"after": after})["orders"]
        nodes.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    store = {o["id"]: o for o in shopify_sandbox.store.orders()}
    assert len(nodes) == len(store)
    for node in nodes:
        order = store[node["id"]]
        assert [li["id"] for li in node["lineItems"]["nodes"]] == [
            li["id"] for li in order["lineItems"]
        ]
        assert len(node["refunds"]) == len(order["refunds"])
        assert len(node["fulfillments"]) == len(order["fulfillments"])
        assert node["customer"]["id"] == order["customerId"]
    assert any(n["refunds"] for n in nodes) and any(n["fulfillments"] for n in nodes)


def test_collections_locations_and_inventory_levels(shopify_sandbox: ShopifySandbox) -> None:
    query = """{ collections(first: 10) { nodes { id products(first: 50) { nodes { id } } } } }"""
    result = data(shopify_sandbox, query)
    shopify_sandbox.advance(60)  # refill the bucket
    # 2 + 2 x (1 + 2 + 120 x 4) = 968: within the single-query maximum
    query = """{ locations(first: 2) { nodes { id name inventoryLevels(first: 120) { nodes {
        id item { id sku } location { id } quantities(names: ["available", "on_hand"]) {
          name quantity } } } } } }"""
    result.update(data(shopify_sandbox, query))
    collections = {c["id"]: c for c in shopify_sandbox.store.collections()}
    for node in result["collections"]["nodes"]:
        assert [p["id"] for p in node["products"]["nodes"]] == collections[node["id"]]["productIds"]
    levels = [lv for loc in result["locations"]["nodes"] for lv in loc["inventoryLevels"]["nodes"]]
    assert len(levels) == len(shopify_sandbox.store.inventory_levels())
    assert all([q["name"] for q in lv["quantities"]] == ["available", "on_hand"] for lv in levels)


def test_node_and_nodes_resolve_any_type(shopify_sandbox: ShopifySandbox) -> None:
    product = shopify_sandbox.store.products()[0]
    customer = shopify_sandbox.store.customers()[0]
    query = """query($ids: [ID!]!) { nodes(ids: $ids) {
        id ... on Product { title } ... on Customer { email } } }"""
    nodes = data(
        shopify_sandbox, query, {"ids": [product["id"], customer["id"], "gid://shopify/Product/1"]}
    )
    assert nodes["nodes"] == [
        {"id": product["id"], "title": product["title"]},
        {"id": customer["id"], "email": customer["email"]},
        None,
    ]


def test_connection_without_first_or_last_is_an_error(shopify_sandbox: ShopifySandbox) -> None:
    answer = shopify_sandbox.post("{ products { nodes { id } } }").json()
    assert answer["errors"][0]["message"] == "you must provide one of first or last"
    assert answer["errors"][0]["path"] == ["products"]


def test_unknown_field_is_undefined_field(shopify_sandbox: ShopifySandbox) -> None:
    answer = shopify_sandbox.post("{ products(first: 1) { nodes { id colour } } }").json()
    (error,) = answer["errors"]
    assert error["message"] == "Field 'colour' doesn't exist on type 'Product'"
    assert error["extensions"] == {
        "code": "undefinedField",
        "typeName": "Product",
        "fieldName": "colour",
    }
    assert error["path"] == ["query", "products", "nodes", "colour"]
    assert "data" not in answer and "cost" in answer["extensions"]


def test_removed_scope_is_access_denied_naming_it(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.remove_scope("read_orders")
    answer = shopify_sandbox.post("{ orders(first: 1) { nodes { id } } }").json()
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "ACCESS_DENIED"
    assert "`read_orders`" in error["message"] and error["path"] == ["orders"]
    assert answer["data"] is None  # orders is non-null: the null reaches the root


def test_failing_nullable_field_gives_partial_data(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.faults.fail_field("Order", "customer")
    answer = shopify_sandbox.post(
        "{ orders(first: 3, sortKey: ID) { nodes { id customer { id } } } }"
    ).json()
    nodes = answer["data"]["orders"]["nodes"]
    assert len(nodes) == 3 and all(n["customer"] is None and n["id"] for n in nodes)
    assert [e["path"] for e in answer["errors"]] == [
        ["orders", "nodes", i, "customer"] for i in range(3)
    ]


def test_removed_customer_scope_nulls_only_the_order_customer(
    shopify_sandbox: ShopifySandbox,
) -> None:
    shopify_sandbox.remove_scope("read_customers")
    answer = shopify_sandbox.post("{ orders(first: 2) { nodes { id customer { id } } } }").json()
    assert [n["customer"] for n in answer["data"]["orders"]["nodes"]] == [None, None]
    assert {e["extensions"]["code"] for e in answer["errors"]} == {"ACCESS_DENIED"}


@pytest.mark.parametrize("status", [500, 502, 503], ids=["500", "502", "503"])
def test_fail_next_answers_5xx_then_recovers(shopify_sandbox: ShopifySandbox, status: int) -> None:
    shopify_sandbox.faults.fail_next(1, status)
    assert shopify_sandbox.post("{ shop { name } }").status_code == status
    assert shopify_sandbox.post("{ shop { name } }").status_code == 200


def test_drop_next_resets_the_connection(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.faults.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        shopify_sandbox.post("{ shop { name } }")
    assert shopify_sandbox.post("{ shop { name } }").status_code == 200


def test_stall_next_delays_the_answer(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.faults.stall_next(1, seconds=0.5)
    with pytest.raises(requests.Timeout):
        requests.post(
            shopify_sandbox.graphql_url,
            json={"query": "{ shop { name } }"},
            headers={"X-Shopify-Access-Token": shopify_sandbox.access_token},
            timeout=0.1,
        )


def test_malformed_record(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.faults.malform_next(1, "Product")
    nodes = data(shopify_sandbox, "{ products(first: 3) { nodes { id updatedAt } } }")
    stamps = [n["updatedAt"] for n in nodes["products"]["nodes"]]
    assert stamps[0] == "not-a-timestamp" and "not-a-timestamp" not in stamps[1:]


def test_same_seed_same_shop_and_volume_is_honoured(
    shopify_sandbox_factory: Any,
) -> None:
    one = shopify_sandbox_factory(volume=Volume(products=5, customers=2, orders=3))
    two = shopify_sandbox_factory(volume=Volume(products=5, customers=2, orders=3))
    assert len(one.store.products()) == 5 and len(one.store.orders()) == 3
    assert [p["title"] for p in one.store.products()] == [p["title"] for p in two.store.products()]


def test_bad_body_is_400(shopify_sandbox: ShopifySandbox) -> None:
    reply = requests.post(
        shopify_sandbox.graphql_url,
        data=b"not json",
        headers={"X-Shopify-Access-Token": shopify_sandbox.access_token},
        timeout=5,
    )
    assert reply.status_code == 400


def test_main_prints_dlt_settings() -> None:
    args = build_parser().parse_args(["--port", "0", "--bucket-size", "2000"])
    assert args.port == 0 and args.bucket_size == 2000.0
    sandbox = ShopifySandbox(seed=1)
    lines = connection_lines(sandbox)
    assert any(sandbox.access_token in line for line in lines)
    assert any("SOURCES__SHOPIFY__API_VERSION=2025-01" in line for line in lines)


def test_standalone_server_serves_graphql() -> None:
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.shopify", "--port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(6)]
        graphql_url = lines[1].split(": ", 1)[1].strip()
        settings = dict(line.strip().split("=", 1) for line in lines[2:])
        reply = requests.post(
            graphql_url,
            json={"query": "{ shop { myshopifyDomain } }"},
            headers={"X-Shopify-Access-Token": settings["SOURCES__SHOPIFY__ACCESS_TOKEN"]},
            timeout=10,
        )
        assert reply.json()["data"]["shop"]["myshopifyDomain"].endswith(".myshopify.com")
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize("root", ["products", "customers", "orders", "collections"])
def test_root_counts_follow_the_search(shopify_sandbox: ShopifySandbox, root: str) -> None:
    records = getattr(shopify_sandbox.store, root)()
    middle = sorted(r["updatedAt"] for r in records)[len(records) // 2]
    query = (
        "query($q: String, $limit: Int) { %sCount(query: $q, limit: $limit) { count precision } }"  # noqa: E501, UP031
    )
    every = data(shopify_sandbox, query % root)[f"{root}Count"]
    assert every == {"count": len(records), "precision": "EXACT"}
    newer = data(shopify_sandbox, query % root, {"q": f"updated_at:>'{middle}'"})
    assert newer[f"{root}Count"]["count"] == sum(r["updatedAt"] > middle for r in records)
    capped = data(shopify_sandbox, query % root, {"limit": 2})[f"{root}Count"]
    assert capped == {"count": 2, "precision": "AT_LEAST"}
