"""Stripe sandbox lists over HTTP: order, cursors, limits, filters, retrieval."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.stripe import StripeSandbox
from sandbox.stripe.resources import BY_LIST_NAME

from .conftest import StripeHttp

LIST_NAMES = sorted(BY_LIST_NAME)


def listed_params(list_name: str) -> dict[str, str]:
    return {"status": "all"} if list_name == "subscriptions" else {}


def sort_key(list_name: str, record: dict[str, Any]) -> tuple[int, str]:
    return record[BY_LIST_NAME[list_name].time_field], record["id"]


@pytest.mark.parametrize("list_name", LIST_NAMES, ids=LIST_NAMES)
def test_paging_with_starting_after_returns_every_record_newest_first(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox, list_name: str
) -> None:
    records = readonly_http.list_all(list_name, **listed_params(list_name))

    keys = [sort_key(list_name, record) for record in records]
    assert keys == sorted(keys, reverse=True)
    assert [r["id"] for r in records] == [
        r["id"] for r in stripe_readonly.store.listable(list_name)
    ]
    assert records, f"the seeded account has no {list_name}"


def test_list_response_has_stripe_shape_and_default_limit(readonly_http: StripeHttp) -> None:
    page = readonly_http.get("/v1/charges").json()

    assert set(page) == {"object", "data", "has_more", "url"}
    assert (page["object"], page["url"], page["has_more"]) == ("list", "/v1/charges", True)
    assert len(page["data"]) == 10


def test_ending_before_returns_the_newer_neighbours_newest_first(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox
) -> None:
    everything = [c["id"] for c in stripe_readonly.store.listable("charges")]
    cursor = everything[12]

    page = readonly_http.get("/v1/charges", params={"ending_before": cursor, "limit": 5}).json()
    first = readonly_http.get("/v1/charges", params={"ending_before": everything[3]}).json()

    assert [c["id"] for c in page["data"]] == everything[7:12]
    assert page["has_more"] is True
    assert [c["id"] for c in first["data"]] == everything[:3]
    assert first["has_more"] is False


def test_last_page_has_no_more(readonly_http: StripeHttp, stripe_readonly: StripeSandbox) -> None:
    everything = [c["id"] for c in stripe_readonly.store.listable("customers")]

    page = readonly_http.get(
        "/v1/customers", params={"starting_after": everything[-4], "limit": 3}
    ).json()

    assert [c["id"] for c in page["data"]] == everything[-3:]
    assert page["has_more"] is False


@pytest.mark.parametrize(
    "limit, message",
    [
        ("0", "This value must be greater than or equal to 1."),
        ("-3", "This value must be greater than or equal to 1."),
        ("101", "This value must be less than or equal to 100."),
        ("ten", "Invalid integer: ten"),
    ],
    ids=["zero", "negative", "above-100", "not-a-number"],
)
def test_limit_out_of_range_is_a_400_on_param_limit(
    readonly_http: StripeHttp, limit: str, message: str
) -> None:
    response = readonly_http.get("/v1/customers", params={"limit": limit})

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["message"]) == (
        "invalid_request_error",
        "limit",
        message,
    )


@pytest.mark.parametrize("limit", [1, 100], ids=["min", "max"])
def test_limit_bounds_are_accepted(readonly_http: StripeHttp, limit: int) -> None:
    page = readonly_http.get("/v1/events", params={"limit": limit}).json()

    assert len(page["data"]) == limit


def test_both_cursors_are_rejected(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox
) -> None:
    some_id = stripe_readonly.store.listable("customers")[0]["id"]

    response = readonly_http.get(
        "/v1/customers", params={"starting_after": some_id, "ending_before": some_id}
    )

    assert response.status_code == 400
    assert "ending_before, starting_after" in response.json()["error"]["message"]


@pytest.mark.parametrize("cursor", ["starting_after", "ending_before"], ids=str)
def test_unknown_cursor_id_is_resource_missing(readonly_http: StripeHttp, cursor: str) -> None:
    response = readonly_http.get("/v1/customers", params={cursor: "cus_doesnotexist00"})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "message": "No such customer: 'cus_doesnotexist00'",
        "param": cursor,
        "type": "invalid_request_error",
    }


def test_created_range_filters_match_the_store(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox
) -> None:
    created = sorted(c["created"] for c in stripe_readonly.store.listable("charges"))
    low, high = created[len(created) // 4], created[3 * len(created) // 4]

    records = readonly_http.list_all("charges", **{"created[gte]": low, "created[lt]": high})

    expected = [c for c in stripe_readonly.store.listable("charges") if low <= c["created"] < high]
    assert [c["id"] for c in records] == [c["id"] for c in expected]
    assert 0 < len(records) < len(created)


@pytest.mark.parametrize(
    "operator, include",
    [
        ("gt", lambda t, x: t > x),
        ("gte", lambda t, x: t >= x),
        ("lt", lambda t, x: t < x),
        ("lte", lambda t, x: t <= x),
        ("", lambda t, x: t == x),
    ],
    ids=["gt", "gte", "lt", "lte", "exact"],
)
def test_each_created_operator(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox, operator: str, include: Any
) -> None:
    pivot = stripe_readonly.store.listable("customers")[5]["created"]
    name = f"created[{operator}]" if operator else "created"

    records = readonly_http.list_all("customers", **{name: pivot})

    expected = [
        c["id"] for c in stripe_readonly.store.listable("customers") if include(c["created"], pivot)
    ]
    assert [c["id"] for c in records] == expected
    assert expected


def test_unknown_parameter_is_rejected_like_stripe(readonly_http: StripeHttp) -> None:
    response = readonly_http.get("/v1/customers", params={"colour": "blue"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["message"], error["param"]) == ("Received unknown parameter: colour", "colour")


def test_unknown_created_operator_is_rejected(readonly_http: StripeHttp) -> None:
    response = readonly_http.get("/v1/customers", params={"created[after]": "1"})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "created[after]"


def test_get_by_id_returns_the_stored_object(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox
) -> None:
    invoice = stripe_readonly.store.listable("invoices")[3]

    response = readonly_http.get(f"/v1/invoices/{invoice['id']}")

    assert response.status_code == 200
    assert response.json() == invoice


@pytest.mark.parametrize(
    "path, name, obj_id",
    [("customers", "customer", "cus_x"), ("plans", "plan", "gold"), ("events", "event", "evt_1")],
    ids=["customer", "plan", "event"],
)
def test_unknown_id_is_a_404_resource_missing(
    readonly_http: StripeHttp, path: str, name: str, obj_id: str
) -> None:
    response = readonly_http.get(f"/v1/{path}/{obj_id}")

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": f"No such {name}: '{obj_id}'",
            "param": "id",
            "type": "invalid_request_error",
        }
    }


def test_unrecognized_url_is_a_404(readonly_http: StripeHttp) -> None:
    response = readonly_http.get("/v1/widgets")

    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith(
        "Unrecognized request URL (GET: /v1/widgets)"
    )


@pytest.mark.parametrize(
    "params, statuses",
    [
        ({}, {"active", "past_due", "trialing"}),
        ({"status": "all"}, {"active", "past_due", "trialing", "canceled"}),
        ({"status": "canceled"}, {"canceled"}),
        ({"status": "past_due"}, {"past_due"}),
    ],
    ids=["default-hides-canceled", "all", "canceled", "past-due"],
)
def test_subscription_status_filter(
    readonly_http: StripeHttp,
    stripe_readonly: StripeSandbox,
    params: dict[str, str],
    statuses: set[str],
) -> None:
    records = readonly_http.list_all("subscriptions", **params)

    expected = [
        s["id"] for s in stripe_readonly.store.listable("subscriptions") if s["status"] in statuses
    ]
    assert [s["id"] for s in records] == expected
    assert expected


def test_invalid_subscription_status_is_rejected(readonly_http: StripeHttp) -> None:
    response = readonly_http.get("/v1/subscriptions", params={"status": "sleeping"})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "status"


@pytest.mark.parametrize(
    "list_name, param, field",
    [
        ("charges", "customer", "customer"),
        ("invoices", "customer", "customer"),
        ("invoices", "status", "status"),
        ("subscriptions", "customer", "customer"),
        ("payment_intents", "customer", "customer"),
        ("balance_transactions", "type", "type"),
        ("refunds", "charge", "charge"),
        ("prices", "product", "product"),
    ],
    ids=lambda value: str(value),
)
def test_equality_filters(
    readonly_http: StripeHttp,
    stripe_readonly: StripeSandbox,
    list_name: str,
    param: str,
    field: str,
) -> None:
    everything = stripe_readonly.store.listable(list_name)
    wanted = everything[0][field]
    extra = {"status": "all"} if list_name == "subscriptions" and param != "status" else {}

    records = readonly_http.list_all(list_name, **{param: wanted, **extra})

    assert [r["id"] for r in records] == [r["id"] for r in everything if r[field] == wanted]
    assert records


def test_expand_in_lists_embeds_referenced_objects(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox
) -> None:
    page = readonly_http.get("/v1/charges", params={"expand[]": "data.customer", "limit": 5}).json()

    for charge in page["data"]:
        assert charge["customer"]["object"] == "customer"
        assert (
            charge["customer"]["id"]
            == stripe_readonly.store.get("charge", charge["id"])["customer"]
        )


def test_expand_on_retrieve_follows_dotted_paths(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox
) -> None:
    charge = next(c for c in stripe_readonly.store.listable("charges") if c["invoice"])

    body = readonly_http.get(
        f"/v1/charges/{charge['id']}", params={"expand[0]": "invoice.subscription"}
    ).json()

    assert body["invoice"]["id"] == charge["invoice"]
    assert body["invoice"]["subscription"]["object"] == "subscription"


def test_expand_of_a_plain_field_is_rejected(readonly_http: StripeHttp) -> None:
    response = readonly_http.get("/v1/charges", params={"expand[]": "data.amount"})

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "This property cannot be expanded (amount)."
