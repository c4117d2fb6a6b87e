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
    """Serves event pages newest first and records the filters asked for."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = sorted(events, key=lambda e: e["created"], reverse=True)
        self.calls: list[dict[str, Any]] = []

    def list_pages(
        self, path: str, *, label: str, params: Optional[dict[str, Any]] = None
    ) -> Iterator[list[dict[str, Any]]]:
        params = params or {}
        self.calls.append(dict(params))
        gte, lt = params.get("created[gte]", 0), params.get("created[lt]", 10**12)
        yield [e for e in self.events if not has_int_created(e) or gte <= e["created"] < lt]


def feed_of(events: list[dict[str, Any]]) -> tuple[ChangeFeed, FakeClient]:
    client = FakeClient(events)
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
    ids=["deleted-object-keeps-row-with-flag", "live-object"],
)
def test_change_rows_carry_the_soft_delete_flag(
    snapshot: dict[str, Any], deleted: bool, deleted_at: Optional[int]
) -> None:
    feed, _ = feed_of([event("evt_1", NOW - 3, snapshot)])

    rows = list(iter_change_rows(feed.changes_for("customer", NOW - 10)))

    assert rows == [{**snapshot, "deleted": deleted, "deleted_at": deleted_at}]


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
