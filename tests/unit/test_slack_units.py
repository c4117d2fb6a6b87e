"""Slack connector units on bare responses: error mapping, token, budgets, checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

import pytest

from sources.kit.errors import (
    AuthenticationError,
    ClientError,
    ConfigurationError,
    RateLimitedError,
    SluiceError,
)
from sources.kit.monitor import SyncMonitor
from sources.slack.budget import RunBudget, estimate_calls
from sources.slack.client import (
    SlackPage,
    check_token,
    method_budget,
    next_cursor_of,
    parse_method_limits,
)
from sources.slack.errors import InvalidCursorError, SlackAccessError, raise_for_slack
from sources.slack.history import message_rows, urgency
from sources.slack.rows import message_row, minus_seconds, newer
from sources.slack.run import SlackRun
from sources.slack.threads import ThreadFeed, reply_rows
from tests.unit._kit_fakes import FakeClock, make_response

API = "https://slack.com/api/"


def slack_answer(method: str, body: dict[str, Any], status: int = 200) -> Any:
    return make_response(status, body, url=f"{API}{method}?channel=C1")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("invalid_auth", AuthenticationError),
        ("not_authed", AuthenticationError),
        ("token_revoked", AuthenticationError),
        ("account_inactive", AuthenticationError),
        ("channel_not_found", SlackAccessError),
        ("not_in_channel", SlackAccessError),
        ("missing_scope", SlackAccessError),
        ("invalid_cursor", InvalidCursorError),
        ("ratelimited", RateLimitedError),
        ("some_new_error", ClientError),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_ok_false_maps_to_the_kit_error(code: str, kind: type[SluiceError]) -> None:
    with pytest.raises(kind) as raised:
        raise_for_slack(slack_answer("conversations.history", {"ok": False, "error": code}))
    assert "conversations.history" in str(raised.value) and code in str(raised.value)
    assert "\n" not in str(raised.value)


def test_bad_token_names_the_setting() -> None:
    with pytest.raises(AuthenticationError, match="sources.slack.bot_token"):
        raise_for_slack(slack_answer("auth.test", {"ok": False, "error": "token_revoked"}))


@pytest.mark.parametrize(
    ("body", "scope"),
    [
        ({"ok": False, "error": "missing_scope", "needed": "users:read"}, "users:read"),
        ({"ok": False, "error": "missing_scope"}, "users:read"),
    ],
    ids=["slack-names-it", "documented-fallback"],
)
def test_missing_scope_names_the_scope(body: dict[str, Any], scope: str) -> None:
    with pytest.raises(SlackAccessError) as raised:
        raise_for_slack(slack_answer("users.list", body))
    assert raised.value.needed == scope and scope in str(raised.value)


def test_success_and_non_json_answers() -> None:
    raise_for_slack(slack_answer("users.list", {"ok": True, "members": []}))
    with pytest.raises(ClientError, match="no JSON"):
        raise_for_slack(make_response(200, "<html>", url=f"{API}users.list"))


@pytest.mark.parametrize(
    ("token", "message"),
    [(None, "missing"), ("", "missing"), ("xoxp-user-token", "xoxb-")],
    ids=["none", "empty", "user-token"],
)
def test_wrong_looking_token_is_one_config_line(token: Optional[str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        check_token(token)
    assert message in str(raised.value) and "sources.slack.bot_token" in str(raised.value)
    assert "xoxp-user-token" not in str(raised.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {}),
        (
            "conversations.history=120,users.list=30",
            {"conversations.history": 120.0, "users.list": 30.0},
        ),
        ('{"conversations.replies": 2}', {"conversations.replies": 2.0}),
        ({"conversations.history": "5"}, {"conversations.history": 5.0}),
    ],
    ids=["unset", "pairs", "json", "table"],
)
def test_method_limits_setting(value: Any, expected: dict[str, float]) -> None:
    assert parse_method_limits(value) == expected


@pytest.mark.parametrize(
    "value", ["conversations.history=fast", {"users.list": 0}], ids=["nan", "zero"]
)
def test_bad_method_limit_is_one_line(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="sources.slack.method_limits"):
        parse_method_limits(value)


def test_marketplace_budget_is_one_per_minute_unless_configured() -> None:
    budget = method_budget(True, {"conversations.replies": 3.0})
    assert budget["conversations.history"] == 1.0
    assert budget["conversations.replies"] == 3.0
    assert budget["users.list"] == 20.0
    assert method_budget(False, {})["conversations.history"] == 50.0


@pytest.mark.parametrize(
    ("body", "cursor"),
    [
        ({"response_metadata": {"next_cursor": "dXNlcjpVMEc5V0ZYTlo="}}, "dXNlcjpVMEc5V0ZYTlo="),
        ({"response_metadata": {"next_cursor": ""}}, None),
        ({}, None),
    ],
    ids=["more", "last-page", "no-metadata"],
)
def test_next_cursor(body: dict[str, Any], cursor: Optional[str]) -> None:
    assert next_cursor_of(body) == cursor


def test_ts_arithmetic_keeps_six_decimals() -> None:
    assert minus_seconds("1700000000.000100", 86400) == "1699913600.000100"
    assert newer("999.000001", "1000.000000") == "1000.000000"
    row = message_row("C1", {"ts": "1700000000.000100", "edited": {"ts": "1700000100.000000"}})
    assert row["channel_id"] == "C1" and row["deleted"] is False
    assert row["posted_at"].timestamp() == pytest.approx(1700000000.0001)
    assert row["edited_at"].timestamp() == 1700000100.0


def test_eta_from_the_work_left_and_the_budget() -> None:
    budget = RunBudget(per_minute={"conversations.history": 1.0})
    assert estimate_calls(done_channels=2, pages_read=6, channels_left=3) == 9.0
    assert budget.eta_s("conversations.history", 9.0) == 540.0


# -- checkpoints, on a scripted client ---------------------------------------------------


class PassGuard:
    """The dead-letter guard's interface, passing every record."""

    dead_lettered = 0

    def batches(self, records: list[Any], max_batch: int = 0) -> Iterator[list[Any]]:
        yield list(records)


