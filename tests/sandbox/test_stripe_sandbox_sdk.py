"""The official ``stripe`` SDK pointed at the sandbox pages every list like the real API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from sandbox.stripe import StripeSandbox

SERVICES = {
    "customers": "customers",
    "products": "products",
    "prices": "prices",
    "coupons": "coupons",
    "plans": "plans",
    "charges": "charges",
    "refunds": "refunds",
    "disputes": "disputes",
    "payment_intents": "payment_intents",
    "setup_intents": "setup_intents",
    "invoices": "invoices",
    "invoiceitems": "invoice_items",
    "subscriptions": "subscriptions",
    "balance_transactions": "balance_transactions",
    "payouts": "payouts",
    "transfers": "transfers",
    "events": "events",
}


@pytest.fixture
def client(stripe_sandbox: StripeSandbox) -> Iterator[stripe.StripeClient]:
    yield stripe.StripeClient(
        stripe_sandbox.api_key,
        base_addresses={"api": stripe_sandbox.base_url},
        max_network_retries=0,
    )


def test_sdk_pages_all_17_lists(stripe_sandbox: StripeSandbox, client: stripe.StripeClient) -> None:
    for list_name, service_name in SERVICES.items():
        params = {"limit": 7, **({"status": "all"} if list_name == "subscriptions" else {})}
        service = getattr(client.v1, service_name)

        ids = [obj.id for obj in service.list(params).auto_paging_iter()]

        expected = [obj["id"] for obj in stripe_sandbox.store.listable(list_name)]
        assert ids == expected, list_name
        assert len(ids) > 0, list_name


def test_global_sdk_configuration_works_too(
    stripe_sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe, "api_key", stripe_sandbox.api_key)
    monkeypatch.setattr(stripe, "api_base", stripe_sandbox.base_url)
    monkeypatch.setattr(stripe, "max_network_retries", 0)

    customers = list(stripe.Customer.list(limit=100).auto_paging_iter())

    assert [c.id for c in customers] == [
        c["id"] for c in stripe_sandbox.store.listable("customers")
    ]


def test_sdk_pages_backwards_with_ending_before(
    stripe_sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    charges = [c["id"] for c in stripe_sandbox.store.listable("charges")]

    ids = [
        c.id
        for c in client.v1.charges.list(
            {"ending_before": charges[-1], "limit": 5}
        ).auto_paging_iter()
    ]

    assert ids == list(reversed(charges[:-1]))


def test_sdk_writes_and_typed_errors(
    stripe_sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    customer = client.v1.customers.create(
        {"email": "sdk@example.com", "metadata": {"source": "sdk"}}
    )
    updated = client.v1.customers.update(customer.id, {"name": "SDK User"})
    deleted = client.v1.customers.delete(customer.id)

    assert (updated.name, updated.metadata.to_dict()) == ("SDK User", {"source": "sdk"})
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.invoices.retrieve("in_missing")
    assert missing.value.code == "resource_missing" and missing.value.http_status == 404
    stripe_sandbox.fail_next(1, status=429)
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list()
    stripe_sandbox.fail_next(1, status=500)
    with pytest.raises(stripe.APIError):
        client.v1.customers.list()
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient(
            "sk_test_wrong_key_1234", base_addresses={"api": stripe_sandbox.base_url}
        ).v1.customers.list()


@pytest.mark.parametrize(
    ("list_name", "service_name", "sdk_class"),
    [
        ("customers", "customers", stripe.Customer),
        ("products", "products", stripe.Product),
        ("coupons", "coupons", stripe.Coupon),
        ("plans", "plans", stripe.Plan),
        ("invoiceitems", "invoice_items", stripe.InvoiceItem),
    ],
    ids=["customer", "product", "coupon", "plan", "invoiceitem"],
)
def test_sdk_retrieve_of_a_deleted_object_gets_the_deleted_stub(
    stripe_sandbox: StripeSandbox,
    client: stripe.StripeClient,
    list_name: str,
    service_name: str,
    sdk_class: type[stripe.StripeObject],
) -> None:
    obj = stripe_sandbox.store.listable(list_name)[0]
    stripe_sandbox.store.delete(list_name, obj["id"])

    retrieved = getattr(client.v1, service_name).retrieve(obj["id"])

    # The SDK's resource classes declare ``deleted: Optional[Literal[True]]``, "Always
    # true for a deleted object": retrieve answers the stub, not a 404.
    assert isinstance(retrieved, sdk_class)
    assert retrieved.to_dict() == {"deleted": True, "id": obj["id"], "object": obj["object"]}


def test_sdk_retries_injected_failures(
    stripe_sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe._http_client.HTTPClient, "_sleep_time_seconds", lambda self, *a: 0.0)
    retrying = stripe.StripeClient(
        stripe_sandbox.api_key,
        base_addresses={"api": stripe_sandbox.base_url},
        max_network_retries=3,
    )
    stripe_sandbox.fail_next(1, status=409)
    stripe_sandbox.drop_next(1)

    page = retrying.v1.products.list({"limit": 3})

    assert len(page.data) == 3
    assert stripe_sandbox.stats.requests == 3
    assert (stripe_sandbox.stats.injected_errors, stripe_sandbox.stats.dropped) == (1, 1)


def long_parents(
    client: stripe.StripeClient, service: str, field: str, **params: str
) -> list[stripe.StripeObject]:
    found = getattr(client.v1, service).list({"limit": 100, **params}).auto_paging_iter()
    return [parent for parent in found if parent[field].has_more]


def test_sdk_pages_every_line_of_an_invoice_past_the_10_embedded(
    stripe_sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    invoices = long_parents(client, "invoices", "lines")
    assert invoices, "the seeded account has no invoice with more than 10 lines"
    for invoice in invoices:
        assert len(invoice.lines.data) == 10
        lines = client.v1.invoices.line_items.list(invoice.id, {"limit": 7}).auto_paging_iter()

        ids = [line.id for line in lines]

        whole = stripe_sandbox.store.get("invoice", invoice.id)
        assert whole is not None
        assert ids == [line["id"] for line in whole["lines"]["data"]]
        assert len(ids) > 10


def test_sdk_pages_every_item_of_a_subscription_past_the_10_embedded(
    stripe_sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    subscriptions = long_parents(client, "subscriptions", "items", status="all")
    assert subscriptions, "the seeded account has no subscription with more than 10 items"
    for subscription in subscriptions:
        assert len(subscription["items"].data) == 10
        listed = client.v1.subscription_items.list({"subscription": subscription.id, "limit": 4})

        ids = [item.id for item in listed.auto_paging_iter()]

        whole = stripe_sandbox.store.get("subscription", subscription.id)
        assert whole is not None
        assert ids == [item["id"] for item in whole["items"]["data"]]
        assert len(ids) > 10


def test_subscription_items_need_their_subscription(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscription_items.list({})
    assert (raised.value.param, raised.value.code) == ("subscription", "parameter_missing")
    assert "Missing required param: subscription" in str(raised.value.user_message)
