"""Unit tests of the shared rules for reading Stripe events (``sources.stripe.events``)."""

from __future__ import annotations

import itertools
from typing import Any, Optional

import pytest

from sources.stripe.events import (
    DELETABLE_OBJECT_TYPES,
    ObservedChange,
    change_row,
    is_deletable,
    is_delete_event,
    is_deleted_stub,
    newest_change,
    retrieved_state,
)
from sources.stripe.settings import RESOURCES

T = 1_760_000_000


def seen(
    event_id: str, created: int, event_type: str = "customer.updated", **fields: Any
) -> ObservedChange:
    return ObservedChange(
        event_id, event_type, created, {"id": "cus_1", "object": "customer", **fields}
    )


@pytest.mark.parametrize(
    ("event_type", "object_type", "expected"),
    [
        ("customer.deleted", "customer", True),
        ("product.deleted", "product", True),
        ("price.deleted", "price", True),
        ("coupon.deleted", "coupon", True),
        ("plan.deleted", "plan", True),
        ("invoice.deleted", "invoice", True),
        ("invoiceitem.deleted", "invoiceitem", True),
        ("customer.subscription.deleted", "subscription", False),
        ("customer.discount.deleted", "discount", False),
        ("customer.updated", "customer", False),
    ],
    ids=lambda v: str(v),
)
def test_a_delete_is_told_by_the_event_type_and_its_object(
    event_type: str, object_type: str, expected: bool
) -> None:
    assert is_delete_event(event_type, object_type) is expected


def test_deletable_types_are_the_loaded_types_with_a_deleted_event() -> None:
    loaded = {r.object_type for r in RESOURCES}

    assert DELETABLE_OBJECT_TYPES <= loaded
    assert {t for t in loaded if is_deletable(t)} == {
        "customer",
        "product",
        "price",
        "coupon",
        "plan",
        "invoice",
        "invoiceitem",
    }
    assert not is_deletable("subscription")


def test_a_delete_event_without_a_deleted_field_is_a_delete() -> None:
    # What Stripe sends: the full prior object, no ``deleted`` (stripe/stripe-dotnet#1870).
    change = seen("evt_1", T, "customer.deleted", name="Ada")

    assert change.is_delete and not is_deleted_stub(change.snapshot)


def test_a_subscription_cancel_is_not_a_delete() -> None:
    change = ObservedChange(
        "evt_1",
        "customer.subscription.deleted",
        T,
        {"id": "sub_1", "object": "subscription", "status": "canceled"},
    )

    assert not change.is_delete


def test_a_deleted_stub_is_a_delete_whatever_the_event_type() -> None:
    stub = ObservedChange(
        "evt_1", "customer.updated", T, {"id": "c", "object": "customer", "deleted": True}
    )

    assert stub.is_delete


@pytest.mark.parametrize(
    "events",
    list(
        itertools.permutations(
            [
                seen("evt_a", T, name="created"),
                seen("evt_b", T, name="finalized"),
                seen("evt_c", T, name="paid"),
            ]
        )
    ),
    ids=lambda evs: "-".join(e.event_id[-1] for e in evs),
)
def test_different_same_second_snapshots_are_ambiguous_with_one_fallback_in_any_order(
    events: tuple[ObservedChange, ...],
) -> None:
    newest = newest_change([seen("evt_0", T - 5, name="older"), *events])

    assert newest is not None and newest.ambiguous
    assert newest.change.event_id == "evt_c"


@pytest.mark.parametrize(
    "reverse", [False, True], ids=["delete-listed-first", "delete-listed-last"]
)
def test_a_same_second_delete_wins_in_either_order(reverse: bool) -> None:
    events = [seen("evt_a", T, "customer.deleted", name="x"), seen("evt_b", T, name="y")]

    newest = newest_change(events[::-1] if reverse else events)

    assert newest is not None and not newest.ambiguous
    assert newest.change.event_id == "evt_a" and newest.change.is_delete


def test_identical_same_second_snapshots_are_no_tie() -> None:
    newest = newest_change([seen("evt_a", T, name="same"), seen("evt_b", T, name="same")])

    assert newest is not None and not newest.ambiguous


@pytest.mark.parametrize("reverse", [False, True], ids=["newest-first", "oldest-first"])
def test_the_latest_second_wins_whatever_the_order(reverse: bool) -> None:
    events = [seen("evt_b", T, name="new"), seen("evt_a", T - 1, name="old")]

    newest = newest_change(events[::-1] if reverse else events)

    assert newest is not None and not newest.ambiguous
    assert newest.change.snapshot["name"] == "new"


def test_no_events_no_change() -> None:
    assert newest_change([]) is None


@pytest.mark.parametrize(
    ("answer", "expected_name", "expected_deleted"),
    [
        ({"id": "cus_1", "object": "customer", "name": "current"}, "current", False),
        ({"id": "cus_1", "object": "customer", "deleted": True}, "fallback", True),
        (None, "fallback", False),
    ],
    ids=["live-object", "deleted-stub-keeps-fallback-columns", "not-retrievable"],
)
def test_retrieved_state(
    answer: Optional[dict[str, Any]], expected_name: str, expected_deleted: bool
) -> None:
    snapshot, deleted = retrieved_state(seen("evt_1", T, name="fallback"), answer)

    assert (snapshot["name"], deleted) == (expected_name, expected_deleted)


@pytest.mark.parametrize(
    ("deleted", "expected"),
    [(True, (True, T)), (False, (False, None))],
    ids=["delete", "live"],
)
def test_change_row_sets_the_soft_delete_columns(
    deleted: bool, expected: tuple[bool, Optional[int]]
) -> None:
    row = change_row({"id": "c", "deleted": True, "name": "n"}, deleted=deleted, seen_at=T)

    assert (row["deleted"], row["deleted_at"]) == expected and row["name"] == "n"