GUARD: Any = PassGuard()


class ScriptedSlack:
    """Serves history/replies pages by (method, channel/thread, cursor); records each ask."""

    def __init__(self, pages: dict[Any, SlackPage], clock: FakeClock) -> None:
        self.script = pages
        self.clock = clock
        self.asked: list[tuple[str, str, Optional[str]]] = []
        self.method_limits = {"conversations.history": 1.0, "conversations.replies": 1.0}
        self.channel_list = [{"id": "C1", "name": "general", "is_member": True}]
        self.notes: list[str] = []

    def pages(
        self, method: str, key: str, params: dict[str, Any], *, label: str, cursor: Any = None
    ) -> Iterator[SlackPage]:
        where = params.get("ts") or params["channel"]
        while True:
            self.asked.append((method, where, cursor))
            self.clock.advance(60.0)  # one request a minute
            page = self.script[(method, where, cursor)]
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def page(ts: list[str], following: Optional[str], **extra: Any) -> SlackPage:
    items = [{"ts": t, "text": t, **extra} for t in ts]
    return SlackPage({"ok": True}, items, following, None)


def make_run(client: ScriptedSlack, budget_s: Optional[float]) -> SlackRun:
    run = SlackRun(
        client=client,  # type: ignore[arg-type]
        monitor=SyncMonitor("slack", "run"),
        run_id="run",
        budget=RunBudget(budget_s, client.method_limits, client.clock),
        channel_types=("public_channel",),
        lookback_s=0.0,
        first_oldest=None,
        now=0.0,
    )
    run._channels = client.channel_list
    return run


HISTORY_SCRIPT = {
    ("conversations.history", "C1", None): page(["30.000000", "29.000000"], "c2"),
    ("conversations.history", "C1", "c2"): page(["20.000000", "19.000000"], "c3"),
    ("conversations.history", "C1", "c3"): page(["10.000000"], None),
}


def test_interrupted_backfill_resumes_at_the_saved_cursor() -> None:
    clock = FakeClock()
    client = ScriptedSlack(dict(HISTORY_SCRIPT), clock)
    state: dict[str, Any] = {}

    first = [r for item in message_rows(make_run(client, 90.0), GUARD, state) for r in item]
    assert [r["ts"] for r in first] == ["30.000000", "29.000000", "20.000000", "19.000000"]
    assert state["C1"]["pass"]["cursor"] == "c3" and "oldest" not in state["C1"]

    second = [r for item in message_rows(make_run(client, None), GUARD, state) for r in item]
    assert [r["ts"] for r in second] == ["10.000000"]
    assert client.asked == [("conversations.history", "C1", c) for c in (None, "c2", "c3")]
    assert state["C1"] == {"oldest": "30.000000"}


