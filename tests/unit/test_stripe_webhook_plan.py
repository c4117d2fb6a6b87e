"""Turning inbox events into poller-shaped rows: newest wins, deletes, unroutable events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sources.kit.webhooks.inbox import AppliedVersion, InboxEvent
from sources.kit.webhooks.signatures import (
    MissingSignatureHeaderError,
    SignatureMismatchError,
)
from sources.stripe.webhooks import (
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


def test_same_second_tie_goes_to_the_later_event_id() -> None:
    events = [
        inbox_event("evt_2", 100, customer("cus_1", "later id")),
        inbox_event("evt_1", 100, customer("cus_1", "earlier id")),
    ]
    plan = plan_drain([read_change(e) for e in events], {})
    assert plan.rows["customers"][0]["name"] == "later id"


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


def test_delete_keeps_row_with_deleted_flag_like_the_poller() -> None:
    events = [
        inbox_event("evt_1", 100, customer("cus_1", "alive")),
        inbox_event(
            "evt_2", 200, customer("cus_1", "gone", deleted=True), event_type="customer.deleted"
        ),
    ]
    row = plan_drain([read_change(e) for e in events], {}).rows["customers"][0]
    assert (row["deleted"], row["deleted_at"], row["name"]) == (True, 200, "gone")


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
