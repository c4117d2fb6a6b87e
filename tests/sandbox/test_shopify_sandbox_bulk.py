"""Bulk operations, deletion events and signed webhooks of the Shopify sandbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from sandbox.shopify import ShopifySandbox
from sources.kit.webhooks.signatures import verify_shopify_hmac

RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
  bulkOperation { id status } userErrors { field message code } } }"""
POLL = """{ currentBulkOperation { id status errorCode objectCount rootObjectCount url
  partialDataUrl createdAt completedAt } }"""
PRODUCTS = "{ products { edges { node { id title variants { edges { node { id sku } } } } } } }"


def run(sb: ShopifySandbox, query: str = PRODUCTS) -> dict[str, Any]:
    return sb.post(RUN, {"q": query}).json()["data"]["bulkOperationRunQuery"]  # type: ignore[no-any-return]


def poll(sb: ShopifySandbox) -> dict[str, Any]:
    return sb.post(POLL).json()["data"]["currentBulkOperation"]  # type: ignore[no-any-return]


def rows(url: str) -> list[dict[str, Any]]:
    reply = requests.get(url, timeout=5)
    assert reply.status_code == 200
    return [json.loads(line) for line in reply.text.splitlines()]


def test_bulk_lifecycle_and_jsonl_with_parent_ids(shopify_sandbox: ShopifySandbox) -> None:
    created = run(shopify_sandbox)
    assert created["userErrors"] == [] and created["bulkOperation"]["status"] == "CREATED"
    assert poll(shopify_sandbox)["status"] == "RUNNING"
    done = poll(shopify_sandbox)
    assert done["status"] == "COMPLETED" and done["completedAt"] and done["errorCode"] is None
    lines = rows(done["url"])
    products = shopify_sandbox.store.products()
    variants = [v for p in products for v in p["variants"]]
    assert int(done["objectCount"]) == len(lines) == len(products) + len(variants)
    assert int(done["rootObjectCount"]) == len(products)
    parents = {row["id"] for row in lines if "__parentId" not in row}
    assert parents == {p["id"] for p in products}
    children = {row["id"]: row["__parentId"] for row in lines if "__parentId" in row}
    assert children == {v["id"]: p["id"] for p in products for v in p["variants"]}
    # a child comes after its parent
    seen: set[str] = set()
    for row in lines:
        assert row.get("__parentId", next(iter(parents))) in seen or "__parentId" not in row
        seen.add(row["id"])
    assert shopify_sandbox.stats.bulk_operations == 1


def test_bulk_operation_by_node_id(shopify_sandbox: ShopifySandbox) -> None:
    op_id = run(shopify_sandbox)["bulkOperation"]["id"]
    query = '{ node(id: "' + op_id + '") { ... on BulkOperation { id status url } } }'
    statuses = [shopify_sandbox.post(query).json()["data"]["node"]["status"] for _ in range(3)]
    assert statuses == ["RUNNING", "COMPLETED", "COMPLETED"]


def test_bulk_completes_with_the_clock(shopify_sandbox_factory: Any) -> None:
    sb = shopify_sandbox_factory(bulk_polls_to_complete=100)
    run(sb)
    assert poll(sb)["status"] == "RUNNING"
    sb.advance(10)
    assert poll(sb)["status"] == "COMPLETED"


def test_one_bulk_query_at_a_time(shopify_sandbox: ShopifySandbox) -> None:
    first = run(shopify_sandbox)["bulkOperation"]["id"]
    second = run(shopify_sandbox)
    assert second["bulkOperation"] is None
    (error,) = second["userErrors"]
    assert error["code"] == "OPERATION_IN_PROGRESS" and first in error["message"]


@pytest.mark.parametrize(
    "query",
    ["{ shop { name } }", "{ products { edges { node { colour } } } }", "{ products {"],
    ids=["no-connection", "unknown-field", "syntax"],
)
def test_invalid_bulk_query_is_a_user_error(shopify_sandbox: ShopifySandbox, query: str) -> None:
    answer = run(shopify_sandbox, query)
    assert answer["bulkOperation"] is None
    assert answer["userErrors"][0]["code"] == "INVALID"


