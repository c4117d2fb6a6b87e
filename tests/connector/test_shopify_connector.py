"""The Shopify connector against the sandbox: faults, errors, bulk lifecycle, limiter."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

import sources.shopify.bulk as bulk_module
from sources.kit.errors import AuthenticationError, SluiceError
from sources.kit.graphql import GraphQLAccessDeniedError
from sources.shopify import make_client, shopify_source
from tests.connector.shopify_helpers import ids, load, pipeline, rows, sandbox_client


def product_ids(sandbox: Any) -> set[str]:
    return {p["id"] for p in sandbox.store.products()}


def test_throttled_storm_is_recovered(shopify_sandbox: Any, tmp_path: Path) -> None:
    pipe = pipeline(tmp_path)
    shopify_sandbox.faults.throttle_next(6)
    client = load(pipe, shopify_sandbox, resources=["products"], backfill="paged")
    assert ids(pipe, "products") == product_ids(shopify_sandbox)
    assert client.graphql.limiter.throttled == 6


@pytest.mark.parametrize(
    "arm",
    [lambda f: f.fail_next(2, 503), lambda f: f.drop_next(1)],
    ids=["5xx", "dropped-connection"],
)
def test_transport_faults_are_retried(shopify_sandbox: Any, tmp_path: Path, arm: Any) -> None:
    pipe = pipeline(tmp_path)
    client = sandbox_client(shopify_sandbox)
    client.check_credentials()  # learn the bucket first: the fault hits a listing
    arm(shopify_sandbox.faults)
    load(pipe, shopify_sandbox, client=client, resources=["customers"], backfill="paged")
    assert ids(pipe, "customers") == {c["id"] for c in shopify_sandbox.store.customers()}


def test_limiter_learns_the_plan_and_never_throttles(shopify_sandbox: Any, tmp_path: Path) -> None:
    pipe = pipeline(tmp_path)
    client = load(pipe, shopify_sandbox, backfill="paged")
    snapshot = client.graphql.limiter.snapshot()
    assert (snapshot["maximum"], snapshot["restore_rate"]) == (1000.0, 50.0)
    assert shopify_sandbox.stats.throttled == 0
    assert max(shopify_sandbox.stats.requested_costs) <= 500  # half the learnt bucket


def test_bad_token_is_one_line_naming_the_setting(shopify_sandbox: Any) -> None:
    client = make_client(shop_url=shopify_sandbox.base_url, access_token="shpat_wrong")
    with pytest.raises(AuthenticationError, match="sources.shopify.access_token") as raised:
        client.check_credentials()
    assert "\n" not in str(raised.value) and "shpat_wrong" not in str(raised.value)


def test_access_denied_names_the_field(shopify_sandbox: Any, tmp_path: Path) -> None:
    shopify_sandbox.remove_scope("read_orders")
    source = shopify_source(
        client=sandbox_client(shopify_sandbox), resources=["orders"], backfill="paged"
    )
    with pytest.raises(Exception, match="denied access to orders") as raised:
        pipeline(tmp_path).run(source)
    assert isinstance(raised.value.__context__ or raised.value, (SluiceError, Exception))
    cause: Any = raised.value
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, GraphQLAccessDeniedError)


def test_partial_data_dead_letters_the_failed_nodes(shopify_sandbox: Any, tmp_path: Path) -> None:
    pipe = pipeline(tmp_path)
    shopify_sandbox.faults.fail_field("Collection", "descriptionHtml")
    shopify_sandbox.faults.fail_field("Product", "publishedAt")
    load(pipe, shopify_sandbox, resources=["products", "customers"], backfill="paged")
    dead = rows(pipe, "_dead_letters", "resource, reason")
    assert {r[0] for r in dead} == {"products"}
    assert len(dead) == len(shopify_sandbox.store.products())
    assert all("publishedAt" in r[1] for r in dead)
    assert ids(pipe, "customers") == {c["id"] for c in shopify_sandbox.store.customers()}


@pytest.mark.parametrize(
    "arm",
    [lambda f: f.fail_next_bulk(), lambda f: f.cancel_next_bulk()],
    ids=["failed", "canceled"],
)
def test_failed_bulk_falls_back_to_paging(shopify_sandbox: Any, tmp_path: Path, arm: Any) -> None:
    pipe = pipeline(tmp_path)
    arm(shopify_sandbox.faults)
    load(pipe, shopify_sandbox, resources=["products"], backfill="bulk")
    assert ids(pipe, "products") == product_ids(shopify_sandbox)
    assert shopify_sandbox.stats.bulk_operations == 1


def test_failed_bulk_without_fallback_stops_in_one_line(
    shopify_sandbox: Any, tmp_path: Path
) -> None:
    shopify_sandbox.faults.fail_next_bulk()
    source = shopify_source(
        client=sandbox_client(shopify_sandbox),
        resources=["products"],
        backfill="bulk",
        bulk_fallback=False,
    )
    with pytest.raises(Exception, match=r"bulk operation .* ended FAILED"):
        pipeline(tmp_path).run(source)


def test_expired_bulk_url_is_requested_again(
    shopify_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_poll = bulk_module.poll

    def poll_then_expire(*args: Any) -> Any:
        operation = real_poll(*args)
        shopify_sandbox.faults.expire_bulk_urls()  # the URL just received is stale now
        return operation

    monkeypatch.setattr(bulk_module, "poll", poll_then_expire)
    pipe = pipeline(tmp_path)
    load(pipe, shopify_sandbox, resources=["products"], backfill="bulk")
    assert ids(pipe, "products") == product_ids(shopify_sandbox)
    assert shopify_sandbox.stats.downloads >= 2


def test_unknown_resource_and_backfill_are_one_line() -> None:
    with pytest.raises(SluiceError, match="unknown Shopify resource"):
        shopify_source(resources=["nope"], client=cast(Any, object()))
    with pytest.raises(SluiceError, match="sources.shopify.backfill"):
        shopify_source(resources=["products"], backfill="fast", client=cast(Any, object()))


def test_nested_connections_past_their_first_page_are_paged(
    shopify_sandbox_factory: Any, tmp_path: Path
) -> None:
    from sandbox.shopify import Volume

    volume = Volume(products=6, max_variants=40, customers=1, orders=8, max_line_items=30)
    sandbox = shopify_sandbox_factory(volume=volume)
    pipe = pipeline(tmp_path)
    load(pipe, sandbox, resources=["products", "orders"], backfill="paged")
    variants = {v["id"] for p in sandbox.store.products() for v in p["variants"]}
    items = {i["id"] for o in sandbox.store.orders() for i in o["lineItems"]}
    assert max(len(p["variants"]) for p in sandbox.store.products()) > 10  # past a page
    assert ids(pipe, "product_variants") == variants
    assert ids(pipe, "order_line_items") == items
