"""Stripe sandbox events: seeded history, snapshots, the 30-day window, type filters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.stripe import SandboxClock, StripeSandbox
from sandbox.stripe.resources import EVENTS_WINDOW_SECONDS, OBJECT_TYPES, RESOURCES

from .conftest import StripeHttp

CREATION_EVENTS = {"charge": ("charge.succeeded", "charge.failed", "charge.pending")}


def all_events(sandbox: StripeSandbox) -> list[dict[str, Any]]:
    """Every stored event, oldest first, whatever its age."""
    return [entry.obj for entry in sandbox.store.sorted_entries("events")]


def all_objects(sandbox: StripeSandbox, type_name: str) -> list[dict[str, Any]]:
    """Live and deleted objects of a type, from their events (deleted ones vanish from lists)."""
    ids = {
        e["data"]["object"]["id"]
        for e in all_events(sandbox)
        if e["data"]["object"]["object"] == type_name
    }
    ids |= {o["id"] for o in sandbox.store.listable(RESOURCES[type_name].list_name)}
    return [obj for obj in (sandbox.store.get(type_name, i) for i in sorted(ids)) if obj]


@pytest.mark.parametrize("type_name", [t for t in OBJECT_TYPES if RESOURCES[t].has_events], ids=str)
def test_every_seeded_object_has_a_creation_event_at_its_creation_time(
    stripe_readonly: StripeSandbox, type_name: str
) -> None:
    spec = RESOURCES[type_name]
    expected = CREATION_EVENTS.get(type_name, (spec.event_type("created"),))
    created_at = {
        e["data"]["object"]["id"]: e["created"]
        for e in all_events(stripe_readonly)
        if e["type"] in expected
    }

    objects = all_objects(stripe_readonly, type_name)

    assert objects
    assert all(created_at[o["id"]] == o[spec.time_field] for o in objects)


def test_balance_transactions_have_no_events(stripe_readonly: StripeSandbox) -> None:
    kinds = {e["data"]["object"]["object"] for e in all_events(stripe_readonly)}

    assert "balance_transaction" not in kinds
    assert "charge" in kinds


def test_last_event_of_each_object_is_a_snapshot_of_its_current_state(
    stripe_readonly: StripeSandbox,
) -> None:
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for event in all_events(stripe_readonly):
        obj = event["data"]["object"]
        last[(obj["object"], obj["id"])] = obj

    def state(key: tuple[str, str]) -> dict[str, Any]:
        # ``store.get`` flags deleted objects; their delete event carries the object as it
        # was, without the flag (stripe/stripe-dotnet#1870).
        current = dict(stripe_readonly.store.get(*key) or {})
        current.pop("deleted", None)
        return current

    mismatched = [key for key, snapshot in last.items() if state(key) != snapshot]

    assert last and not mismatched
    assert not any("deleted" in snapshot for snapshot in last.values())


def test_update_events_carry_previous_attributes_that_differ_from_the_snapshot(
    stripe_readonly: StripeSandbox,
) -> None:
    updates = [e for e in all_events(stripe_readonly) if e["type"].endswith(".updated")]

    assert {e["data"]["object"]["object"] for e in updates} >= {
        "customer",
        "subscription",
        "product",
    }
    for event in updates:
        previous = event["data"]["previous_attributes"]
        assert previous
        assert all(event["data"]["object"].get(k) != v for k, v in previous.items())


def test_creation_snapshot_predates_later_changes(stripe_readonly: StripeSandbox) -> None:
    refunded = next(e for e in all_events(stripe_readonly) if e["type"] == "charge.refunded")
    charge_id = refunded["data"]["object"]["id"]
    created = next(
        e
        for e in all_events(stripe_readonly)
        if e["type"] == "charge.succeeded" and e["data"]["object"]["id"] == charge_id
    )

    assert created["data"]["object"]["amount_refunded"] == 0
    assert refunded["data"]["object"]["amount_refunded"] > 0
    assert refunded["data"]["previous_attributes"]["amount_refunded"] == 0


def test_event_shape_matches_the_fixture(readonly_http: StripeHttp) -> None:
    event = readonly_http.get("/v1/events", params={"limit": 1}).json()["data"][0]

    assert set(event) == {
        "api_version",
        "created",
        "data",
        "id",
        "livemode",
        "object",
        "pending_webhooks",
        "request",
        "type",
    }
    assert event["object"] == "event" and event["id"].startswith("evt_")
    assert set(event["request"]) == {"id", "idempotency_key"}


def test_only_the_last_30_days_are_listed_or_retrievable(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox
) -> None:
    cutoff = stripe_readonly.store.now() - EVENTS_WINDOW_SECONDS
    stored = all_events(stripe_readonly)
    old = [e for e in stored if e["created"] < cutoff]

    listed = readonly_http.list_all("events")
    response = readonly_http.get(f"/v1/events/{old[0]['id']}")

    assert old and listed
    assert [e["id"] for e in listed] == [
        e["id"] for e in reversed(stored) if e["created"] >= cutoff
    ]
    assert response.status_code == 404
    assert stripe_readonly.store.get("event", old[0]["id"]) == old[0]


def test_advancing_the_clock_ages_events_out_of_the_window(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
) -> None:
    clock = SandboxClock()
    sandbox = stripe_sandbox_factory(now=clock)
    before = len(sandbox.store.listable("events"))
    newest = sandbox.store.listable("events")[0]

    sandbox.advance(10 * 86_400)

    after = sandbox.store.listable("events")
    assert before > len(after) > 0
    assert all(e["created"] >= clock() - EVENTS_WINDOW_SECONDS for e in after)
    assert after[0] == newest


@pytest.mark.parametrize(
    "pattern, matches",
    [
        ("customer.*", lambda t: t.startswith("customer.")),
        ("*.deleted", lambda t: t.endswith(".deleted")),
        ("invoice.paid", lambda t: t == "invoice.paid"),
        ("charge.dispute.*", lambda t: t.startswith("charge.dispute.")),
    ],
    ids=["prefix-wildcard", "suffix-wildcard", "exact", "nested-prefix"],
)
def test_type_filter_with_wildcards(
    readonly_http: StripeHttp,
    stripe_readonly: StripeSandbox,
    pattern: str,
    matches: Callable[[str], bool],
) -> None:
    listed = readonly_http.list_all("events", type=pattern)

    expected = [e["id"] for e in stripe_readonly.store.listable("events") if matches(e["type"])]
    assert [e["id"] for e in listed] == expected
    assert expected


def test_types_array_filter(readonly_http: StripeHttp, stripe_readonly: StripeSandbox) -> None:
    wanted = ["invoice.paid", "customer.updated"]

    listed = readonly_http.list_all("events", **{f"types[{i}]": t for i, t in enumerate(wanted)})

    expected = [e["id"] for e in stripe_readonly.store.listable("events") if e["type"] in wanted]
    assert [e["id"] for e in listed] == expected
    assert {e["type"] for e in listed} == set(wanted)


def test_more_than_20_types_is_rejected(readonly_http: StripeHttp) -> None:
    params = {f"types[{i}]": f"customer.t{i}" for i in range(21)}

    response = readonly_http.get("/v1/events", params=params)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "types"


def test_type_and_types_together_are_rejected(readonly_http: StripeHttp) -> None:
    response = readonly_http.get("/v1/events", params={"type": "customer.*", "types[]": "x.y"})

    assert response.status_code == 400


@pytest.mark.parametrize(
    "type_name",
    ["customer", "product", "coupon", "plan", "invoiceitem", "invoice"],
    ids=str,
)
def test_seeded_deletions_vanish_and_surface_as_deleted_events(
    readonly_http: StripeHttp, stripe_readonly: StripeSandbox, type_name: str
) -> None:
    spec = RESOURCES[type_name]
    deletion = next(
        e for e in all_events(stripe_readonly) if e["type"] == spec.event_type("deleted")
    )
    obj_id = deletion["data"]["object"]["id"]

    response = readonly_http.get(f"/v1/{spec.list_name}/{obj_id}")

    # The full last snapshot, without a ``deleted`` field: only the event type says it
    # (stripe/stripe-dotnet#1870); GET answers the stub for every deletable type.
    assert "deleted" not in deletion["data"]["object"]
    assert len(deletion["data"]["object"]) > 3
    assert obj_id not in {o["id"] for o in readonly_http.list_all(spec.list_name)}
    assert response.status_code == 200
    assert response.json() == {"deleted": True, "id": obj_id, "object": type_name}
    assert stripe_readonly.store.get(type_name, obj_id)["deleted"] is True


def test_canceled_subscriptions_stay_with_a_deleted_event(stripe_readonly: StripeSandbox) -> None:
    events = [
        e for e in all_events(stripe_readonly) if e["type"] == "customer.subscription.deleted"
    ]
    by_id = defaultdict(list)
    for event in events:
        by_id[event["data"]["object"]["id"]].append(event)

    canceled = [
        s for s in stripe_readonly.store.listable("subscriptions") if s["status"] == "canceled"
    ]

    assert canceled and {s["id"] for s in canceled} == set(by_id)
    for subscription in canceled:
        assert (
            subscription["canceled_at"]
            == subscription["ended_at"]
            == by_id[subscription["id"]][0]["created"]
        )


def same_second_updates(sandbox: StripeSandbox) -> tuple[str, int, list[str]]:
    """Three updates of one customer in one second; returns its id, the second, event ids."""
    store = sandbox.store
    customer = store.listable("customers")[0]["id"]
    at = store.now() + 5
    for name in ("First", "Second", "Third"):
        store.update("customer", customer, at=at, name=name)
    events = [
        e
        for e in store.listable("events")
        if e["created"] == at and e["data"]["object"]["id"] == customer
    ]
    return customer, at, [e["id"] for e in events]


@pytest.mark.parametrize("page_size", [1, 100], ids=["paged-one-by-one", "one-page"])
def test_same_second_events_can_be_listed_in_either_order(
    stripe_sandbox: StripeSandbox, stripe_http: StripeHttp, page_size: int
) -> None:
    customer, at, newest_first = same_second_updates(stripe_sandbox)

    def listed() -> list[tuple[str, str]]:
        return [
            (e["id"], e["data"]["object"]["name"])
            for e in stripe_http.list_all("events", limit=page_size, created=at)
            if e["data"]["object"]["id"] == customer
        ]

    default = listed()
    switched = stripe_http.session.post(
        stripe_http.url("/_sandbox/faults"), json={"reverse_same_second_events": True}
    )
    reversed_order = listed()

    assert [n for _, n in default] == ["Third", "Second", "First"]
    assert [i for i, _ in default] == newest_first
    assert switched.json()["reverse_same_second_events"] is True
    assert reversed_order == default[::-1]
    everything = stripe_http.list_all("events")
    # Paging stays consistent: every event exactly once.
    assert sorted(e["id"] for e in everything) == sorted(
        e["id"] for e in stripe_sandbox.store.listable("events")
    )