def test_failed_bulk_operation(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.faults.fail_next_bulk()
    run(shopify_sandbox)
    poll(shopify_sandbox)
    failed = poll(shopify_sandbox)
    assert (failed["status"], failed["errorCode"], failed["url"]) == (
        "FAILED",
        "INTERNAL_SERVER_ERROR",
        None,
    )
    assert run(shopify_sandbox)["userErrors"] == []  # a new one may start


def test_canceled_bulk_operation(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.faults.cancel_next_bulk()
    run(shopify_sandbox)
    poll(shopify_sandbox)
    assert poll(shopify_sandbox)["status"] == "CANCELED"


def test_bulk_operation_cancel_mutation(shopify_sandbox: ShopifySandbox) -> None:
    op_id = run(shopify_sandbox)["bulkOperation"]["id"]
    cancel = 'mutation { bulkOperationCancel(id: "%s") { bulkOperation { status } userErrors { message } } }'  # noqa: E501
    answer = shopify_sandbox.post(cancel % op_id).json()["data"]["bulkOperationCancel"]
    assert answer == {"bulkOperation": {"status": "CANCELING"}, "userErrors": []}
    assert poll(shopify_sandbox)["status"] == "CANCELED"


def test_expired_url_is_403_and_a_fresh_poll_gives_a_working_url(
    shopify_sandbox: ShopifySandbox,
) -> None:
    run(shopify_sandbox)
    poll(shopify_sandbox)
    url = poll(shopify_sandbox)["url"]
    shopify_sandbox.faults.expire_bulk_urls()
    assert requests.get(url, timeout=5).status_code == 403
    fresh = poll(shopify_sandbox)["url"]
    assert fresh != url and rows(fresh)


def test_url_expires_after_seven_days(shopify_sandbox: ShopifySandbox) -> None:
    run(shopify_sandbox)
    poll(shopify_sandbox)
    url = poll(shopify_sandbox)["url"]
    shopify_sandbox.advance(7 * 86_400 + 1)
    assert requests.get(url, timeout=5).status_code == 403
    assert requests.get(shopify_sandbox.base_url + "/bulk/00ff.jsonl", timeout=5).status_code == 404


def test_bulk_orders_keep_lists_inline_and_line_items_as_rows(
    shopify_sandbox: ShopifySandbox,
) -> None:
    query = (
        "{ orders { edges { node { id refunds { id } lineItems { edges { node { id } } } } } } }"
    )
    run(shopify_sandbox, query)
    poll(shopify_sandbox)
    lines = rows(poll(shopify_sandbox)["url"])
    orders = shopify_sandbox.store.orders()
    roots = [row for row in lines if "__parentId" not in row]
    assert len(roots) == len(orders) and all("refunds" in row for row in roots)
    assert len(lines) - len(roots) == sum(len(o["lineItems"]) for o in orders)


def test_deletion_events_for_products_and_collections(shopify_sandbox: ShopifySandbox) -> None:
    product = shopify_sandbox.store.products()[0]["id"]
    collection = shopify_sandbox.store.collections()[0]["id"]
    customer = shopify_sandbox.store.customers()[0]["id"]
    shopify_sandbox.advance(10)
    for kind, gid in (("product", product), ("collection", collection), ("customer", customer)):
        shopify_sandbox.delete(kind, gid)
    query = """query($types: [DeletionEventSubjectType!], $q: String) {
      deletionEvents(first: 10, subjectTypes: $types, query: $q) {
        nodes { subjectId subjectType occurredAt } } }"""
    every = shopify_sandbox.post(query).json()["data"]["deletionEvents"]["nodes"]
    assert [(e["subjectId"], e["subjectType"]) for e in every] == [
        (product, "PRODUCT"),
        (collection, "COLLECTION"),
    ]
    only = shopify_sandbox.post(query, {"types": ["PRODUCT"]}).json()
    assert [e["subjectId"] for e in only["data"]["deletionEvents"]["nodes"]] == [product]
    later = shopify_sandbox.post(query, {"q": f"occurred_at:>'{every[0]['occurredAt']}'"}).json()
    assert later["data"]["deletionEvents"]["nodes"] == []
    assert len(shopify_sandbox.store.deletion_events()) == 2


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Handler", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks", received
    server.shutdown()
    server.server_close()


def test_signed_webhooks_for_update_and_delete(
    shopify_sandbox: ShopifySandbox, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    shopify_sandbox.send_webhooks_to(url)
    product = shopify_sandbox.store.products()[0]
    order = shopify_sandbox.store.orders()[0]
    shopify_sandbox.update("product", product["id"], title="Webhooked")
    shopify_sandbox.update("order", order["id"], note="x")
    shopify_sandbox.delete("product", product["id"])
    topics = [headers["X-Shopify-Topic"] for headers, _ in received]
    assert topics == ["products/update", "orders/updated", "products/delete"]
    for headers, body in received:
        verify_shopify_hmac(body, headers["X-Shopify-Hmac-Sha256"], shopify_sandbox.webhook_secret)
        assert headers["X-Shopify-Shop-Domain"].endswith(".myshopify.com")
        assert headers["X-Shopify-API-Version"] == "2025-01"
        assert headers["X-Shopify-Webhook-Id"]
    update = json.loads(received[0][1])
    assert update["admin_graphql_api_id"] == product["id"] and update["title"] == "Webhooked"
    assert json.loads(received[2][1]) == {"id": int(product["legacyResourceId"])}
    assert [d.status for d in shopify_sandbox.webhooks.deliveries] == [200, 200, 200]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "{ collections { edges { node { id products { edges { node { id"
            " variants { edges { node { id } } } } } } } } } }",
            "nested more than 2",
        ),
        (
            "{ orders { edges { node { id a: lineItems { edges { node { id } } }"
            " b: lineItems { edges { node { id } } } c: lineItems { edges { node { id } } }"
            " d: lineItems { edges { node { id } } } e: lineItems { edges { node { id } } }"
            " } } } }",
            "more than 5 connections",
        ),
    ],
    ids=["too-deep", "too-many"],
)
def test_bulk_query_limits(shopify_sandbox: ShopifySandbox, query: str, message: str) -> None:
    (error,) = run(shopify_sandbox, query)["userErrors"]
    assert message in error["message"] and error["code"] == "INVALID"
