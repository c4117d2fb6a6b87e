"""Fidelity: the official slack_sdk WebClient, pointed at the sandbox, behaves as against Slack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sandbox.clock import ManualClock
from sandbox.slack import SlackSandbox

Factory = Callable[..., SlackSandbox]


def client(sb: SlackSandbox, **kwargs: Any) -> WebClient:
    return WebClient(token=sb.bot_token, base_url=sb.base_url, timeout=5, **kwargs)


def channel_id(sb: SlackSandbox, name: str) -> str:
    return next(c["id"] for c in sb.store.all_channels() if c["name"] == name)


def test_auth_test(slack_sandbox: SlackSandbox) -> None:
    answer = client(slack_sandbox).auth_test()
    assert answer["team_id"] == slack_sandbox.team_id
    assert answer["user_id"] == slack_sandbox.bot_user_id


@pytest.mark.parametrize(
    ("call", "key", "expected"),
    [
        (
            lambda c, sb: c.conversations_list(types="public_channel,private_channel", limit=2),
            "channels",
            lambda sb: sorted(ch["id"] for ch in sb.store.channels()),
        ),
        (
            lambda c, sb: c.users_list(limit=7),
            "members",
            lambda sb: sorted(u["id"] for u in sb.store.users()),
        ),
        (
            lambda c, sb: c.conversations_members(channel=channel_id(sb, "engineering"), limit=3),
            "members",
            lambda sb: sorted(sb.store.members(channel_id(sb, "engineering"))),
        ),
    ],
    ids=["conversations_list", "users_list", "conversations_members"],
)
def test_sdk_cursor_iteration_pages_every_list(
    slack_sandbox: SlackSandbox, call: Any, key: str, expected: Any
) -> None:
    # SlackResponse iteration refills the same object with each page: read it as it goes.
    items: list[str] = []
    pages = 0
    for page in call(client(slack_sandbox), slack_sandbox):
        items += [i if isinstance(i, str) else i["id"] for i in page[key]]
        pages += 1
    assert items == expected(slack_sandbox)
    assert pages > 1


def test_sdk_pages_history_and_replies_of_every_readable_channel(
    slack_sandbox_factory: Factory,
) -> None:
    # 60+ threads would meet Tier 3's 50 a minute: limits off for this walk.
    slack_sandbox = slack_sandbox_factory(rate_limits=False)
    web = client(slack_sandbox)
    readable = [c for c in slack_sandbox.store.channels() if c["is_member"]]
    assert len(readable) >= 5
    for channel in readable:
        seen = [
            m["ts"]
            for page in web.conversations_history(channel=channel["id"], limit=200)
            for m in page["messages"]
        ]
        stored = slack_sandbox.store.messages(channel["id"])
        assert seen == [m["ts"] for m in reversed(stored)]
        for thread_ts in slack_sandbox.store.threads(channel["id"]):
            thread = [
                m["ts"]
                for page in web.conversations_replies(channel=channel["id"], ts=thread_ts, limit=2)
                for m in page["messages"]
            ]
            replies = slack_sandbox.store.replies(channel["id"], thread_ts)
            assert thread == [thread_ts] + [r["ts"] for r in replies]


@pytest.mark.parametrize(
    ("setup", "call", "error"),
    [
        (
            None,
            lambda c, sb: c.conversations_history(channel=channel_id(sb, "design-reviews")),
            "not_in_channel",
        ),
        (None, lambda c, sb: c.conversations_history(channel="C0NOSUCH00"), "channel_not_found"),
        ("revoke_token", lambda c, sb: c.users_list(), "token_revoked"),
        (None, lambda c, sb: c.conversations_list(cursor="bm9wZQ=="), "invalid_cursor"),
    ],
    ids=["not_in_channel", "channel_not_found", "token_revoked", "invalid_cursor"],
)
def test_sdk_raises_slack_api_error_with_the_code(
    slack_sandbox: SlackSandbox, setup: str | None, call: Any, error: str
) -> None:
    if setup:
        getattr(slack_sandbox, setup)()
    with pytest.raises(SlackApiError) as raised:
        call(client(slack_sandbox), slack_sandbox)
    assert raised.value.response["error"] == error
    assert raised.value.response.status_code == 200


def test_sdk_invalid_auth_for_unknown_token(slack_sandbox: SlackSandbox) -> None:
    web = WebClient(token="xoxb-1-2-nope", base_url=slack_sandbox.base_url, timeout=5)
    with pytest.raises(SlackApiError) as raised:
        web.auth_test()
    assert raised.value.response["error"] == "invalid_auth"


def test_sdk_sees_missing_scope_details(slack_sandbox: SlackSandbox) -> None:
    slack_sandbox.remove_scope("users:read")
    with pytest.raises(SlackApiError) as raised:
        client(slack_sandbox).users_list()
    assert raised.value.response["error"] == "missing_scope"
    assert raised.value.response["needed"] == "users:read"


def test_sdk_rate_limit_retry_handler_parses_retry_after(
    slack_sandbox_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    # The handler sleeps int(Retry-After) + random(); record instead of waiting.
    monkeypatch.setattr(builtin_handlers.time, "sleep", slept.append)
    sb = slack_sandbox_factory(clock=ManualClock(1_779_999_980.0))
    sb.faults.throttle_next(2, retry_after=3, method="users.list")
    web = client(sb, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    answer = web.users_list(limit=5)
    assert answer["ok"] is True and len(answer["members"]) == 5
    assert len(slept) == 2 and all(3 <= s < 4 for s in slept)
    assert sb.stats.count("users.list") == 3 and sb.stats.throttled("users.list") == 2


def test_sdk_without_retry_handler_raises_ratelimited(slack_sandbox_factory: Factory) -> None:
    sb = slack_sandbox_factory(clock=ManualClock(1_779_999_980.0), per_minute={"users.list": 1})
    web = client(sb)
    web.users_list()
    with pytest.raises(SlackApiError) as raised:
        web.users_list()
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] == "40"
