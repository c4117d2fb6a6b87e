"""Shopify connector units: rows, search terms, queries against the schema, webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from graphql import parse, validate

from sandbox.shopify.schema import base_schema
from sources.kit.graphql.bulk import reassemble
from sources.kit.webhooks.inbox import Inbox
from sources.shopify.bulk import _child_field
from sources.shopify.cost import shopify_cost_reader
from sources.shopify.queries import (
    CANCEL_BULK,
    DELETION_EVENTS,
    POLL_BULK,
    RUN_BULK,
    SHAPES,
    SHOP,
    bulk_query,
    nested_query,
    paged_query,
)
from sources.shopify.rows import legacy_id, shape_row, snake, tombstone
from sources.shopify.run import minus, newest, search_for
from sources.shopify.webhooks import PATH, delete_tombstones, receiver_app
from tests.webhook_helpers import serve_in_thread


def documents() -> list[tuple[str, str]]:
    found = [("shop", SHOP), ("deletions", DELETION_EVENTS), ("run-bulk", RUN_BULK)]
    found += [("poll-bulk", POLL_BULK), ("cancel-bulk", CANCEL_BULK)]
    for name, shape in SHAPES.items():
        found.append((f"{name}-paged", paged_query(shape)))
        found.append((f"{name}-bulk", bulk_query(shape, "updated_at:>'2025-01-01T00:00:00Z'")))
        found += [(f"{name}-{n.field}", nested_query(n)) for n in shape.nested]
    return found


@pytest.mark.parametrize(("name", "document"), documents(), ids=[n for n, _ in documents()])
def test_every_document_is_valid_against_the_admin_schema(name: str, document: str) -> None:
    assert validate(base_schema(), parse(document)) == []


def test_rows_are_snake_case_with_the_numeric_id() -> None:
    row = shape_row(
        {
            "id": "gid://shopify/Product/42",
            "legacyResourceId": "42",
            "updatedAt": "x",
            "amountSpent": {"currencyCode": "USD"},
        }
    )
    assert row == {
        "id": "gid://shopify/Product/42",
        "legacy_resource_id": 42,
        "updated_at": "x",
        "amount_spent": {"currency_code": "USD"},
        "deleted": False,
    }
    assert snake("displayFinancialStatus") == "display_financial_status"
    assert legacy_id("gid://shopify/InventoryLevel/7?inventory_item_id=1") == 7


def test_tombstone_keeps_the_row_flagged() -> None:
    row = tombstone("gid://shopify/Collection/9", "2025-01-02T00:00:00Z")
    assert row["deleted"] is True and row["legacy_resource_id"] == 9
    assert row["updated_at"] == row["deleted_at"] == "2025-01-02T00:00:00Z"


@pytest.mark.parametrize(
    ("cursor", "first", "expected"),
    [
        (None, None, None),
        ("2025-01-01T00:00:00Z", None, "updated_at:>'2025-01-01T00:00:00Z'"),
        (None, "2024-06-01T00:00:00Z", "updated_at:>='2024-06-01T00:00:00Z'"),
    ],
    ids=["backfill", "incremental", "start-date"],
)
def test_search_terms(cursor: Any, first: Any, expected: Any) -> None:
    assert search_for(SHAPES["orders"], cursor, first) == expected
    assert search_for(SHAPES["inventory_levels"], cursor, first) is None  # always full


def test_cursor_moves_back_by_the_lookback() -> None:
    high = newest(
        None,
        [{"updatedAt": "2025-01-01T00:10:00Z"}, {"updatedAt": "2025-01-01T00:05:00Z"}],
        "updatedAt",
    )
    assert high == "2025-01-01T00:10:00Z"
    assert minus(high, 300) == "2025-01-01T00:05:00Z"


def test_cost_reader_reads_extensions_cost() -> None:
    payload = {
        "extensions": {
            "cost": {
                "requestedQueryCost": 101,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 40,
                    "restoreRate": 100.0,
                },
            }
        }
    }
    report = shopify_cost_reader(payload)
    assert report is not None
    assert (
        report.requested,
        report.actual,
        report.maximum,
        report.available,
        report.restore_rate,
    ) == (101, None, 2000.0, 40, 100.0)
    assert shopify_cost_reader({"data": {}}) is None


def test_bulk_lines_of_orders_reassemble_line_items() -> None:
    shape = SHAPES["orders"]
    lines: list[dict[str, Any]] = [
        {"id": "gid://shopify/Order/1", "refunds": [{"id": "gid://shopify/Refund/5"}]},
        {"id": "gid://shopify/LineItem/2", "__parentId": "gid://shopify/Order/1"},
    ]
    (order,) = reassemble(lines, _child_field(shape), ["lineItems"])
    assert order["lineItems"] == [{"id": "gid://shopify/LineItem/2"}]
    assert order["refunds"] == [{"id": "gid://shopify/Refund/5"}]


def signed(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_delete_webhooks_are_verified_stored_and_drained(tmp_path: Path) -> None:
    secret = "app-secret"
    body = json.dumps({"id": 123}).encode()
    headers = {
        "X-Shopify-Topic": "customers/delete",
        "X-Shopify-Webhook-Id": "w-1",
        "X-Shopify-Triggered-At": "2025-01-02T03:04:05Z",
        "Content-Type": "application/json",
    }
    with (
        Inbox(tmp_path / "inbox.sqlite") as inbox,
        serve_in_thread(receiver_app(inbox, secret)) as url,
    ):
        wrong = {**headers, "X-Shopify-Hmac-Sha256": signed(body, "wrong")}
        right = {**headers, "X-Shopify-Hmac-Sha256": signed(body, secret)}
        refused = requests.post(url + PATH, data=body, headers=wrong, timeout=10)
        accepted = requests.post(url + PATH, data=body, headers=right, timeout=10)
        assert (refused.status_code, accepted.status_code) == (401, 200)
        ((rows, event_ids),) = list(delete_tombstones(inbox, "customers"))
    assert event_ids == ["w-1"]
    assert rows == [tombstone("gid://shopify/Customer/123", "2025-01-02T03:04:05Z")]


class CountingGraphQL:
    """Answers a ``*Count`` query with ``count``, or fails like an API without it."""

    def __init__(self, count: Any) -> None:
        self.count = count
        self.variables: dict[str, Any] = {}

    def execute(self, query: str, variables: dict[str, Any], **kwargs: Any) -> Any:
        from sources.kit.graphql import GraphQLQueryError, GraphQLResult

        if self.count is None:
            raise GraphQLQueryError("Field 'productsCount' doesn't exist on type 'QueryRoot'")
        self.variables = variables
        return GraphQLResult({"productsCount": {"count": self.count}}, [], None)


@pytest.mark.parametrize(
    ("mode", "count", "cursor", "bulk"),
    [
        ("auto", 10_001, None, True),
        ("auto", 10_000, None, False),
        ("auto", None, None, False),
        ("auto", 10_001, "2025-01-01T00:00:00Z", False),
        ("bulk", None, None, True),
        ("paged", 10_001, None, False),
    ],
    ids=["auto-large", "auto-small", "auto-no-count", "incremental", "bulk", "paged"],
)
def test_backfill_choice(mode: str, count: Any, cursor: Any, bulk: bool) -> None:
    from types import SimpleNamespace

    from sources.shopify.run import Run, wants_bulk

    graphql = CountingGraphQL(count)
    client: Any = SimpleNamespace(graphql=graphql)
    run = Run(
        "r",
        monitor=client,
        client=client,
        lookback_s=0,
        backfill=mode,
        bulk_threshold=10_000,
        bulk_fallback=True,
        now=0.0,
    )
    assert wants_bulk(run, SHAPES["products"], cursor, None, "products") is bulk
    if graphql.variables:
        assert graphql.variables["limit"] == 10_001  # Shopify stops counting at the limit
