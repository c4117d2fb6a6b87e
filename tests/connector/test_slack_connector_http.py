"""The Slack connector against the Slack sandbox over loopback HTTP, into DuckDB."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import dlt
import pytest

from sandbox.clock import ManualClock
from sandbox.slack import ChannelPlan, SlackSandbox, Volume
from sources.kit.monitor import SyncMonitor
from sources.slack import make_client, slack_source

FAST = {
    m: 6000.0
    for m in (
        "conversations.list",
        "users.list",
        "conversations.history",
        "conversations.replies",
        "conversations.members",
        "auth.test",
    )
}
"""Requests per minute per method: the sandbox runs without tier limits unless a test sets them."""

SMALL = Volume(
    users=12,
    big_channel=90,
    channels=(
        ChannelPlan("engineering", messages=30),
        ChannelPlan("design-reviews", bot_member=False, messages=5),
        ChannelPlan("incidents", private=True, messages=20),
        ChannelPlan("old-project", private=True, archived=True, messages=10),
    ),
)
ALL = "channels,users,messages,replies,channel_members"


def load(
    sandbox: SlackSandbox,
    tmp_path: Path,
    *,
    resources: str = ALL,
    client_args: Optional[dict[str, Any]] = None,
    **source_args: Any,
) -> tuple[dlt.Pipeline, SyncMonitor]:
    """One run of the source into the test's DuckDB file; returns the pipeline and ledger."""
    client = make_client(
        base_url=sandbox.base_url,
        bot_token=sandbox.bot_token,
        method_limits=dict(FAST),
        **(client_args or {}),
    )
    pipeline = dlt.pipeline(
        "slack",
        destination=dlt.destinations.duckdb(str(tmp_path / "slack_data.duckdb")),
        dataset_name="slack",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    monitor = SyncMonitor("slack", "test-run")
    pipeline.run(slack_source(resources=resources, client=client, monitor=monitor, **source_args))
    return pipeline, monitor


def rows(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(r) for r in client.execute_sql(sql) or []]


def member_channels(sandbox: SlackSandbox) -> list[dict[str, Any]]:
    return [c for c in sandbox.store.channels() if c["is_member"]]


def expected_messages(sandbox: SlackSandbox) -> set[tuple[str, str]]:
    return {
        (c["id"], m["ts"])
        for c in member_channels(sandbox)
        for m in sandbox.store.messages(c["id"])
    }


def expected_replies(sandbox: SlackSandbox) -> set[tuple[str, str]]:
    found = set()
    for channel in member_channels(sandbox):
        for message in sandbox.store.messages(channel["id"]):
            if message.get("reply_count"):
                replies = sandbox.store.replies(channel["id"], message["ts"])
                found |= {(channel["id"], r["ts"]) for r in replies}
    return found


@pytest.fixture
def sandbox(slack_sandbox_factory: Any) -> SlackSandbox:
    made: SlackSandbox = slack_sandbox_factory(volume=SMALL, rate_limits=False)
    return made


def test_full_load_has_every_object_the_bot_can_read(
    sandbox: SlackSandbox, tmp_path: Path, dlt_home: Path
) -> None:
    pipeline, monitor = load(sandbox, tmp_path, client_args={"page_size": 25})

    channels = {r[0] for r in rows(pipeline, "SELECT id FROM channels")}
    assert channels == {c["id"] for c in sandbox.store.channels()}
    assert rows(pipeline, "SELECT COUNT(*) FROM users") == [(len(sandbox.store.users()),)]
    messages = rows(pipeline, "SELECT channel_id, ts FROM messages")
    assert set(messages) == expected_messages(sandbox) and len(messages) == len(set(messages))
    assert set(rows(pipeline, "SELECT channel_id, ts FROM replies")) == expected_replies(sandbox)
    members = rows(pipeline, "SELECT channel_id, user_id FROM channel_members")
    general = member_channels(sandbox)[0]["id"]
    assert {u for c, u in members if c == general} == set(sandbox.store.members(general))
    # Every list was paged (cursor on every page after the first), never a page twice.
    history = [
        (c["channel"], c.get("cursor")) for c in sandbox.stats.calls("conversations.history")
    ]
    assert len(history) == len(set(history)) and any(cursor for _, cursor in history)
    assert monitor.counters("messages").error is None


def test_second_run_merges_edits_and_new_replies_with_far_fewer_requests(
    sandbox: SlackSandbox, tmp_path: Path, dlt_home: Path
) -> None:
    small_pages = {"page_size": 5}
    load(sandbox, tmp_path, resources="messages,replies", lookback_days=1, client_args=small_pages)
    first = sandbox.stats.total
    channel = member_channels(sandbox)[0]["id"]
    newest, second_newest = sandbox.store.messages(channel)[-1], sandbox.store.messages(channel)[-2]
    sandbox.advance(60)
    sandbox.edit_message(channel, second_newest["ts"], "edited after the first run")
    reply = sandbox.post_message(channel, "a late reply", thread_ts=newest["ts"])
    posted = sandbox.post_message(channel, "a new message")

    pipeline, _ = load(
        sandbox, tmp_path, resources="messages,replies", lookback_days=1, client_args=small_pages
    )

    second = sandbox.stats.total - first
    assert second * 4 < first, (first, second)
    texts = dict(rows(pipeline, f"SELECT ts, text FROM messages WHERE channel_id = '{channel}'"))
    assert texts[second_newest["ts"]] == "edited after the first run"
    assert texts[posted] == "a new message"
    assert (channel, reply) in set(rows(pipeline, "SELECT channel_id, ts FROM replies"))
    assert set(rows(pipeline, "SELECT channel_id, ts FROM messages")) == expected_messages(sandbox)


def test_marketplace_backfill_interrupted_and_resumed_reads_no_page_twice(
    slack_sandbox_factory: Any, tmp_path: Path, dlt_home: Path
) -> None:
    sandbox = slack_sandbox_factory(volume=SMALL, marketplace_limits=True, minute_s=0.05)
    # 1 request per (scaled) minute on history and replies, as the sandbox enforces.
    regime = {"marketplace_limits": True}
    limits = {"conversations.history": 1200.0, "conversations.replies": 1200.0}
    ticks = itertools.count()  # the time budget's clock: one second per check

    def run(budget: Optional[float]) -> SyncMonitor:
        client_args = {**regime, "method_limits": {**FAST, **limits}}
        client = make_client(base_url=sandbox.base_url, bot_token=sandbox.bot_token, **client_args)
        pipeline = dlt.pipeline(
            "slack",
            destination=dlt.destinations.duckdb(str(tmp_path / "slack_data.duckdb")),
            dataset_name="slack",
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        monitor = SyncMonitor("slack", "run")
        source = slack_source(
            resources="messages,replies",
            client=client,
            monitor=monitor,
            time_budget_s=budget,
            clock=lambda: float(next(ticks)),
            lookback_days=0,  # no deliberate re-read of recent history: every page once
        )
        pipeline.run(source)
        run.pipeline = pipeline  # type: ignore[attr-defined]
        return monitor

    stopped = run(budget=4)
    assert "time budget" in (stopped.counters("messages").error or "")
    assert sandbox.stats.count("conversations.history") < 8
    finished = run(budget=None)

    assert finished.counters("messages").error is None
    calls = sandbox.stats.calls("conversations.history")
    asked = Counter(
        (c["channel"], c.get("cursor"), c.get("oldest"), c.get("latest")) for c in calls
    )
    assert [k for k, n in asked.items() if n > 1] == []
    assert all(int(c["limit"]) <= 15 for c in calls)
    threads = Counter(
        (c["channel"], c["ts"], c.get("cursor"))
        for c in sandbox.stats.calls("conversations.replies")
    )
    assert [k for k, n in threads.items() if n > 1] == []
    pipeline = run.pipeline  # type: ignore[attr-defined]
    assert set(rows(pipeline, "SELECT channel_id, ts FROM messages")) == expected_messages(sandbox)
    assert set(rows(pipeline, "SELECT channel_id, ts FROM replies")) == expected_replies(sandbox)
    assert sandbox.stats.throttled() == 0  # the limiter kept to 1 per minute


def test_429_storm_is_waited_out(
    slack_sandbox_factory: Any, tmp_path: Path, dlt_home: Path
) -> None:
    # A short minute: Retry-After comes as a decimal (0.05 s), not rounded up to 1 s.
    sandbox = slack_sandbox_factory(volume=SMALL, rate_limits=False, minute_s=1.0)
    sandbox.faults.throttle_next(6, retry_after=0.05, method="conversations.history")

    pipeline, monitor = load(
        sandbox, tmp_path, resources="messages", client_args={"backoff_base": 0.01}
    )

    assert sandbox.stats.throttled("conversations.history") == 6
    assert set(rows(pipeline, "SELECT channel_id, ts FROM messages")) == expected_messages(sandbox)
    assert monitor.counters("messages").error is None


def test_missing_scope_names_it_and_the_run_goes_on(
    sandbox: SlackSandbox, tmp_path: Path, dlt_home: Path
) -> None:
    sandbox.remove_scope("users:read")

    pipeline, monitor = load(sandbox, tmp_path, resources="channels,users")

    assert "users:read" in (monitor.counters("users").error or "")
    assert rows(pipeline, "SELECT COUNT(*) FROM channels") == [(len(sandbox.store.channels()),)]


def test_channel_deleted_from_the_list_is_kept_as_deleted(
    sandbox: SlackSandbox, tmp_path: Path, dlt_home: Path
) -> None:
    load(sandbox, tmp_path, resources="channels")
    gone = sandbox.store.channels()[1]
    sandbox.delete_channel(gone["id"])

    pipeline, _ = load(sandbox, tmp_path, resources="channels")

    flags = dict(rows(pipeline, "SELECT id, deleted FROM channels"))
    assert flags[gone["id"]] is True
    assert sum(1 for deleted in flags.values() if deleted) == 1
    assert rows(pipeline, f"SELECT name FROM channels WHERE id = '{gone['id']}'") == [
        (gone["name"],)
    ]


def test_marketplace_window_longer_than_max_wait_stops_and_resumes(
    slack_sandbox_factory: Any, tmp_path: Path, dlt_home: Path
) -> None:
    tiny = Volume(users=12, big_channel=24, channels=(ChannelPlan("engineering", messages=8),))
    # A real minute; 2 history and 4 replies calls a minute (not 1) only to keep it short.
    per_minute = {"conversations.history": 2, "conversations.replies": 4}
    # A clock that moves only by advance(): a window never rolls over during a run.
    sandbox = slack_sandbox_factory(
        volume=tiny, marketplace_limits=True, per_minute=per_minute, clock=ManualClock()
    )
    regime = {"marketplace_limits": True, "max_wait_s": 5.0}
    runs = []
    for _ in range(20):
        pipeline, monitor = load(
            sandbox, tmp_path, resources="messages,replies", client_args=regime
        )
        runs.append(monitor)
        if monitor.counters("messages").error is None and not monitor.counters("replies").error:
            break
        assert "max_wait_s" in (monitor.counters("messages").error or "max_wait_s")
        sandbox.advance(61)  # the next minute: one more request each

    assert len(runs) >= 2  # the first run stopped on the window
    # The window allows two history requests a minute: no run read more (the first may
    # straddle two windows), and every answered request was a page loaded.
    pages = [m.counters("messages").pages for m in runs]
    assert max(pages) <= 4
    answered = sandbox.stats.count("conversations.history") - sandbox.stats.throttled(
        "conversations.history"
    )
    assert answered == sum(pages)
    backfill = [c for c in sandbox.stats.calls("conversations.history") if "oldest" not in c]
    assert len({(c["channel"], c.get("cursor")) for c in backfill}) == 3  # 24/15 + 8/15 pages
    assert set(rows(pipeline, "SELECT channel_id, ts FROM messages")) == expected_messages(sandbox)
    assert set(rows(pipeline, "SELECT channel_id, ts FROM replies")) == expected_replies(sandbox)
