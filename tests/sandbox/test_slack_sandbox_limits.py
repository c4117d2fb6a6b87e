"""The Slack sandbox's rate limits (tiers, the Marketplace regime, scaled minutes) and faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.clock import ManualClock
from sandbox.slack import SlackSandbox

TIMEOUT = 5
Factory = Callable[..., SlackSandbox]


def get(sb: SlackSandbox, method: str, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {sb.bot_token}"}
    return requests.get(sb.base_url + method, params=params, headers=headers, timeout=TIMEOUT)


def general(sb: SlackSandbox) -> str:
    return next(c["id"] for c in sb.store.channels() if c["name"] == "general")


@pytest.mark.parametrize(
    ("method", "allowed"),
    [("conversations.list", 20), ("users.list", 20), ("conversations.history", 50)],
    ids=["tier2-list", "tier2-users", "tier3-history"],
)
def test_tier_limit_answers_429_with_retry_after(
    slack_sandbox_factory: Factory, method: str, allowed: int
) -> None:
    clock = ManualClock(1_779_999_980.0)  # 20 s into a minute window
    sb = slack_sandbox_factory(clock=clock)
    params = {"channel": general(sb)} if method == "conversations.history" else {}
    statuses = [get(sb, method, limit=1, **params).status_code for _ in range(allowed)]
    assert set(statuses) == {200}
    denied = get(sb, method, limit=1, **params)
    assert denied.status_code == 429
    assert denied.json() == {"ok": False, "error": "ratelimited"}
    assert denied.headers["Retry-After"] == "40"
    assert sb.stats.throttled(method) == 1
    clock.advance(40)
    assert get(sb, method, limit=1, **params).status_code == 200


def test_limits_are_per_method(slack_sandbox_factory: Factory) -> None:
    sb = slack_sandbox_factory(clock=ManualClock(1_780_000_000.0), per_minute={"users.list": 1})
    assert get(sb, "users.list").status_code == 200
    assert get(sb, "users.list").status_code == 429
    assert get(sb, "conversations.list").status_code == 200


def test_marketplace_regime_caps_limit_and_rate(slack_sandbox_factory: Factory) -> None:
    clock = ManualClock(1_780_000_000.0)
    sb = slack_sandbox_factory(marketplace_limits=True, minute_s=0.5, clock=clock)
    first = get(sb, "conversations.history", channel=general(sb), limit=200)
    body = first.json()
    assert len(body["messages"]) == 15 and body["has_more"] is True
    second = get(sb, "conversations.history", channel=general(sb), limit=200)
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "0.5"
    assert second.headers["X-Sandbox-Retry-After-Ms"] == "500"
    # replies have their own minute, and other methods keep their tier
    assert get(sb, "conversations.list").status_code == 200
    clock.advance(0.5)
    cursor = body["response_metadata"]["next_cursor"]
    third = get(sb, "conversations.history", channel=general(sb), cursor=cursor).json()
    assert third["messages"][0]["ts"] < body["messages"][-1]["ts"]


def test_marketplace_regime_with_running_clock_lets_a_waiting_client_through(
    slack_sandbox_factory: Factory,
) -> None:
    sb = slack_sandbox_factory(marketplace_limits=True, minute_s=0.3)
    channel = general(sb)
    answers = [get(sb, "conversations.history", channel=channel) for _ in range(3)]
    denied = [r for r in answers if r.status_code == 429]
    assert denied, "three calls within one 0.3 s window should meet the limit of one"
    # No one advances this clock: only real time can open the next window.
    time.sleep(float(denied[-1].headers["Retry-After"]) + 0.005)
    assert get(sb, "conversations.history", channel=channel).status_code == 200


def test_rate_limits_can_be_off(slack_sandbox_factory: Factory) -> None:
    sb = slack_sandbox_factory(rate_limits=False, clock=ManualClock(1_780_000_000.0))
    assert {get(sb, "users.list").status_code for _ in range(25)} == {200}


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, "internal_error"), (503, "service_unavailable")],
    ids=["500", "503"],
)
def test_fail_next_answers_5xx_then_recovers(
    slack_sandbox: SlackSandbox, status: int, error: str
) -> None:
    slack_sandbox.faults.fail_next(1, status=status)
    failed = get(slack_sandbox, "auth.test")
    assert failed.status_code == status and failed.json() == {"ok": False, "error": error}
    assert get(slack_sandbox, "auth.test").json()["ok"] is True


def test_throttle_storm_only_hits_its_method(slack_sandbox: SlackSandbox) -> None:
    slack_sandbox.faults.throttle_next(3, retry_after=2, method="users.list")
    assert get(slack_sandbox, "auth.test").status_code == 200
    storm = [get(slack_sandbox, "users.list") for _ in range(3)]
    assert [r.status_code for r in storm] == [429, 429, 429]
    assert storm[0].headers["Retry-After"] == "2"
    assert get(slack_sandbox, "users.list").status_code == 200


def test_drop_next_resets_the_connection(slack_sandbox: SlackSandbox) -> None:
    slack_sandbox.faults.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        get(slack_sandbox, "auth.test")
    assert get(slack_sandbox, "auth.test").status_code == 200


def test_stall_next_delays_the_answer(slack_sandbox: SlackSandbox) -> None:
    slack_sandbox.faults.stall_next(1, seconds=0.05)
    started = time.monotonic()
    assert get(slack_sandbox, "auth.test").json()["ok"] is True
    assert time.monotonic() - started >= 0.05


@pytest.mark.parametrize(
    ("method", "key", "field"),
    [("conversations.history", "messages", "ts"), ("users.list", "members", "id")],
    ids=["message", "user"],
)
def test_malform_next_drops_the_record_key(
    slack_sandbox: SlackSandbox, method: str, key: str, field: str
) -> None:
    slack_sandbox.faults.malform_next(1, method=method)
    params = {"channel": general(slack_sandbox)} if method == "conversations.history" else {}
    records = get(slack_sandbox, method, limit=5, **params).json()[key]
    assert field not in records[0] and all(field in r for r in records[1:])


def test_revoke_after_revokes_mid_sync(slack_sandbox: SlackSandbox) -> None:
    slack_sandbox.faults.revoke_after(2, method="conversations.history")
    channel = general(slack_sandbox)
    first = get(slack_sandbox, "conversations.history", channel=channel, limit=10).json()
    assert get(slack_sandbox, "users.list").json()["ok"] is True  # other methods do not count
    cursor = first["response_metadata"]["next_cursor"]
    assert get(slack_sandbox, "conversations.history", channel=channel, cursor=cursor).json()["ok"]
    assert get(slack_sandbox, "auth.test").json() == {"ok": False, "error": "token_revoked"}


def test_after_requests_changes_data_between_pages(slack_sandbox: SlackSandbox) -> None:
    channel = general(slack_sandbox)
    posted: list[str] = []
    slack_sandbox.faults.after_requests(
        1,
        lambda: posted.append(slack_sandbox.post_message(channel, "mid-sync")),
        method="conversations.history",
    )
    first = get(slack_sandbox, "conversations.history", channel=channel, limit=10).json()
    assert posted and all(m["ts"] != posted[0] for m in first["messages"])
    newest = get(slack_sandbox, "conversations.history", channel=channel, limit=1).json()
    assert newest["messages"][0]["ts"] == posted[0]
