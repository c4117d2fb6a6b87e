"""The Slack sandbox over HTTP: seed, auth errors, paging, time windows, scopes, mutations."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import requests

from sandbox.clock import ManualClock
from sandbox.slack import SlackSandbox
from sandbox.slack.ids import encode_cursor

TIMEOUT = 5
START = 1_780_000_000.0


def call(sb: SlackSandbox, method: str, token: str | None = None, **params: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token or sb.bot_token}"}
    response = requests.get(sb.base_url + method, params=params, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def channel_named(sb: SlackSandbox, name: str) -> dict[str, Any]:
    return next(c for c in sb.store.all_channels() if c["name"] == name)


def page_all(sb: SlackSandbox, method: str, key: str, **params: Any) -> tuple[list[Any], int]:
    items: list[Any] = []
    cursor, pages = "", 0
    while True:
        body = call(sb, method, **params, **({"cursor": cursor} if cursor else {}))
        assert body["ok"], body
        items += body[key]
        pages += 1
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            return items, pages


def test_seed_is_deterministic_and_realistic() -> None:
    first = SlackSandbox(seed=7, clock=ManualClock(START))
    # An hour later the same day: the same seed gives the same keys (ts).
    second = SlackSandbox(seed=7, clock=ManualClock(START + 3600))
    general = channel_named(first, "general")
    assert first.store.messages(general["id"]) == second.store.messages(general["id"])
    assert first.bot_token == second.bot_token and first.bot_token.startswith("xoxb-")
    messages = first.store.messages(general["id"])
    assert len(messages) == 400
    subtypes = {m.get("subtype") for m in messages}
    assert {"channel_join", "bot_message", "file_share", None} <= subtypes
    assert any("edited" in m for m in messages)
    parents = [m for m in messages if m.get("reply_count")]
    assert parents and all(
        len(first.store.replies(general["id"], p["ts"])) == p["reply_count"] for p in parents
    )
    users = first.store.users()
    assert len(users) == 20
    assert sum(u["deleted"] for u in users) == 2 and sum(u["is_bot"] for u in users) == 3
    kinds = {(c["is_private"], c["is_archived"]) for c in first.store.all_channels()}
    assert kinds == {(False, False), (True, False), (False, True), (True, True)}


@pytest.mark.parametrize(
    ("token", "action", "error"),
    [
        ("", None, "not_authed"),
        ("xoxb-wrong", None, "invalid_auth"),
        (None, "revoke_token", "token_revoked"),
        (None, "deactivate_account", "account_inactive"),
    ],
    ids=["no-token", "unknown-token", "revoked", "inactive"],
)
def test_token_errors(
    slack_sandbox: SlackSandbox, token: str | None, action: str | None, error: str
) -> None:
    if action:
        getattr(slack_sandbox, action)()
    headers = {} if token is not None else {"Authorization": f"Bearer {slack_sandbox.bot_token}"}
    params = {"token": token} if token else {}
    response = requests.get(
        slack_sandbox.base_url + "auth.test", params=params, headers=headers, timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.json() == {"ok": False, "error": error}


@pytest.mark.parametrize("style", ["form", "json", "query-token"])
def test_arguments_by_form_json_or_query(slack_sandbox: SlackSandbox, style: str) -> None:
    general = channel_named(slack_sandbox, "general")["id"]
    url = slack_sandbox.base_url + "conversations.history"
    bearer = {"Authorization": f"Bearer {slack_sandbox.bot_token}"}
    if style == "form":
        response = requests.post(url, data={"channel": general, "limit": 3}, headers=bearer)
    elif style == "json":
        response = requests.post(url, json={"channel": general, "limit": 3}, headers=bearer)
    else:
        params = {"channel": general, "limit": 3, "token": slack_sandbox.bot_token}
        response = requests.get(url, params=params)
    body = response.json()
    assert body["ok"] and len(body["messages"]) == 3 and body["has_more"] is True


def test_history_pages_newest_first_to_the_end(slack_sandbox: SlackSandbox) -> None:
    general = channel_named(slack_sandbox, "general")["id"]
    messages, pages = page_all(
        slack_sandbox, "conversations.history", "messages", channel=general, limit=150
    )
    expected = [m["ts"] for m in reversed(slack_sandbox.store.messages(general))]
    assert [m["ts"] for m in messages] == expected
    assert pages == 3
    assert slack_sandbox.stats.count("conversations.history") == 3


@pytest.mark.parametrize(
    ("inclusive", "expected"),
    [(False, slice(11, 20)), (True, slice(10, 21))],
    ids=["exclusive", "inclusive"],
)
def test_history_oldest_latest_inclusive(
    slack_sandbox: SlackSandbox, inclusive: bool, expected: slice
) -> None:
    general = channel_named(slack_sandbox, "general")["id"]
    stored = [m["ts"] for m in slack_sandbox.store.messages(general)]
    body = call(
        slack_sandbox,
        "conversations.history",
        channel=general,
        oldest=stored[10],
        latest=stored[20],
        inclusive="true" if inclusive else "false",
    )
    assert [m["ts"] for m in body["messages"]] == list(reversed(stored[expected]))
    assert body["has_more"] is False and body["response_metadata"]["next_cursor"] == ""


def test_replies_parent_first_then_pages_of_replies(slack_sandbox: SlackSandbox) -> None:
    general = channel_named(slack_sandbox, "general")["id"]
    thread = max(
        slack_sandbox.store.threads(general),
        key=lambda ts: len(slack_sandbox.store.replies(general, ts)),
    )
    replies = slack_sandbox.store.replies(general, thread)
    assert len(replies) >= 3
    items, pages = page_all(
        slack_sandbox, "conversations.replies", "messages", channel=general, ts=thread, limit=2
    )
    assert [m["ts"] for m in items] == [thread] + [r["ts"] for r in replies]
    assert pages == (len(replies) + 1 + 1) // 2
    assert all(m["thread_ts"] == thread for m in items)


@pytest.mark.parametrize(
    ("method", "key", "store_ids"),
    [
        ("conversations.list", "channels", lambda sb: sorted(c["id"] for c in sb.store.channels())),
        ("users.list", "members", lambda sb: sorted(u["id"] for u in sb.store.users())),
    ],
    ids=["channels", "users"],
)
def test_lists_page_by_cursor(
    slack_sandbox: SlackSandbox, method: str, key: str, store_ids: Any
) -> None:
    types = {"types": "public_channel,private_channel"} if method == "conversations.list" else {}
    items, pages = page_all(slack_sandbox, method, key, limit=3, **types)
    assert [i["id"] for i in items] == store_ids(slack_sandbox)
    assert pages == -(-len(items) // 3)


def test_conversations_list_types_and_archived(slack_sandbox: SlackSandbox) -> None:
    public = call(slack_sandbox, "conversations.list")["channels"]
    assert public and not any(c["is_private"] for c in public)
    live = call(
        slack_sandbox, "conversations.list", types="private_channel", exclude_archived="true"
    )
    assert [c["name"] for c in live["channels"]] == ["incidents"]
    listed = {c["name"] for c in slack_sandbox.store.channels()}
    assert "leadership" not in listed and "design-reviews" in listed


def test_exclude_archived_filters_after_the_page_is_cut(slack_sandbox: SlackSandbox) -> None:
    types = "public_channel,private_channel"
    sizes: list[int] = []
    channels: list[dict[str, Any]] = []
    cursor = ""
    while True:
        extra = {"cursor": cursor} if cursor else {}
        body = call(
            slack_sandbox,
            "conversations.list",
            types=types,
            limit=2,
            exclude_archived="true",
            **extra,
        )
        sizes.append(len(body["channels"]))
        channels += body["channels"]
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            break
    live = sorted(c["id"] for c in slack_sandbox.store.channels() if not c["is_archived"])
    assert [c["id"] for c in channels] == live
    assert min(sizes[:-1]) < 2  # a short page that is not the last one


def test_members_pages(slack_sandbox: SlackSandbox) -> None:
    general = channel_named(slack_sandbox, "general")["id"]
    members, _ = page_all(
        slack_sandbox, "conversations.members", "members", channel=general, limit=4
    )
    assert members == sorted(slack_sandbox.store.members(general))
    assert slack_sandbox.bot_user_id in members


@pytest.mark.parametrize(
    ("method", "channel", "extra", "error"),
    [
        ("conversations.history", "design-reviews", {}, "not_in_channel"),
        ("conversations.history", "leadership", {}, "channel_not_found"),
        ("conversations.history", "C0NOSUCH00", {}, "channel_not_found"),
        ("conversations.replies", "general", {"ts": "1.000001"}, "thread_not_found"),
        ("conversations.history", "general", {"cursor": "garbage!"}, "invalid_cursor"),
        (
            "conversations.history",
            "general",
            {"cursor": encode_cursor("user", "U1")},
            "invalid_cursor",
        ),
        ("conversations.members", "leadership", {}, "channel_not_found"),
        ("conversations.history", "general", {"limit": "many"}, "invalid_limit"),
    ],
    ids=[
        "public-not-member",
        "private-hidden",
        "unknown",
        "no-thread",
        "garbage-cursor",
        "foreign-cursor",
        "members-hidden",
        "bad-limit",
    ],
)
def test_method_errors(
    slack_sandbox: SlackSandbox, method: str, channel: str, extra: dict[str, str], error: str
) -> None:
    known = {c["name"]: c["id"] for c in slack_sandbox.store.all_channels()}
    body = call(slack_sandbox, method, channel=known.get(channel, channel), **extra)
    assert body == {"ok": False, "error": error}


@pytest.mark.parametrize(
    ("scope", "method", "channel"),
    [
        ("users:read", "users.list", None),
        ("groups:history", "conversations.history", "incidents"),
        ("channels:read", "conversations.list", None),
    ],
    ids=["users", "private-history", "list"],
)
def test_missing_scope_names_needed_and_provided(
    slack_sandbox: SlackSandbox, scope: str, method: str, channel: str | None
) -> None:
    slack_sandbox.remove_scope(scope)
    params = {"channel": channel_named(slack_sandbox, channel)["id"]} if channel else {}
    body = call(slack_sandbox, method, **params)
    assert body["ok"] is False and body["error"] == "missing_scope"
    assert body["needed"] == scope and scope not in body["provided"].split(",")
    assert "channels:history" in body["provided"] or scope == "channels:history"


def test_users_email_needs_its_scope(slack_sandbox: SlackSandbox) -> None:
    with_email = call(slack_sandbox, "users.list")["members"]
    assert any("email" in u["profile"] for u in with_email)
    slack_sandbox.remove_scope("users:read.email")
    without = call(slack_sandbox, "users.list")["members"]
    assert not any("email" in u["profile"] for u in without)


def test_mutations_show_in_history_and_replies(slack_sandbox: SlackSandbox) -> None:
    general = channel_named(slack_sandbox, "general")["id"]
    newest = slack_sandbox.store.messages(general)[-1]["ts"]
    ts = slack_sandbox.post_message(general, "brand new")
    reply = slack_sandbox.post_message(general, "a reply", thread_ts=ts)
    assert float(ts) > float(newest) and float(reply) > float(ts)
    slack_sandbox.edit_message(general, ts, "edited text")
    body = call(slack_sandbox, "conversations.history", channel=general, oldest=newest)
    assert [m["ts"] for m in body["messages"]] == [ts]
    top = body["messages"][0]
    assert top["text"] == "edited text" and top["edited"]["ts"] > ts
    assert top["reply_count"] == 1 and top["latest_reply"] == reply
    thread = call(slack_sandbox, "conversations.replies", channel=general, ts=ts)["messages"]
    assert [m["ts"] for m in thread] == [ts, reply]
    slack_sandbox.delete_message(general, reply)
    thread = call(slack_sandbox, "conversations.replies", channel=general, ts=ts)["messages"]
    assert [m["ts"] for m in thread] == [ts] and "reply_count" not in thread[0]
    slack_sandbox.delete_message(general, ts)
    assert (
        call(slack_sandbox, "conversations.history", channel=general, oldest=newest)["messages"]
        == []
    )


def test_channel_delete_and_archive(slack_sandbox: SlackSandbox) -> None:
    random_id = channel_named(slack_sandbox, "random")["id"]
    engineering = channel_named(slack_sandbox, "engineering")["id"]
    slack_sandbox.archive_channel(engineering)
    slack_sandbox.delete_channel(random_id)
    listed = {c["id"]: c for c in call(slack_sandbox, "conversations.list", limit=100)["channels"]}
    assert random_id not in listed and listed[engineering]["is_archived"] is True
    body = call(slack_sandbox, "conversations.history", channel=random_id)
    assert body == {"ok": False, "error": "channel_not_found"}
    assert call(slack_sandbox, "conversations.history", channel=engineering)["ok"] is True


def test_unknown_method(slack_sandbox: SlackSandbox) -> None:
    assert call(slack_sandbox, "chat.nothing") == {"ok": False, "error": "unknown_method"}


def test_standalone_prints_url_and_token_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.slack", "--port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        base_url = lines[0].split(": ", 1)[1].strip()
        token = lines[2].split("=", 1)[1].strip()
        assert base_url.endswith("/api/") and token.startswith("xoxb-")
        answer = requests.post(base_url + "auth.test", data={"token": token}, timeout=TIMEOUT)
        assert answer.json()["ok"] is True
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
