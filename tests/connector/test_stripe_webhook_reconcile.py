"""Reconciliation: a poll of /v1/events over HTTP stores the events the receiver missed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.stripe import SandboxClock, StripeSandbox
from sources.kit.webhooks.inbox import Inbox
from sources.stripe import make_client
from sources.stripe.settings import EVENT_OVERLAP_S, EVENT_RETENTION_MARGIN_S, EVENT_RETENTION_S
from sources.stripe.webhooks import RECONCILE_CURSOR, listed_event, reconcile


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    with Inbox(tmp_path / "inbox.sqlite3") as box:
        yield box


def test_reconcile_stores_only_missed_events_and_advances_the_cursor(
    stripe_sandbox_factory: Callable[..., StripeSandbox], inbox: Inbox
) -> None:
    clock = SandboxClock()
    sandbox = stripe_sandbox_factory(volume=5, now=clock)
    client = make_client(api_key=sandbox.api_key, base_url=sandbox.base_url)
    start = int(clock()) - EVENT_RETENTION_S + EVENT_RETENTION_MARGIN_S
    listed = [e for e in sandbox.store.listable("events") if e["created"] >= start]
    received = listed[::2]  # the receiver got every other event
    inbox.put_many([listed_event(e, clock()) for e in received])

    missed = reconcile(inbox, client, clock=clock)

    assert missed == len(listed) - len(received) > 0
    assert inbox.event_ids() == {e["id"] for e in listed}
    sources = {e.event_id: e.source for e in inbox.pending(1000)}
    assert {sources[e["id"]] for e in listed[1::2]} == {"reconcile"}
    assert inbox.get_cursor(RECONCILE_CURSOR) == int(clock()) - EVENT_OVERLAP_S

    assert reconcile(inbox, client, clock=clock) == 0  # nothing new: the overlap is deduplicated

    clock.advance(60)
    customer = sandbox.store.listable("customers")[0]
    sandbox.store.update("customer", customer["id"], name="changed while the receiver was down")
    assert reconcile(inbox, client, clock=clock) == 1
    assert inbox.get_cursor(RECONCILE_CURSOR) == int(clock()) - EVENT_OVERLAP_S


@pytest.mark.parametrize(
    "saved, since, expected",
    [(None, 0, "all"), (10**12, None, "none"), (10**12, 0, "all")],
    ids=["explicit-since", "saved-cursor-in-future", "since-overrides-cursor"],
)
def test_reconcile_start_point(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    inbox: Inbox,
    saved: int | None,
    since: int | None,
    expected: str,
) -> None:
    clock = SandboxClock()
    sandbox = stripe_sandbox_factory(volume=3, now=clock)
    client = make_client(api_key=sandbox.api_key, base_url=sandbox.base_url)
    if saved is not None:
        inbox.set_cursor(RECONCILE_CURSOR, saved)
    missed = reconcile(inbox, client, since=since, clock=clock)
    listed = len(sandbox.store.listable("events"))
    assert missed == (listed if expected == "all" else 0)
    cursor = inbox.get_cursor(RECONCILE_CURSOR)
    assert cursor is not None and cursor >= int(clock()) - EVENT_OVERLAP_S  # never moves back
