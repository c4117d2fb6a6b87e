"""The Gmail sandbox's ``q`` subset, checked against the seeded mailbox it filters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sandbox.clock import ManualClock
from sandbox.gmail import GmailSandbox
from sandbox.gmail.store import StoredMessage
from tests.sandbox.test_gmail_sandbox import START, Gmail

DAY_MS = 86_400_000
NOW_MS = int(START * 1000)
PACIFIC_DAY = datetime.fromtimestamp(START - 30 * 86400, tz=ZoneInfo("America/Los_Angeles"))
PACIFIC_MIDNIGHT_MS = int(
    PACIFIC_DAY.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000
)
DATE = PACIFIC_DAY.strftime("%Y/%m/%d")


@pytest.fixture(scope="module")
def readonly() -> Iterator[GmailSandbox]:
    """One sandbox for the module: these tests only read."""
    with GmailSandbox(seed=42, clock=ManualClock(START), quota_units_per_s=None) as sb:
        yield sb


def visible(m: StoredMessage) -> bool:
    return not {"SPAM", "TRASH"} & set(m.label_ids)


CASES: list[tuple[str, Callable[[StoredMessage], bool]]] = [
    ("is:unread", lambda m: "UNREAD" in m.label_ids),
    ("is:read", lambda m: "UNREAD" not in m.label_ids),
    ("is:starred", lambda m: "STARRED" in m.label_ids),
    ("label:work", lambda m: "Label_1" in m.label_ids),
    ("label:projects-alpha", lambda m: "Label_4" in m.label_ids),
    ("in:sent", lambda m: "SENT" in m.label_ids),
    ("from:bjorn@example.no", lambda m: "bjorn@example.no" in m.content.sender),
    ("-from:bjorn@example.no", lambda m: "bjorn@example.no" not in m.content.sender),
    ("has:attachment", lambda m: bool(m.content.attachments)),
    ("newer_than:7d", lambda m: m.internal_date_ms >= NOW_MS - 7 * DAY_MS),
    ("older_than:1m", lambda m: m.internal_date_ms < NOW_MS - 30 * DAY_MS),
    (f"after:{(NOW_MS - 20 * DAY_MS) // 1000}",
     lambda m: m.internal_date_ms >= NOW_MS - 20 * DAY_MS),
    (f"before:{DATE}", lambda m: m.internal_date_ms < PACIFIC_MIDNIGHT_MS),
    ('subject:"Invoice #10"', lambda m: "invoice #10" in m.content.subject.lower()),
    ("is:unread newer_than:30d", lambda m: "UNREAD" in m.label_ids
     and m.internal_date_ms >= NOW_MS - 30 * DAY_MS),
]  # fmt: skip


@pytest.mark.parametrize(("q", "expected"), CASES, ids=[case[0] for case in CASES])
def test_query_matches_the_mailbox(
    readonly: GmailSandbox, q: str, expected: Callable[[StoredMessage], bool]
) -> None:
    want = [m.id for m in readonly.store.stored() if visible(m) and expected(m)]
    got = Gmail(readonly).all_ids(q=q, maxResults=500)
    assert got == want
    assert 0 < len(want) < len([m for m in readonly.store.stored() if visible(m)])


@pytest.mark.parametrize(
    "q", ["after:2026/13", "newer_than:soon", "is:sparkly", 'subject:"open'], ids=str
)
def test_unreadable_query_is_400(readonly: GmailSandbox, q: str) -> None:
    answer = Gmail(readonly).get("messages", q=q)
    assert answer.status_code == 400
    assert answer.json()["error"]["errors"][0]["location"] == "q"


def test_threads_list_takes_the_query(readonly: GmailSandbox) -> None:
    gmail = Gmail(readonly)
    threads = gmail.all_ids("threads", "threads", q="has:attachment", maxResults=500)
    expected = {
        m.thread_id for m in readonly.store.stored() if visible(m) and m.content.attachments
    }
    assert set(threads) == expected and len(threads) == len(expected)
