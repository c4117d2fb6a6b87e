"""Unit tests of the Stripe change feed and record shaping, on bare event pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

import pytest

from sources.stripe.helpers import (
    ChangeFeed,
    events_cursor_expired,
    iter_change_rows,
    shape_live_object,
)
from sources.stripe.settings import EVENT_OVERLAP_S, EVENT_RETENTION_S

NOW = 1_760_000_000


def event(
    evt_id: str, created: int, obj: dict[str, Any], type_: str = "x.updated"
) -> dict[str, Any]:
    return {
        "id": evt_id,
        "object": "event",
        "created": created,
        "type": type_,
        "data": {"object": obj},
    }


def has_int_created(item: Any) -> bool:
    """Malformed events (the server still lists them) bypass the fake's filter."""
    return isinstance(item, dict) and isinstance(item.get("created"), int)


class FakeClient:
    """Serves event pages newest first and records the filters asked for.

    Events of one second keep the order given (the API's within-second order is not a
    contract); ``objects`` is what ``retrieve`` answers, by id.
    """

    def __init__(
        self, events: list[dict[str, Any]], objects: Optional[dict[str, Any]] = None
    ) -> None:
        self.events = sorted(events, key=lambda e: e["created"], reverse=True)
        self.calls: list[dict[str, Any]] = []
        self.objects = objects or {}
        self.retrieved: list[tuple[str, str, str]] = []

    def retrieve(self, path: str, obj_id: str, *, label: str) -> Optional[dict[str, Any]]:
        self.retrieved.append((path, obj_id, label))
        found = self.objects.get(obj_id)
        return dict(found) if found is not None else None

    def list_pages(
        self, path: str, *, label: str, params: Optional[dict[str, Any]] = None
    ) -> Iterator[list[dict[str, Any]]]:
        params = params or {}
        self.calls.append(dict(params))
        gte, lt = params.get("created[gte]", 0), params.get("created[lt]", 10**12)
        yield [e for e in self.events if not has_int_created(e) or gte <= e["created"] < lt]


def feed_of(
    events: list[dict[str, Any]], objects: Optional[dict[str, Any]] = None
) -> tuple[ChangeFeed, FakeClient]:
    client = FakeClient(events, objects)
    return ChangeFeed(client=client, now=NOW), client  # type: ignore[arg-type]


def test_newest_snapshot_per_object_wins() -> None:
    feed, _ = feed_of(
        [
            event("evt_1", NOW - 30, {"id": "cus_1", "object": "customer", "name": "old"}),
            event("evt_2", NOW - 10, {"id": "cus_1", "object": "customer", "name": "new"}),
            event("evt_3", NOW - 20, {"id": "cus_1", "object": "customer", "name": "mid"}),
        ]
    )

    changes = feed.changes_for("customer", since=NOW - 100)

    assert [c.snapshot["name"] for c in changes] == ["new"]
    assert changes[0].event_id == "evt_2"


def test_objects_are_routed_by_their_object_type_not_the_event_prefix() -> None:
    feed, _ = feed_of(
        [
            event(
                "evt_1",
                NOW - 5,
                {"id": "sub_1", "object": "subscription"},
                "customer.subscription.updated",
            ),
            event("evt_2", NOW - 4, {"id": "dp_1", "object": "dispute"}, "charge.dispute.created"),
        ]
    )

    assert [c.snapshot["id"] for c in feed.changes_for("subscription", NOW - 60)] == ["sub_1"]
    assert [c.snapshot["id"] for c in feed.changes_for("dispute", NOW - 60)] == ["dp_1"]
    assert feed.changes_for("customer", NOW - 60) == []


def test_one_scan_serves_every_resource_and_older_cursors_extend_it() -> None:
    feed, client = feed_of(
        [
            event("evt_1", NOW - 500, {"id": "cus_old", "object": "customer"}),
            event("evt_2", NOW - 50, {"id": "cus_new", "object": "customer"}),
            event("evt_3", NOW - 40, {"id": "prod_1", "object": "product"}),
        ]
    )

    assert [c.snapshot["id"] for c in feed.changes_for("product", NOW - 100)] == ["prod_1"]
    assert [c.snapshot["id"] for c in feed.changes_for("customer", NOW - 100)] == ["cus_new"]
    older = feed.changes_for("customer", NOW - 1000)

    assert {c.snapshot["id"] for c in older} == {"cus_old", "cus_new"}
    assert client.calls == [
        {"created[gte]": NOW - 100},
        {"created[gte]": NOW - 1000, "created[lt]": NOW - 100},
    ]


