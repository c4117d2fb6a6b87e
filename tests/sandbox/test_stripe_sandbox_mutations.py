"""Stripe sandbox writes over HTTP (form-encoded like the SDK) and through the Python store."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.stripe import StripeError, StripeSandbox

from .conftest import StripeHttp


def events_about(http: StripeHttp, obj_id: str) -> list[dict[str, Any]]:
    """Listed events whose object is ``obj_id``, newest first."""
    return [e for e in http.list_all("events") if e["data"]["object"]["id"] == obj_id]


def test_create_update_delete_customer_emits_events(stripe_http: StripeHttp) -> None:
    created = stripe_http.post(
        "/v1/customers",
        data={"email": "ada@example.com", "name": "Ada", "metadata[tier]": "gold"},
        headers={"Idempotency-Key": "create-ada"},
    )
    customer = created.json()
    updated = stripe_http.post(
        f"/v1/customers/{customer['id']}", data={"name": "Ada L.", "metadata[tier]": ""}
    ).json()
    deleted = stripe_http.delete(f"/v1/customers/{customer['id']}")

    assert created.status_code == 200 and customer["id"].startswith("cus_")
    assert (customer["email"], customer["metadata"], customer["object"]) == (
        "ada@example.com",
        {"tier": "gold"},
        "customer",
    )
    assert (updated["name"], updated["metadata"]) == ("Ada L.", {})
    assert deleted.json() == {"deleted": True, "id": customer["id"], "object": "customer"}
    events = events_about(stripe_http, customer["id"])
    assert [e["type"] for e in events] == [
        "customer.deleted",
        "customer.updated",
        "customer.created",
    ]
    assert events[1]["data"]["previous_attributes"] == {"metadata": {"tier": "gold"}, "name": "Ada"}
    assert events[2]["request"] == {
        "id": created.headers["Request-Id"],
        "idempotency_key": "create-ada",
    }
    # Stripe's delete event carries the object as it was, without a ``deleted`` field.
    assert events[0]["data"]["object"] == updated
    assert "deleted" not in events[0]["data"]["object"]
    assert customer["id"] not in {c["id"] for c in stripe_http.list_all("customers")}


@pytest.mark.parametrize(
    "list_name, create, update, event_prefix",
    [
        ("products", {"name": "Widget", "active": "true"}, {"description": "Blue"}, "product"),
        ("coupons", {"percent_off": "12.5", "duration": "once"}, {"name": "Spring"}, "coupon"),
        (
            "plans",
            {"product": "{product}", "currency": "usd", "interval": "month", "amount": "900"},
            {"nickname": "Basic"},
            "plan",
        ),
        (
            "invoiceitems",
            {"customer": "{customer}", "price": "{one_time_price}"},
            {"description": "Fee"},
            "invoiceitem",
        ),
    ],
    ids=["product", "coupon", "plan", "invoiceitem"],
)
def test_deletable_types_round_trip(
    stripe_http: StripeHttp,
    stripe_sandbox: StripeSandbox,
    list_name: str,
    create: dict[str, str],
    update: dict[str, str],
    event_prefix: str,
) -> None:
    refs = {
        "product": stripe_sandbox.store.listable("products")[0]["id"],
        "customer": stripe_sandbox.store.listable("customers")[0]["id"],
        "one_time_price": next(
            p["id"] for p in stripe_sandbox.store.listable("prices") if p["type"] == "one_time"
        ),
    }
    params = {key: value.format(**refs) for key, value in create.items()}

    created = stripe_http.post(f"/v1/{list_name}", data=params)
    obj_id = created.json()["id"]
    updated = stripe_http.post(f"/v1/{list_name}/{obj_id}", data=update)
    deleted = stripe_http.delete(f"/v1/{list_name}/{obj_id}")

    assert (created.status_code, updated.status_code, deleted.status_code) == (200, 200, 200)
    assert all(updated.json()[key] == value for key, value in update.items())
    stub = {"deleted": True, "id": obj_id, "object": event_prefix}
    assert deleted.json() == stub
    retrieved = stripe_http.get(f"/v1/{list_name}/{obj_id}")
    assert (retrieved.status_code, retrieved.json()) == (200, stub)
    events = events_about(stripe_http, obj_id)
    assert [e["type"] for e in events] == [
        f"{event_prefix}.deleted",
        f"{event_prefix}.updated",
        f"{event_prefix}.created",
    ]
    assert events[0]["data"]["object"] == updated.json()


def test_form_values_get_the_field_types(stripe_http: StripeHttp) -> None:
    coupon = stripe_http.post(
        "/v1/coupons",
        data={"percent_off": "25", "duration": "repeating", "duration_in_months": "3"},
    ).json()
    price = stripe_http.post(
        "/v1/prices",
        data={
            "product": stripe_http.list_all("products")[0]["id"],
            "currency": "eur",
            "unit_amount": "1500",
            "recurring[interval]": "year",
        },
    ).json()

    assert coupon["percent_off"] == 25.0 and isinstance(coupon["percent_off"], float)
    assert coupon["duration_in_months"] == 3
    assert (price["unit_amount"], price["unit_amount_decimal"], price["type"]) == (
        1500,
        "1500",
        "recurring",
    )
    assert price["recurring"]["interval"] == "year" and price["recurring"]["interval_count"] == 1


def test_prices_are_archived_not_deleted(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox
) -> None:
    price_id = stripe_sandbox.store.listable("prices")[0]["id"]

    archived = stripe_http.post(f"/v1/prices/{price_id}", data={"active": "false"}).json()
    delete = stripe_http.delete(f"/v1/prices/{price_id}")

    assert archived["active"] is False
    assert delete.status_code == 404
    assert events_about(stripe_http, price_id)[0]["data"]["previous_attributes"] == {"active": True}


def test_subscription_create_update_cancel(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox
) -> None:
    customer = stripe_sandbox.store.listable("customers")[0]["id"]
    price = next(p for p in stripe_sandbox.store.listable("prices") if p["type"] == "recurring")

    created = stripe_http.post(
        "/v1/subscriptions",
        data={"customer": customer, "items[0][price]": price["id"], "items[0][quantity]": "3"},
    ).json()
    stripe_http.post(f"/v1/subscriptions/{created['id']}", data={"metadata[seats]": "3"})
    canceled = stripe_http.delete(f"/v1/subscriptions/{created['id']}").json()

    item = created["items"]["data"][0]
    assert (created["status"], created["customer"], item["quantity"]) == ("active", customer, 3)
    assert item["price"] == price and item["plan"]["id"] == price["id"]
    assert canceled["status"] == "canceled" and canceled["canceled_at"] is not None
    assert created["id"] not in {s["id"] for s in stripe_http.list_all("subscriptions")}
    assert created["id"] in {s["id"] for s in stripe_http.list_all("subscriptions", status="all")}
    events = events_about(stripe_http, created["id"])
    assert [e["type"] for e in events] == [
        "customer.subscription.deleted",
        "customer.subscription.updated",
        "customer.subscription.created",
    ]
    # A cancel, not a delete: the event carries the canceled subscription, GET answers it.
    assert events[0]["data"]["object"] == canceled and "deleted" not in canceled
    assert stripe_http.get(f"/v1/subscriptions/{created['id']}").json() == canceled


@pytest.mark.parametrize(
    "list_name, change, event_type",
    [
        ("invoices", {"description": "Thanks!"}, "invoice.updated"),
        ("charges", {"description": "Order 42", "metadata[order]": "42"}, "charge.updated"),
        ("payouts", {"metadata[batch]": "7"}, "payout.updated"),
    ],
    ids=["invoice", "charge", "payout"],
)
def test_updates_emit_updated_events(
    stripe_http: StripeHttp,
    stripe_sandbox: StripeSandbox,
    list_name: str,
    change: dict[str, str],
    event_type: str,
) -> None:
    obj_id = stripe_sandbox.store.listable(list_name)[0]["id"]

    response = stripe_http.post(f"/v1/{list_name}/{obj_id}", data=change)

    assert response.status_code == 200
    newest = events_about(stripe_http, obj_id)[0]
    assert newest["type"] == event_type
    assert newest["data"]["object"] == response.json()
    assert set(newest["data"]["previous_attributes"]) == {key.split("[")[0] for key in change}


@pytest.mark.parametrize(
    "path, data, param",
    [
        ("/v1/customers", {"favourite_colour": "blue"}, "favourite_colour"),
        ("/v1/customers", {"balance": "lots"}, "balance"),
        ("/v1/products", {"description": "no name"}, "name"),
        ("/v1/coupons", {"duration": "once"}, "percent_off"),
        (
            "/v1/subscriptions",
            {"customer": "cus_missing", "items[0][price]": "price_x"},
            "customer",
        ),
    ],
    ids=[
        "unknown-param",
        "bad-integer",
        "missing-required",
        "coupon-without-discount",
        "missing-reference",
    ],
)
def test_invalid_writes_are_400s(
    stripe_http: StripeHttp, path: str, data: dict[str, str], param: str
) -> None:
    response = stripe_http.post(path, data=data)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_only_draft_invoices_can_be_deleted(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox
) -> None:
    paid = next(i for i in stripe_sandbox.store.listable("invoices") if i["status"] == "paid")

    response = stripe_http.delete(f"/v1/invoices/{paid['id']}")

    assert response.status_code == 400
    assert stripe_sandbox.store.get("invoice", paid["id"]) == paid


def test_idempotent_replay_returns_the_stored_response_once(stripe_http: StripeHttp) -> None:
    headers = {"Idempotency-Key": "key-123"}
    body = {"email": "once@example.com"}

    first = stripe_http.post("/v1/customers", data=body, headers=headers)
    replay = stripe_http.post("/v1/customers", data=body, headers=headers)
    conflict = stripe_http.post(
        "/v1/customers", data={"email": "other@example.com"}, headers=headers
    )

    assert replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [c["email"] for c in stripe_http.list_all("customers")].count("once@example.com") == 1
    assert len(events_about(stripe_http, first.json()["id"])) == 1
    assert conflict.status_code == 400
    assert conflict.json()["error"]["type"] == "idempotency_error"


def test_failed_request_does_not_consume_the_idempotency_key(stripe_http: StripeHttp) -> None:
    headers = {"Idempotency-Key": "retry-me"}

    rejected = stripe_http.post("/v1/products", data={"description": "x"}, headers=headers)
    accepted = stripe_http.post("/v1/products", data={"description": "x"}, headers=headers)

    assert rejected.status_code == 400
    assert accepted.status_code == 400  # same params, same validation error: nothing stored
    assert stripe_http.post("/v1/products", data={"name": "x"}, headers=headers).status_code == 200


def test_python_store_api_emits_events_and_copies(stripe_sandbox: StripeSandbox) -> None:
    store = stripe_sandbox.store
    customer = store.create("customer", email="py@example.com", metadata={"a": "1"})
    customer["email"] = "mutated-by-caller"

    unchanged = store.update("customer", customer["id"], email="py@example.com")
    updated = store.update("customer", customer["id"], metadata={"b": "2"})

    types = [
        e["type"] for e in store.listable("events") if e["data"]["object"]["id"] == customer["id"]
    ]
    assert store.get("customer", customer["id"])["email"] == "py@example.com"
    assert unchanged["metadata"] == {"a": "1"}
    assert updated["metadata"] == {"a": "1", "b": "2"}
    assert types == ["customer.updated", "customer.created"]


def test_python_store_api_rejects_unknown_fields_and_ids(stripe_sandbox: StripeSandbox) -> None:
    with pytest.raises(StripeError, match="unknown parameter: colour"):
        stripe_sandbox.store.create("customer", colour="red")
    with pytest.raises(StripeError, match="No such customer"):
        stripe_sandbox.store.update("customer", "cus_nope", name="x")


def test_deleting_a_customer_cancels_its_subscriptions(stripe_sandbox: StripeSandbox) -> None:
    store = stripe_sandbox.store
    active = next(s for s in store.listable("subscriptions") if s["status"] == "active")

    store.delete("customer", active["customer"])

    assert store.get("subscription", active["id"])["status"] == "canceled"
    assert store.get("customer", active["customer"])["deleted"] is True
