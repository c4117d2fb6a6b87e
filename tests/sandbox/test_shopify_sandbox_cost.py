"""Calculated query cost and the leaky bucket, against figures worked out by hand.

Rules (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits, "Cost
calculation"): scalar/enum 0, object 1, connection 2 + first x (cost of one node),
interface: the most expensive possible selection, mutation 10.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sandbox.shopify import ScaledClock, ShopifySandbox, Volume

Factory = Callable[..., ShopifySandbox]


def cost(answer: dict[str, Any]) -> dict[str, Any]:
    return answer["extensions"]["cost"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        ("{ shop { name } }", {}, 1),
        ("{ products(first: 10) { edges { cursor node { id title } } } }", {}, 2 + 10 * 1),
        (
            "{ products(first: 5) { nodes { id variants(first: 3) { nodes { id sku } } } } }",
            {},
            2 + 5 * (1 + (2 + 3 * 1)),
        ),
        (
            "query($n: Int!) { customers(first: $n) { nodes { id amountSpent { amount } } } }",
            {"n": 20},
            2 + 20 * (1 + 1),
        ),
        (
            "fragment P on Product { id title } { products(first: 4) { nodes { ...P } } }",
            {},
            2 + 4 * 1,
        ),
        (
            """{ node(id: "gid://shopify/Product/1") { id
                 ... on Product { variants(first: 2) { nodes { id } } }
                 ... on Customer { amountSpent { amount } } } }""",
            {},
            1 + max(2 + 2 * 1, 1),
        ),
        (
            'mutation { bulkOperationRunQuery(query: "{ products { edges { node { id } } } }")'
            " { bulkOperation { id } userErrors { message } } }",
            {},
            10,
        ),
        ("{ products(first: 3) { pageInfo { hasNextPage } nodes { id } } }", {}, 2 + 3),
        (
            "{ orders(first: 2) { nodes { refunds(first: 20) { id totalRefundedSet { shopMoney { amount } } } } } }",  # noqa: E501
            {},
            2 + 2 * (1 + (1 + 2)),
        ),
        (
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            {"ids": ["gid://shopify/Product/1", "gid://shopify/Product/2"]},
            2 * 1,
        ),
    ],
    ids=[
        "object",
        "connection",
        "nested",
        "variables",
        "fragment",
        "interface",
        "mutation",
        "pageinfo",
        "plain-list",
        "nodes-ids",
    ],
)
def test_requested_cost_by_hand(
    shopify_sandbox: ShopifySandbox, query: str, variables: dict[str, Any], expected: int
) -> None:
    assert cost(shopify_sandbox.post(query, variables).json())["requestedQueryCost"] == expected


def test_actual_cost_counts_what_came_back(shopify_sandbox: ShopifySandbox) -> None:
    answer = shopify_sandbox.post("{ products(first: 250) { nodes { id } } }").json()
    products = len(shopify_sandbox.store.products())
    assert cost(answer)["requestedQueryCost"] == 252
    assert cost(answer)["actualQueryCost"] == 2 + products
    # the difference is refunded: only the actual cost left the bucket
    assert cost(answer)["throttleStatus"]["currentlyAvailable"] == 1000 - (2 + products)


def test_leaky_bucket_throttles_then_refills_with_the_clock(
    shopify_sandbox_factory: Factory,
) -> None:
    sb = shopify_sandbox_factory(bucket_size=100.0, restore_rate=10.0, volume=Volume(products=30))
    query = "{ products(first: 50) { nodes { id } } }"  # requested 52, actual 32
    first = cost(sb.post(query).json())
    assert first["throttleStatus"] == {
        "maximumAvailable": 100.0,
        "currentlyAvailable": 68.0,
        "restoreRate": 10.0,
    }
    assert cost(sb.post(query).json())["throttleStatus"]["currentlyAvailable"] == 36.0
    throttled = sb.post(query).json()
    assert throttled["errors"] == [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ]
    assert "data" not in throttled
    assert cost(throttled)["throttleStatus"]["currentlyAvailable"] == 36.0
    assert sb.stats.throttled == 1
    sb.advance(2)  # 36 + 2 s x 10/s = 56 >= 52
    assert "errors" not in sb.post(query).json()
    sb.advance(3600)
    assert cost(sb.post("{ shop { id } }").json())["throttleStatus"]["currentlyAvailable"] == 99.0


def test_points_spent_adds_actual_costs(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.post("{ shop { name } }")
    shopify_sandbox.post("{ products(first: 2) { nodes { id } } }")
    assert shopify_sandbox.stats.points_spent == 1 + 4
    assert shopify_sandbox.stats.requests == 2


def test_query_over_1000_is_max_cost_exceeded(shopify_sandbox: ShopifySandbox) -> None:
    query = "{ products(first: 100) { nodes { id variants(first: 10) { nodes { id } } } } }"
    answer = shopify_sandbox.post(query).json()
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 2 + 100 * (1 + 2 + 10) == 1302
    assert error["extensions"]["maxCost"] == 1000
    # nothing was taken from the bucket
    assert cost(answer)["throttleStatus"]["currentlyAvailable"] == 1000.0


def test_max_cost_is_per_query_not_per_plan(shopify_sandbox_factory: Factory) -> None:
    sb = shopify_sandbox_factory(bucket_size=2000.0, restore_rate=100.0)
    query = "{ products(first: 100) { nodes { id variants(first: 10) { nodes { id } } } } }"
    assert sb.post(query).json()["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_forced_throttle(shopify_sandbox: ShopifySandbox) -> None:
    shopify_sandbox.faults.throttle_next(2)
    codes = [
        shopify_sandbox.post("{ shop { name } }")
        .json()
        .get("errors", [{}])[0]
        .get("extensions", {})
        .get("code")
        for _ in range(3)
    ]
    assert codes == ["THROTTLED", "THROTTLED", None]


def test_scaled_clock_refills_the_bucket_faster(shopify_sandbox_factory: Factory) -> None:
    clock = ScaledClock(scale=1000.0)
    sb = shopify_sandbox_factory(bucket_size=100.0, restore_rate=10.0, clock=clock)
    sb.bucket.drain(100)
    clock.sleep(5.0)  # 5 ms of real time: 50 points restored
    available = cost(sb.post("{ shop { id } }").json())["throttleStatus"]["currentlyAvailable"]
    assert 49.0 <= available <= 100.0
    with pytest.raises(TypeError, match="ManualClock"):
        sb.advance(1)