def test_changes_before_a_resources_cursor_are_not_returned() -> None:
    feed, _ = feed_of([event("evt_1", NOW - 500, {"id": "cus_1", "object": "customer"})])

    feed.changes_for("product", NOW - 1000)

    assert feed.changes_for("customer", NOW - 100) == []


def test_event_without_object_id_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed, _ = feed_of([{"id": "evt_bad", "created": NOW - 1, "data": {"object": {}}}])

    assert feed.changes_for("customer", NOW - 10) == []
    assert "evt_bad" in caplog.text


@pytest.mark.parametrize(
    ("snapshot", "deleted", "deleted_at"),
    [
        ({"id": "cus_1", "object": "customer", "deleted": True}, True, NOW - 3),
        ({"id": "cus_1", "object": "customer"}, False, None),
    ],
    ids=["deleted-stub-keeps-row-with-flag", "live-object"],
)
def test_change_rows_carry_the_soft_delete_flag(
    snapshot: dict[str, Any], deleted: bool, deleted_at: Optional[int]
) -> None:
    feed, _ = feed_of([event("evt_1", NOW - 3, snapshot)])

    rows = list(iter_change_rows(feed.changes_for("customer", NOW - 10)))

    assert rows == [{**snapshot, "deleted": deleted, "deleted_at": deleted_at}]


