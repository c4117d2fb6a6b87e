"""Turning inbox events into poller-shaped rows: newest wins whatever the order, deletes by
event type, ambiguous ties retrieved, the poller's newer rows kept, unroutable events."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from sources.kit.errors import FatalError
from sources.kit.webhooks.inbox import AppliedVersion, InboxEvent
from sources.kit.webhooks.signatures import (
    MissingSignatureHeaderError,
    SignatureMismatchError,
)
from sources.stripe.settings import EVENT_OVERLAP_S, StripeResource
from sources.stripe.webhooks import (
    ClientNeededError,
    choose,
    identify_stripe_event,
    listed_event,
    plan_drain,
    read_change,
    stripe_verifier,
)


def inbox_event(
    event_id: str,
    created: int,
    obj: Any,
    event_type: str = "customer.updated",
    source: str = "webhook",
) -> InboxEvent:
    body = {"id": event_id, "object": "event", "type": event_type, "created": created}
    if obj is not None:
        body["data"] = {"object": obj}
    return InboxEvent(event_id, created, event_type, json.dumps(body).encode(), 99.0, source)


def customer(cid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "object": "customer", "name": name, "created": 1, **extra}


def test_newest_event_wins_regardless_of_arrival_order() -> None:
    events = [
        inbox_event("evt_b", 200, customer("cus_1", "second")),
        inbox_event("evt_c", 300, customer("cus_1", "third")),
        inbox_event("evt_a", 100, customer("cus_1", "first")),
    ]
    plan = plan_drain([read_change(e) for e in events], {})
    assert [r["name"] for r in plan.rows["customers"]] == ["third"]
    assert plan.versions == [AppliedVersion("customer", "cus_1", 300, "evt_c")]
    assert (plan.stale, plan.unroutable, plan.objects) == (2, 0, 1)
    assert sorted(plan.event_ids) == ["evt_a", "evt_b", "evt_c"]


class FakeApi:
    """Stands in for ``GET /v1/<resource>/<id>``: answers from ``objects``, counts calls."""

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects = {(o["object"], o["id"]): o for o in objects}
        self.calls: list[tuple[str, str]] = []

    def __call__(self, spec: StripeResource, object_id: str) -> dict[str, Any]:
        self.calls.append((spec.name, object_id))
        return self.objects[(spec.object_type, object_id)]


def same_second_updates() -> list[InboxEvent]:
    """Three updates of one customer in one second; ids deliberately not in change order."""
    return [
        inbox_event("evt_9", 100, customer("cus_1", "first")),
        inbox_event("evt_1", 100, customer("cus_1", "third")),
        inbox_event("evt_5", 100, customer("cus_1", "second")),
    ]


@pytest.mark.parametrize("seed", range(6), ids=[f"order-{n}" for n in range(6)])
def test_same_second_different_snapshots_are_retrieved_whatever_the_order(seed: int) -> None:
    events = same_second_updates()
    random.Random(seed).shuffle(events)
    api = FakeApi(customer("cus_1", "third", email="now@example.com"))
    plan = plan_drain([read_change(e) for e in events], {}, retrieve=api)
    assert api.calls == [("customers", "cus_1")]
    assert [(r["name"], r["email"], r["deleted"]) for r in plan.rows["customers"]] == [
        ("third", "now@example.com", False)
    ]
    assert (plan.retrieved, plan.stale, plan.objects) == (1, 2, 1)
    assert plan.versions == [AppliedVersion("customer", "cus_1", 100, "evt_9")]  # same each order


def test_same_second_tie_without_a_client_says_what_to_configure() -> None:
    with pytest.raises(ClientNeededError, match="sources.stripe.api_key") as raised:
        plan_drain([read_change(e) for e in same_second_updates()], {})
    assert "customer cus_1" in str(raised.value) and "\n" not in str(raised.value)


def test_identical_same_second_snapshots_need_no_retrieval() -> None:
    events = [
        inbox_event("evt_2", 100, customer("cus_1", "same"), event_type="invoice.paid"),
        inbox_event("evt_1", 100, customer("cus_1", "same")),
    ]
    plan = plan_drain([read_change(e) for e in events], {})  # no retriever needed
    assert [r["name"] for r in plan.rows["customers"]] == ["same"]


def test_retrieved_deleted_stub_keeps_the_event_columns_deleted() -> None:
    api = FakeApi({"id": "cus_1", "object": "customer", "deleted": True})
    plan = plan_drain([read_change(e) for e in same_second_updates()], {}, retrieve=api)
    row = plan.rows["customers"][0]
    assert (row["deleted"], row["deleted_at"], row["created"]) == (True, 100, 1)
    assert row["name"] in {"first", "second", "third"}  # the columns of an event snapshot


def test_retrieved_answer_for_another_object_is_refused() -> None:
    api = FakeApi(customer("cus_1", "x"))
    api.objects[("customer", "cus_1")] = customer("cus_2", "x")
    with pytest.raises(FatalError, match="another object"):
        plan_drain([read_change(e) for e in same_second_updates()], {}, retrieve=api)


@pytest.mark.parametrize(
    "applied, expected_rows",
    [
        (AppliedVersion("customer", "cus_1", 500, "evt_x"), 0),
        (AppliedVersion("customer", "cus_1", 200, "evt_b"), 0),
        (AppliedVersion("customer", "cus_1", 100, "evt_z"), 1),
    ],
    ids=["newer-already-applied", "same-event-already-applied", "older-applied"],
)
def test_events_older_than_applied_state_are_skipped(
    applied: AppliedVersion, expected_rows: int
) -> None:
    change = read_change(inbox_event("evt_b", 200, customer("cus_1", "late")))
    plan = plan_drain([change], {("customer", "cus_1"): applied})
    assert plan.objects == expected_rows
    assert plan.event_ids == ["evt_b"]  # marked done either way
    assert len(plan.audit) == 1


@pytest.mark.parametrize(
    "event_type, obj, deleted",
    [
        ("customer.deleted", customer("cus_1", "gone"), True),
        ("product.deleted", {"id": "prod_1", "object": "product", "created": 1}, True),
        (
            "customer.subscription.deleted",
            {"id": "sub_1", "object": "subscription", "created": 1, "status": "canceled"},
            False,
        ),
        ("customer.updated", customer("cus_1", "alive"), False),
    ],
    ids=["customer-deleted", "product-deleted", "subscription-canceled", "update"],
)
def test_deletes_are_told_by_the_event_type_not_a_flag(
    event_type: str, obj: dict[str, Any], deleted: bool
) -> None:
    # A real `<object>.deleted` event carries the prior object WITHOUT `deleted`
    # (stripe/stripe-dotnet#1870; ../shared/stripe/README.md).
    assert "deleted" not in obj
    events = [
        inbox_event("evt_1", 100, {**obj, "name": "before"}, event_type=obj["object"] + ".updated"),
        inbox_event("evt_2", 200, obj, event_type=event_type),
    ]
    plan = plan_drain([read_change(e) for e in events], {})
    (row,) = [r for rows in plan.rows.values() for r in rows]
    assert (row["deleted"], row["deleted_at"]) == ((True, 200) if deleted else (False, None))
    assert row.get("status") == obj.get("status")  # a canceled subscription stays canceled


def test_same_second_delete_wins_without_retrieval() -> None:
    events = [
        inbox_event("evt_9", 100, customer("cus_1", "renamed")),
        inbox_event("evt_1", 100, customer("cus_1", "gone"), event_type="customer.deleted"),
    ]
    plan = plan_drain([read_change(e) for e in events], {})  # no retriever needed
    row = plan.rows["customers"][0]
    assert (row["deleted"], row["name"]) == (True, "gone")
    assert plan.versions == [AppliedVersion("customer", "cus_1", 100, "evt_1")]


@pytest.mark.parametrize(
    "late_name, outcome",
    [("applied", "stale"), ("different", "retrieve")],
    ids=["identical-to-applied", "different-from-applied"],
)
def test_late_same_second_event_is_compared_with_the_applied_snapshot(
    late_name: str, outcome: str
) -> None:
    applied_event = inbox_event("evt_9", 100, customer("cus_1", "applied"))
    late = read_change(inbox_event("evt_1", 100, customer("cus_1", late_name)))
    version = AppliedVersion("customer", "cus_1", 100, "evt_9")
    choice = choose([late], version, read_change(applied_event))
    assert choice.outcome == outcome
    if outcome == "retrieve":  # without the applied snapshot, the same tie cannot be told
        assert choose([late], version, None).outcome == "retrieve"


CURSOR = 10_000


@pytest.mark.parametrize(
    "created, event_type, outcome",
    [
        (CURSOR - 1, "customer.updated", "polled"),
        (CURSOR, "customer.updated", "retrieve"),
        (CURSOR + EVENT_OVERLAP_S - 1, "customer.updated", "retrieve"),
        (CURSOR + 10, "customer.deleted", "apply"),
        (CURSOR + EVENT_OVERLAP_S, "customer.updated", "apply"),
    ],
    ids=["before-scan", "overlap-start", "overlap-end", "delete-in-overlap", "after-scan"],
)
def test_events_against_the_pollers_cursor(created: int, event_type: str, outcome: str) -> None:
    change = read_change(inbox_event("evt_1", created, customer("cus_1", "x"), event_type))
    assert choose([change], poller_cursor=CURSOR).outcome == outcome


def test_same_second_tie_the_poller_already_scanned_needs_no_retrieval() -> None:
    events = [
        inbox_event("evt_1", CURSOR - 5, customer("cus_1", "a")),
        inbox_event("evt_2", CURSOR - 5, customer("cus_1", "b")),
    ]
    plan = plan_drain([read_change(e) for e in events], {}, poller_cursors={"customers": CURSOR})
    assert (plan.objects, plan.polled, plan.retrieved) == (0, 1, 0)  # no client was needed


def test_polled_objects_write_no_row_and_record_no_version() -> None:
    change = read_change(inbox_event("evt_1", CURSOR - 5, customer("cus_1", "old")))
    plan = plan_drain([change], {}, poller_cursors={"customers": CURSOR, "charges": 0})
    assert (plan.objects, plan.polled, plan.stale, plan.versions) == (0, 1, 1, [])
    assert plan.event_ids == ["evt_1"]  # marked done


def test_live_row_has_deleted_false() -> None:
    row = plan_drain([read_change(inbox_event("e", 1, customer("c", "x")))], {}).rows["customers"]
    assert (row[0]["deleted"], row[0]["deleted_at"]) == (False, None)


def test_objects_route_by_data_object_type_not_event_prefix() -> None:
    dispute = {"id": "dp_1", "object": "dispute", "created": 1}
    subscription = {"id": "sub_1", "object": "subscription", "created": 1}
    events = [
        inbox_event("evt_1", 10, dispute, event_type="charge.dispute.created"),
        inbox_event("evt_2", 10, subscription, event_type="customer.subscription.updated"),
    ]
    plan = plan_drain([read_change(e) for e in events], {})
    assert sorted(plan.rows) == ["disputes", "subscriptions"]


@pytest.mark.parametrize(
    "obj",
    [
        None,
        {"object": "customer"},
        {"id": "bal_1", "object": "balance"},
        {"id": "txn_1", "object": "balance_transaction"},
    ],
    ids=["no-object", "object-without-id", "unknown-type", "immutable-type"],
)
def test_unroutable_events_are_marked_done_without_rows(obj: Any) -> None:
    plan = plan_drain([read_change(inbox_event("evt_1", 10, obj))], {})
    assert (plan.objects, plan.unroutable, plan.event_ids) == (0, 1, ["evt_1"])


def test_audit_rows_list_every_event_with_its_origin() -> None:
    events = [
        inbox_event("evt_1", 10, customer("cus_1", "a")),
        inbox_event("evt_2", 20, customer("cus_1", "b"), source="reconcile"),
    ]
    audit = plan_drain([read_change(e) for e in events], {}).audit
    assert [(a["id"], a["arrived_via"], a["object_id"]) for a in audit] == [
        ("evt_1", "webhook", "cus_1"),
        ("evt_2", "reconcile", "cus_1"),
    ]


def test_non_json_payload_is_unroutable() -> None:
    change = read_change(InboxEvent("evt_1", 1, "t", b"{oops", 1.0))
    assert change.spec is None and change.key is None


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"created": 1, "type": "t"},
        {"id": "", "created": 1, "type": "t"},
        {"id": "e", "created": "1", "type": "t"},
        {"id": "e", "created": True, "type": "t"},
        {"id": "e", "created": 1},
    ],
    ids=["not-object", "no-id", "empty-id", "string-created", "bool-created", "no-type"],
)
def test_identify_refuses_bodies_that_are_not_events(body: Any) -> None:
    with pytest.raises(ValueError):
        identify_stripe_event(body)


def test_identify_reads_id_created_type() -> None:
    identity = identify_stripe_event({"id": "evt_1", "created": 5, "type": "customer.created"})
    assert (identity.event_id, identity.created, identity.type) == ("evt_1", 5, "customer.created")


def test_listed_event_is_stored_as_reconciled() -> None:
    stored = listed_event({"id": "evt_1", "created": 5, "type": "x", "data": {}}, 7.0)
    assert (stored.source, stored.received_at, json.loads(stored.payload)["id"]) == (
        "reconcile",
        7.0,
        "evt_1",
    )


def test_stripe_verifier_reads_the_header_case_insensitively() -> None:
    from sandbox.stripe.webhooks import WebhookSender

    sender = WebhookSender("whsec_a", now=lambda: 1000.0)
    verify = stripe_verifier(["whsec_a"], clock=lambda: 1000.0)
    body = b'{"id":"evt_1"}'
    verify(body, {"stripe-signature": sender.signature_header(body)})
    with pytest.raises(SignatureMismatchError):
        verify(body, {"Stripe-Signature": sender.signature_header(body, secrets=["whsec_b"])})
    with pytest.raises(MissingSignatureHeaderError):
        verify(body, {})
