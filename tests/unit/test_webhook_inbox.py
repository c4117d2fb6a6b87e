"""The durable inbox: idempotent puts, group commit, drain bookkeeping."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sources.kit.webhooks.inbox import (
    AppliedVersion,
    Inbox,
    InboxEvent,
    InboxUnavailableError,
)


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    box = Inbox(tmp_path / "inbox.sqlite3", clock=lambda: 1_700_000_500.0)
    yield box
    box.close()


def event(n: int, created: int = 1_700_000_000, source: str = "webhook") -> InboxEvent:
    return InboxEvent(f"evt_{n:04d}", created, "customer.updated", b'{"n":%d}' % n, 1.0, source)


def test_put_stores_once_and_reports_duplicates(inbox: Inbox) -> None:
    first = inbox.put("evt_1", 10, "customer.created", b"{}", 1.0)
    second = inbox.put("evt_1", 10, "customer.created", b'{"other":1}', 2.0)
    assert (first, second) == (True, False)
    stored = inbox.pending(10)
    assert [(e.event_id, e.payload, e.received_at) for e in stored] == [("evt_1", b"{}", 1.0)]


def test_payload_bytes_round_trip_exactly(inbox: Inbox) -> None:
    raw = b'{"a": 1,\n "b": "\xc3\xa9"}  '
    inbox.put("evt_raw", 5, "x", raw, 1.0)
    assert inbox.pending(1)[0].payload == raw


def test_group_commit_under_50_concurrent_threads(inbox: Inbox) -> None:
    barrier = threading.Barrier(50)

    def put(n: int) -> bool:
        barrier.wait()
        return inbox.put(f"evt_{n % 40}", n, "t", b"{}", 1.0)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(put, range(50)))
    assert sum(results) == 40  # 10 ids were sent twice: stored once, acknowledged as duplicates
    assert inbox.counts().total == 40
    assert inbox.events_committed == 50
    assert inbox.batches_committed < 50  # several requests shared one commit


def test_every_event_is_committed_before_put_returns(tmp_path: Path) -> None:
    box = Inbox(tmp_path / "inbox.sqlite3")
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            list(pool.map(lambda n: box.put(f"evt_{n}", n, "t", b"{}", 1.0), range(200)))
        other = sqlite3.connect(tmp_path / "inbox.sqlite3")  # another connection sees them all
        assert other.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 200
        other.close()
    finally:
        box.close()


@pytest.mark.parametrize("window", [0.0, 0.002], ids=["no-window", "2ms-window"])
def test_batches_respect_max_batch(tmp_path: Path, window: float) -> None:
    box = Inbox(tmp_path / "inbox.sqlite3", max_batch=3, commit_window_s=window)
    try:
        futures = [box.submit(event(n)) for n in range(10)]
        assert all(f.result(timeout=5) for f in futures)
        assert box.batches_committed >= 4
    finally:
        box.close()


def test_put_many_returns_new_flags_in_order(inbox: Inbox) -> None:
    inbox.put_many([event(1)])
    assert inbox.put_many([event(0), event(1), event(2), event(2)]) == [True, False, True, False]


def test_pending_orders_by_created_and_respects_limit(inbox: Inbox) -> None:
    inbox.put_many([event(1, created=30), event(2, created=10), event(3, created=20)])
    assert [e.event_id for e in inbox.pending(2)] == ["evt_0002", "evt_0003"]


def test_mark_done_removes_from_pending_and_records_versions(inbox: Inbox) -> None:
    inbox.put_many([event(1), event(2)])
    inbox.mark_done(["evt_0001"], [AppliedVersion("customer", "cus_1", 100, "evt_0001")])
    assert [e.event_id for e in inbox.pending(10)] == ["evt_0002"]
    counts = inbox.counts()
    assert (counts.total, counts.pending, counts.done) == (2, 1, 1)
    found = inbox.applied_versions([("customer", "cus_1"), ("customer", "cus_2")])
    assert found == {("customer", "cus_1"): AppliedVersion("customer", "cus_1", 100, "evt_0001")}


def test_events_by_id_reads_drained_and_pending_events(inbox: Inbox) -> None:
    inbox.put_many([event(1), event(2)])
    inbox.mark_done(["evt_0001"])
    found = inbox.events_by_id(["evt_0001", "evt_0002", "evt_9999", "evt_0001"])
    assert sorted(found) == ["evt_0001", "evt_0002"]
    assert found["evt_0001"].payload == event(1).payload


def test_done_event_is_still_a_duplicate(inbox: Inbox) -> None:
    inbox.put_many([event(1)])
    inbox.mark_done(["evt_0001"])
    assert inbox.put_many([event(1)]) == [False]
    assert inbox.pending(10) == []


@pytest.mark.parametrize(
    "second, expected",
    [
        (AppliedVersion("customer", "cus_1", 200, "evt_b"), (200, "evt_b")),
        (AppliedVersion("customer", "cus_1", 50, "evt_z"), (100, "evt_m")),
        (AppliedVersion("customer", "cus_1", 100, "evt_z"), (100, "evt_z")),
        # Within a second the order of event ids means nothing: the drain's later choice
        # (made knowing the applied event) stands, e.g. a same-second delete of lower id.
        (AppliedVersion("customer", "cus_1", 100, "evt_a"), (100, "evt_a")),
    ],
    ids=[
        "newer-wins",
        "older-ignored",
        "same-second-later-id-recorded",
        "same-second-earlier-id-recorded",
    ],
)
def test_applied_version_never_moves_to_an_older_second(
    inbox: Inbox, second: AppliedVersion, expected: tuple[int, str]
) -> None:
    inbox.mark_done([], [AppliedVersion("customer", "cus_1", 100, "evt_m")])
    inbox.mark_done([], [second])
    assert (
        inbox.applied_versions([("customer", "cus_1")])[("customer", "cus_1")].order_key == expected
    )


def test_cursor_round_trip_and_overwrite(inbox: Inbox) -> None:
    assert inbox.get_cursor("reconcile") is None
    inbox.set_cursor("reconcile", 100)
    inbox.set_cursor("reconcile", 200)
    assert inbox.get_cursor("reconcile") == 200


def test_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite3"
    with Inbox(path) as box:
        box.put_many([event(1), event(2)])
        box.mark_done(["evt_0001"], [AppliedVersion("customer", "cus_1", 5, "evt_0001")])
        box.set_cursor("c", 7)
    with Inbox(path) as box:
        assert box.event_ids() == {"evt_0001", "evt_0002"}
        assert [e.event_id for e in box.pending(10)] == ["evt_0002"]
        assert box.get_cursor("c") == 7
        assert box.oldest_created() == 1_700_000_000


def test_submit_after_close_is_refused(tmp_path: Path) -> None:
    box = Inbox(tmp_path / "inbox.sqlite3")
    box.close()
    with pytest.raises(InboxUnavailableError):
        box.put("evt_1", 1, "t", b"{}", 1.0)


def test_close_commits_what_was_queued(tmp_path: Path) -> None:
    box = Inbox(tmp_path / "inbox.sqlite3", commit_window_s=0.05)
    futures = [box.submit(event(n)) for n in range(20)]
    box.close()
    assert all(f.done() and f.result() for f in futures)
    with Inbox(tmp_path / "inbox.sqlite3") as again:
        assert again.counts().total == 20


def test_failed_commit_fails_every_waiting_request(tmp_path: Path) -> None:
    box = Inbox(tmp_path / "inbox.sqlite3")
    try:
        bad = InboxEvent("evt_bad", 1, "t", object(), 1.0)  # type: ignore[arg-type]
        with pytest.raises(InboxUnavailableError):
            box.submit(bad).result(timeout=5)
        assert box.put("evt_ok", 1, "t", b"{}", 1.0) is True  # the writer keeps going
        assert box.event_ids() == {"evt_ok"}
    finally:
        box.close()


def test_inbox_uses_wal_and_full_sync(inbox: Inbox) -> None:
    conn = sqlite3.connect(inbox.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert "inbox.sqlite3" in repr(inbox)


def test_large_batch_spans_several_statements_and_keeps_flags(tmp_path: Path) -> None:
    box = Inbox(tmp_path / "inbox.sqlite3", commit_window_s=0.05)
    try:
        box.put_many([event(n) for n in range(0, 400, 8)])  # 50 stored before
        batch = [event(n) for n in range(400)] + [event(n) for n in range(10)]  # 10 repeated
        flags = box.put_many(batch)
        expected = [n % 8 != 0 for n in range(400)] + [False] * 10
        assert flags == expected
        assert box.counts().total == 400
    finally:
        box.close()