@pytest.mark.parametrize(
    ("object_type", "obj"),
    [
        ("customer", {"id": "cus_1", "object": "customer", "name": "Ada", "email": "a@x.io"}),
        ("product", {"id": "prod_1", "object": "product", "name": "Widget", "active": True}),
        ("coupon", {"id": "SPRING", "object": "coupon", "percent_off": 10.0}),
        ("plan", {"id": "price_1", "object": "plan", "amount": 900}),
        ("invoiceitem", {"id": "ii_1", "object": "invoiceitem", "amount": 100}),
        ("price", {"id": "price_2", "object": "price", "unit_amount": 5}),
        ("invoice", {"id": "in_1", "object": "invoice", "status": "draft"}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_delete_event_without_a_deleted_field_deletes_the_row(
    object_type: str, obj: dict[str, Any]
) -> None:
    # Stripe's ``<object>.deleted`` carries the full prior object and no ``deleted``
    # field (stripe/stripe-dotnet#1870): only the event type says it.
    feed, _ = feed_of(
        [
            event("evt_1", NOW - 9, obj, f"{object_type}.updated"),
            event("evt_2", NOW - 3, obj, f"{object_type}.deleted"),
        ]
    )

    changes = feed.changes_for(object_type, NOW - 10)
    rows = list(iter_change_rows(changes))

    assert rows == [{**obj, "deleted": True, "deleted_at": NOW - 3}]
    assert changes[0].is_delete and not changes[0].is_update


def test_a_subscription_cancel_is_a_status_change_not_a_delete() -> None:
    canceled = {"id": "sub_1", "object": "subscription", "status": "canceled"}
    feed, _ = feed_of([event("evt_1", NOW - 3, canceled, "customer.subscription.deleted")])

    changes = feed.changes_for("subscription", NOW - 10)
    rows = list(iter_change_rows(changes))

    assert rows == [{**canceled, "deleted": False, "deleted_at": None}]
    assert not changes[0].is_delete


def invoice_in_one_second() -> list[dict[str, Any]]:
    """``invoice.created``, ``.finalized`` and ``.paid`` sharing one second, in that order."""
    base = {"id": "in_1", "object": "invoice"}
    return [
        event("evt_1a", NOW - 5, {**base, "status": "draft"}, "invoice.created"),
        event("evt_1b", NOW - 5, {**base, "status": "open"}, "invoice.finalized"),
        event("evt_1c", NOW - 5, {**base, "status": "paid"}, "invoice.paid"),
    ]


@pytest.mark.parametrize(
    "reverse", [False, True], ids=["oldest-listed-first", "newest-listed-first"]
)
def test_same_second_snapshots_are_resolved_by_retrieving_the_object(reverse: bool) -> None:
    events = invoice_in_one_second()
    current = {"id": "in_1", "object": "invoice", "status": "paid", "amount_paid": 900}
    feed, client = feed_of(events[::-1] if reverse else events, {"in_1": current})

    changes = feed.changes_for("invoice", NOW - 60)
    again = feed.changes_for("invoice", NOW - 60)

    assert [c.snapshot for c in changes] == [current]
    assert changes[0].retrieved and not changes[0].is_delete
    assert client.retrieved == [("/v1/invoices", "in_1", "invoices")]  # once, per resource
    assert [c.snapshot for c in again] == [current] and feed.retrieved == 1


@pytest.mark.parametrize(
    "reverse", [False, True], ids=["delete-listed-first", "delete-listed-last"]
)
def test_a_same_second_delete_wins_without_a_retrieve(reverse: bool) -> None:
    obj = {"id": "cus_1", "object": "customer", "name": "Ada"}
    events = [
        event("evt_1a", NOW - 5, {**obj, "name": "Renamed"}, "customer.updated"),
        event("evt_1b", NOW - 5, obj, "customer.deleted"),
    ]
    feed, client = feed_of(events[::-1] if reverse else events)

    rows = list(iter_change_rows(feed.changes_for("customer", NOW - 60)))

    assert [(r["deleted"], r["deleted_at"]) for r in rows] == [(True, NOW - 5)]
    assert client.retrieved == []


def test_a_retrieved_deleted_stub_keeps_the_snapshot_columns() -> None:
    stub = {"id": "in_1", "object": "invoice", "deleted": True}
    feed, _ = feed_of(invoice_in_one_second(), {"in_1": stub})

    rows = list(iter_change_rows(feed.changes_for("invoice", NOW - 60)))

    assert len(rows) == 1 and rows[0]["deleted"] is True and rows[0]["deleted_at"] == NOW - 5
    assert rows[0]["status"] in {"draft", "open", "paid"}  # the fallback's columns, not nulls


def test_an_unretrievable_object_falls_back_to_one_snapshot_in_either_order() -> None:
    events = invoice_in_one_second()
    results = []
    for order in (events, events[::-1]):
        feed, _ = feed_of(order)
        results.append(feed.changes_for("invoice", NOW - 60)[0].snapshot["status"])

    assert results[0] == results[1]


def test_listed_objects_are_marked_live() -> None:
    assert shape_live_object({"id": "x"}) == {"id": "x", "deleted": False, "deleted_at": None}


@pytest.mark.parametrize(
    ("age_s", "expired"),
    [(EVENT_RETENTION_S + 10, True), (EVENT_RETENTION_S - 10, True), (3600 * 24, False)],
    ids=["past-retention", "inside-safety-margin", "one-day-old"],
)
def test_events_cursor_expiry(age_s: int, expired: bool) -> None:
    assert events_cursor_expired(NOW - age_s, NOW) is expired


def test_next_cursor_overlaps_the_scan_start() -> None:
    feed, _ = feed_of([])
    assert feed.next_cursor == NOW - EVENT_OVERLAP_S


@pytest.mark.parametrize(
    "bad",
    [
        {
            "id": "evt_bad",
            "created": "yesterday",
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        },
        {
            "id": "evt_bad",
            "created": None,
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        },
        "not-an-event",
    ],
    ids=["created-as-text", "created-missing", "not-a-mapping"],
)
def test_malformed_events_are_skipped_with_a_warning_not_a_crash(
    bad: Any, caplog: pytest.LogCaptureFixture
) -> None:
    good = event("evt_ok", NOW - 5, {"id": "cus_2", "object": "customer"})
    client = FakeClient([good])
    client.events.insert(0, bad)
    feed = ChangeFeed(client=client, now=NOW)  # type: ignore[arg-type]

    changes = feed.changes_for("customer", since=NOW - 60)

    assert [c.snapshot["id"] for c in changes] == ["cus_2"]
    assert "ignored" in caplog.text
