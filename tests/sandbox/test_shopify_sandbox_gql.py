"""Fidelity: the well-known ``gql`` client works against the sandbox as against Shopify."""

from __future__ import annotations

from typing import Any

import pytest

gql_module = pytest.importorskip("gql")

from gql import Client, gql  # noqa: E402
from gql.transport.exceptions import TransportQueryError  # noqa: E402
from gql.transport.requests import RequestsHTTPTransport  # noqa: E402

from sandbox.shopify import ShopifySandbox  # noqa: E402

PAGE = gql(
    """
    query Products($first: Int!, $after: String) {
      products(first: $first, after: $after, sortKey: ID) {
        pageInfo { hasNextPage endCursor }
        edges { node { id title variants(first: 5) { nodes { id } } } }
      }
    }
    """
)


def client(sb: ShopifySandbox, *, schema: bool = False) -> Client:
    transport = RequestsHTTPTransport(
        url=sb.graphql_url, headers={"X-Shopify-Access-Token": sb.access_token}
    )
    return Client(transport=transport, fetch_schema_from_transport=schema)


def test_gql_pages_products_with_variables(shopify_sandbox: ShopifySandbox) -> None:
    ids: list[str] = []
    after = None
    with client(shopify_sandbox) as session:
        while True:
            result: dict[str, Any] = session.execute(
                PAGE, variable_values={"first": 8, "after": after}
            )
            page = result["products"]
            ids.extend(edge["node"]["id"] for edge in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    assert sorted(ids) == sorted(p["id"] for p in shopify_sandbox.store.products())
    assert len(ids) == len(set(ids))


def test_gql_fetches_the_schema_by_introspection_and_validates_locally(
    shopify_sandbox: ShopifySandbox,
) -> None:
    with client(shopify_sandbox, schema=True) as session:
        result = session.execute(gql("{ shop { name myshopifyDomain } }"))
        assert result["shop"]["myshopifyDomain"].endswith(".myshopify.com")
        schema = session.client.schema
        assert schema is not None
        assert "BulkOperation" in schema.type_map
        with pytest.raises(Exception, match="colour"):
            session.execute(gql("{ products(first: 1) { nodes { colour } } }"))


@pytest.mark.parametrize(
    ("arrange", "query", "code"),
    [
        (lambda sb: sb.faults.throttle_next(1), "{ shop { name } }", "THROTTLED"),
        (
            lambda sb: sb.remove_scope("read_orders"),
            "{ orders(first: 1) { nodes { id } } }",
            "ACCESS_DENIED",
        ),
        (lambda sb: None, "{ products(first: 1) { nodes { colour } } }", "undefinedField"),
        (
            lambda sb: None,
            "{ products(first: 200) { nodes { variants(first: 10) { nodes { id } } } } }",
            "MAX_COST_EXCEEDED",
        ),
    ],
    ids=["throttled", "access-denied", "undefined-field", "max-cost"],
)
def test_gql_raises_transport_query_error_with_extensions(
    shopify_sandbox: ShopifySandbox, arrange: Any, query: str, code: str
) -> None:
    arrange(shopify_sandbox)
    with pytest.raises(TransportQueryError) as caught:
        client(shopify_sandbox).execute(gql(query))
    errors = caught.value.errors or []
    assert errors[0]["extensions"]["code"] == code
    assert "cost" in (caught.value.extensions or {})