def test_next_pass_starts_at_the_high_water_mark() -> None:
    clock = FakeClock()
    script = dict(HISTORY_SCRIPT)
    client = ScriptedSlack(script, clock)
    state: dict[str, Any] = {}
    list(message_rows(make_run(client, None), GUARD, state))
    seen: list[dict[str, Any]] = []
    original = client.pages

    def spy(method: str, key: str, params: dict[str, Any], **kwargs: Any) -> Iterator[SlackPage]:
        seen.append(dict(params))
        script[(method, "C1", None)] = page([], None)
        return original(method, key, params, **kwargs)

    client.pages = spy  # type: ignore[method-assign]
    list(message_rows(make_run(client, None), GUARD, state))
    assert seen == [{"channel": "C1", "oldest": "30.000000"}]


def test_channel_error_skips_the_channel_and_is_reported() -> None:
    clock = FakeClock()
    client = ScriptedSlack({}, clock)
    client.channel_list = [
        {"id": "C9", "name": "secret", "is_member": True},
        {"id": "C1", "name": "general", "is_member": True},
    ]
    client.script[("conversations.history", "C1", None)] = page(["1.000000"], None)
    original = client.pages

    def refusing(
        method: str, key: str, params: dict[str, Any], **kwargs: Any
    ) -> Iterator[SlackPage]:
        if params["channel"] == "C9":
            raise SlackAccessError(
                "Slack conversations.history: not_in_channel", code="not_in_channel", method=method
            )
        return original(method, key, params, **kwargs)

    client.pages = refusing  # type: ignore[method-assign]
    run = make_run(client, None)
    rows = [r for item in message_rows(run, GUARD, {}) for r in item]
    assert [r["channel_id"] for r in rows] == ["C1"]
    error = run.monitor.counters("messages").error or ""
    assert "#secret (C9): not_in_channel" in error
    assert client.notes == ["messages: 1 channel(s) skipped"]


@pytest.mark.parametrize(
    ("state", "rank"),
    [
        ({"pass": {"cursor": "c2"}}, 0),
        ({}, 1),
        ({"oldest": "5.000000"}, 2),
        ({"oldest": "5.000000", "pass": {"cursor": "c9"}}, 2),
    ],
    ids=["unfinished-backfill", "never-read", "caught-up", "incremental-pass"],
)
def test_backfills_get_the_scarce_requests_first(state: dict[str, Any], rank: int) -> None:
    assert urgency({"id": "C1"}, {"C1": state}) == rank


def test_replies_stop_saves_pending_threads_and_resumes_them() -> None:
    clock = FakeClock()
    script = {
        ("conversations.replies", "1.000000", None): page(["1.000000", "1.500000"], None),
        ("conversations.replies", "2.000000", None): page(["2.000000", "2.500000"], None),
    }
    client = ScriptedSlack(script, clock)
    state: dict[str, Any] = {}
    parents = [
        {"channel_id": "C1", "ts": t, "thread_ts": t, "reply_count": 1, "latest_reply": r}
        for t, r in (("1.000000", "1.500000"), ("2.000000", "2.500000"))
    ]
    feed = ThreadFeed()
    feed.put_rows(parents)
    feed.close()
    first = [
        r["ts"] for item in reply_rows(make_run(client, 60.0), GUARD, feed, state) for r in item
    ]
    assert first == ["1.500000"]
    assert [p["ts"] for p in state["pending"]] == ["2.000000"]

    feed = ThreadFeed()
    feed.close()
    second = [
        r["ts"] for item in reply_rows(make_run(client, None), GUARD, feed, state) for r in item
    ]
    assert second == ["2.500000"] and state["pending"] == []
    assert [a[1] for a in client.asked] == ["1.000000", "2.000000"]
    assert state["channels"]["C1"]["threads"] == {"1.000000": "1.500000", "2.000000": "2.500000"}
