"""The kit's GraphQL client and cost limiter on bare answers (no server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Optional

import pytest
import requests

from sources.kit.graphql import (
    CostLimiter,
    CostReport,
    GraphQLAccessDeniedError,
    GraphQLClient,
    GraphQLQueryError,
    GraphQLThrottledError,
    PageSizer,
    github_rate_limit_reader,
    paginate,
    static_cost,
)
from sources.kit.graphql.bulk import reassemble
from sources.shopify.cost import shopify_cost_reader


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def cost(
    requested: float,
    actual: Optional[float],
    available: float,
    maximum: float = 1000.0,
    rate: float = 50.0,
) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": rate,
            },
        }
    }


THROTTLED = {
    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
}


class FakeSession(requests.Session):
    """Answers the queued payloads in order and records what was posted."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        super().__init__()
        self.answers: Iterator[dict[str, Any]] = iter(answers)
        self.posted: list[dict[str, Any]] = []

    def post(self, url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]  # noqa: A002
        self.posted.append(json)
        response = requests.Response()
        response.status_code = 200
        response._content = _dumps(next(self.answers))
        response.headers["Content-Type"] = "application/json"
        return response


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def make_client(
    answers: list[dict[str, Any]], clock: FakeClock
) -> tuple[GraphQLClient, FakeSession]:
    session = FakeSession(answers)
    limiter = CostLimiter(clock=clock, sleep=clock.sleep, wall_clock=clock)
    return GraphQLClient(
        session, "http://shop.test/graphql.json", limiter, shopify_cost_reader, title="Shopify"
    ), session


def test_limiter_learns_the_bucket_and_waits_for_the_requested_cost() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    assert limiter.page_budget(1000.0) is None  # nothing known before an answer
    reserved = limiter.acquire(500)
    assert clock.sleeps == []
    limiter.observe(reserved, CostReport(500, 100, 1000, 100, 50))
    assert limiter.maximum == 1000 and limiter.restore_rate == 50
    limiter.observe(limiter.acquire(100), CostReport(100, 100, 1000, 0, 50))
    # 300 points wanted, none left, 50 restored per second: 6 s
    limiter.acquire(300)
    assert clock.sleeps == [pytest.approx(6.0)]


def test_limiter_refunds_requested_minus_actual_without_a_server_level() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(
        limiter.acquire(None), CostReport(maximum=1000, available=1000, restore_rate=0.0001)
    )
    reserved = limiter.acquire(400)
    assert limiter.available() == pytest.approx(600)
    limiter.observe(reserved, CostReport(requested=400, actual=40, restore_rate=0.0001))
    assert limiter.available() == pytest.approx(960, abs=0.01)


def test_limiter_charges_an_answer_that_arrives_after_a_newer_one() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(
        limiter.acquire(None), CostReport(maximum=1000, available=1000, restore_rate=0.0001)
    )
    first, second = limiter.acquire(300), limiter.acquire(300)
    # the server charged both; the second answer (400 left) overtakes the first (700)
    limiter.observe(second, CostReport(requested=300, actual=300, available=400))
    limiter.observe(first, CostReport(requested=300, actual=300, available=700))
    assert limiter.available() == pytest.approx(100, abs=0.1)  # pessimistic, not 700


def test_client_retries_throttled_after_the_wait_the_cost_model_gives() -> None:
    clock = FakeClock()
    ok = {"data": {"shop": {"name": "x"}}, "extensions": cost(10, 2, 990)}
    client, session = make_client([{**THROTTLED, "extensions": cost(300, None, 100)}, ok], clock)
    result = client.execute("{ shop { name } }", estimated_cost=10)
    assert result.data == {"shop": {"name": "x"}}
    assert len(session.posted) == 2
    assert client.limiter.throttled == 1
    assert clock.sleeps == [pytest.approx(4.0)]  # (300 - 100) / 50


def test_client_gives_up_after_max_throttled() -> None:
    clock = FakeClock()
    answers = [{**THROTTLED, "extensions": cost(300, None, 0)}] * 3
    client, _ = make_client(answers, clock)
    client.max_throttled = 2
    with pytest.raises(GraphQLThrottledError, match="THROTTLED"):
        client.execute("{ shop { name } }")


@pytest.mark.parametrize(
    ("payload", "error", "match"),
    [
        (
            {
                "data": {"orders": None},
                "errors": [
                    {
                        "message": "Access denied for orders field.",
                        "path": ["orders"],
                        "extensions": {"code": "ACCESS_DENIED"},
                    }
                ],
            },
            GraphQLAccessDeniedError,
            "denied access to orders",
        ),
        (
            {
                "errors": [
                    {
                        "message": "Field 'nope' doesn't exist on type 'Product'",
                        "extensions": {"code": "undefinedField"},
                    }
                ]
            },
            GraphQLQueryError,
            "Field 'nope' doesn't exist",
        ),
        (
            {
                "errors": [
                    {
                        "message": "Query cost is 1500, which exceeds the max cost (1000).",
                        "extensions": {"code": "MAX_COST_EXCEEDED"},
                    }
                ]
            },
            GraphQLQueryError,
            "too costly",
        ),
    ],
    ids=["access-denied", "undefined-field", "max-cost"],
)
def test_fatal_errors_are_one_line(
    payload: dict[str, Any], error: type[Exception], match: str
) -> None:
    client, _ = make_client([payload], FakeClock())
    with pytest.raises(error, match=match) as raised:
        client.execute("{ orders(first: 1) { nodes { id } } }")
    assert "\n" not in str(raised.value)


QUERY = """query($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id title variants(first: 10) { nodes { id sku } } }
  }
}"""


def test_static_cost_follows_the_documented_rules() -> None:
    # connection 2 + first x (product 1 + variants connection 2 + 10 x variant 1)
    assert static_cost(QUERY, {"first": 5}) == 2 + 5 * (1 + 2 + 10)
    assert static_cost('mutation { bulkOperationCancel(id: "x") { userErrors { message } } }') == 10
    assert static_cost("{ shop { name } }") == 1


def test_page_sizer_fits_the_budget_in_the_servers_scale() -> None:
    sizer = PageSizer(QUERY, max_size=250, start_size=5)
    assert sizer.size(None) == 5
    sizer.learn(5, 2 * static_cost(QUERY, {"first": 5}))  # the server counts double
    size = sizer.size(500)
    assert sizer.estimate(size) <= 500 < sizer.estimate(size + 1)


def page(ids: list[str], more: bool, requested: float, available: float) -> dict[str, Any]:
    return {
        "data": {
            "products": {
                "pageInfo": {"hasNextPage": more, "endCursor": ids[-1]},
                "nodes": [{"id": i} for i in ids],
            }
        },
        "extensions": cost(requested, len(ids) + 2, available),
    }


def test_paginate_sizes_pages_from_the_learnt_budget_and_follows_cursors() -> None:
    clock = FakeClock()
    client, session = make_client(
        [page(["a", "b"], True, 67, 990), page(["c"], False, 100, 900)], clock
    )
    sizer = PageSizer(QUERY, start_size=5)
    pages = list(
        paginate(client, QUERY, ("products",), label="products", sizer=sizer, ceiling=1000.0)
    )
    assert [n["id"] for p in pages for n in p.nodes] == ["a", "b", "c"]
    assert session.posted[0]["variables"]["first"] == 5
    second = session.posted[1]["variables"]
    assert second["after"] == "b"
    assert sizer.estimate(second["first"]) <= 500  # half of the learnt 1,000


def test_partial_data_locates_the_failed_node() -> None:
    payload = page(["a", "b", "c"], False, 67, 990)
    payload["data"]["products"]["nodes"][1]["title"] = None
    payload["errors"] = [{"message": "Internal error", "path": ["products", "nodes", 1, "title"]}]
    client, _ = make_client([payload], FakeClock())
    (result,) = list(paginate(client, QUERY, ("products",), label="p", sizer=PageSizer(QUERY)))
    assert set(result.failures) == {1}
    assert result.failures[1].message == "Internal error"


def test_github_reader_and_a_window_budget() -> None:
    clock = FakeClock()
    clock.now = 1_700_000_000.0
    payload = {
        "data": {
            "rateLimit": {
                "limit": 5000,
                "cost": 3,
                "remaining": 2,
                "resetAt": "2023-11-14T22:23:20Z",
            }
        }
    }
    report = github_rate_limit_reader(payload)
    assert report == CostReport(3, 3, 5000, 2, None, 1_700_000_600.0)
    limiter = CostLimiter(clock=clock, sleep=clock.sleep, wall_clock=clock)
    limiter.observe(limiter.acquire(None), report)
    limiter.acquire(3)  # 2 left: wait for the window's reset, 600 s away
    assert clock.sleeps == [pytest.approx(600.0)]


def test_bulk_lines_reassemble_under_their_parents() -> None:
    lines = [
        {"id": "gid://shopify/Product/1", "title": "a"},
        {"id": "gid://shopify/ProductVariant/11", "__parentId": "gid://shopify/Product/1"},
        {"id": "gid://shopify/Product/2", "title": "b"},
        {"id": "gid://shopify/ProductVariant/12", "__parentId": "gid://shopify/Product/1"},
    ]
    rows = reassemble(lines, lambda obj: "variants", ["variants"])
    assert [r["id"] for r in rows] == ["gid://shopify/Product/1", "gid://shopify/Product/2"]
    assert [v["id"] for v in rows[0]["variants"]] == [
        "gid://shopify/ProductVariant/11",
        "gid://shopify/ProductVariant/12",
    ]
    assert rows[1]["variants"] == [] and "__parentId" not in rows[0]["variants"][0]


FOLLOW = """query($id: ID!, $first: Int!, $after: String) {
  node(id: $id) { ... on Product { variants(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { id } } } }
}"""


def test_nested_connection_is_completed_past_its_first_page() -> None:
    from sources.kit.graphql import complete_nested

    rest = {
        "data": {
            "node": {
                "variants": {
                    "pageInfo": {"hasNextPage": False, "endCursor": "v3"},
                    "nodes": [{"id": "v3"}],
                }
            }
        },
        "extensions": cost(13, 3, 990),
    }
    client, session = make_client([rest], FakeClock())
    first_page = {
        "pageInfo": {"hasNextPage": True, "endCursor": "v2"},
        "nodes": [{"id": "v1"}, {"id": "v2"}],
    }
    nodes = complete_nested(
        client,
        first_page,
        FOLLOW,
        ("node", "variants"),
        label="p",
        sizer=PageSizer(FOLLOW),
        variables={"id": "P1"},
    )
    assert [n["id"] for n in nodes] == ["v1", "v2", "v3"]
    assert session.posted[0]["variables"] == {"id": "P1", "first": 10, "after": "v2"}
    done = {"pageInfo": {"hasNextPage": False}, "nodes": [{"id": "v1"}]}
    assert complete_nested(
        client, done, FOLLOW, ("node", "variants"), label="p", sizer=PageSizer(FOLLOW), variables={}
    ) == [{"id": "v1"}]
    assert len(session.posted) == 1  # nothing more asked for a complete connection
