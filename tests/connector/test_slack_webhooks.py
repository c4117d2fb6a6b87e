"""Slack Events API through the kit's receiver: signature, challenge, deletes drained."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from pipelines.slack_webhooks import main as webhooks_main
from sandbox.slack import SlackSandbox
from sources.kit.webhooks.inbox import Inbox
from sources.slack.events import WEBHOOK_PATH, create_slack_receiver, drain
from tests.connector.test_slack_connector_http import SMALL, load, member_channels, rows
from tests.webhook_helpers import serve_in_thread


@pytest.fixture
def sandbox(slack_sandbox_factory: Any) -> SlackSandbox:
    made: SlackSandbox = slack_sandbox_factory(volume=SMALL, rate_limits=False)
    return made


@pytest.fixture
def receiver(sandbox: SlackSandbox, tmp_path: Path) -> Any:
    with Inbox(tmp_path / "inbox.sqlite3") as inbox:
        with serve_in_thread(create_slack_receiver(inbox, sandbox.signing_secret)) as base:
            yield f"{base}{WEBHOOK_PATH}", inbox


def test_url_verification_challenge_is_answered(sandbox: SlackSandbox, receiver: Any) -> None:
    url, inbox = receiver

    answer = sandbox.url_verification(url)

    assert answer.status_code == 200
    assert answer.json()["challenge"] == json.loads(answer.request.body or b"{}")["challenge"]
    assert inbox.counts().pending == 0  # a challenge is not an event


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        ({"secret": "not-the-signing-secret"}, "does not match"),
        ({"timestamp": int(time.time()) - 301}, "tolerance"),
    ],
    ids=["wrong-secret", "older-than-5-minutes"],
)
def test_forged_or_stale_requests_are_refused(
    sandbox: SlackSandbox, receiver: Any, forge: dict[str, Any], reason: str
) -> None:
    url, inbox = receiver
    body = json.dumps(
        sandbox.events.envelope({"type": "channel_deleted", "channel": "C1"})
    ).encode()

    answer = requests.post(url, data=body, headers=sandbox.events.signed(body, **forge), timeout=5)

    assert answer.status_code == 400 and reason in answer.text
    assert inbox.counts().pending == 0


def test_webhook_deletes_and_edits_are_merged_as_soft_deletes(
    sandbox: SlackSandbox, receiver: Any, tmp_path: Path, dlt_home: Path
) -> None:
    url, inbox = receiver
    pipeline, _ = load(sandbox, tmp_path, resources="channels,messages,replies")
    channel = member_channels(sandbox)[0]["id"]
    parent = next(m for m in sandbox.store.messages(channel) if m.get("reply_count"))
    reply = sandbox.store.replies(channel, parent["ts"])[0]
    plain = next(m for m in sandbox.store.messages(channel) if not m.get("reply_count"))
    edited = sandbox.store.messages(channel)[-1]
    doomed = member_channels(sandbox)[1]
    sandbox.send_events_to(url)

    sandbox.delete_message(channel, reply["ts"])
    sandbox.delete_message(channel, plain["ts"])
    sandbox.edit_message(channel, edited["ts"], "edited, seen by the webhook")
    sandbox.delete_channel(doomed["id"])
    plan = drain(pipeline, inbox)

    assert inbox.counts().pending == 0 and plan.changes == 4
    message = rows(pipeline, f"SELECT deleted, text FROM messages WHERE ts = '{plain['ts']}'")
    assert message == [(True, plain["text"])]
    assert rows(pipeline, f"SELECT deleted FROM replies WHERE ts = '{reply['ts']}'") == [(True,)]
    assert rows(pipeline, f"SELECT text FROM messages WHERE ts = '{edited['ts']}'") == [
        ("edited, seen by the webhook",)
    ]
    assert rows(pipeline, f"SELECT deleted, name FROM channels WHERE id = '{doomed['id']}'") == [
        (True, doomed["name"])
    ]
    assert rows(pipeline, "SELECT COUNT(*) FROM messages WHERE deleted")[0] == (1,)


def test_drain_command_prints_what_changed(
    tmp_path: Path, dlt_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "slack_data.duckdb"))
    with Inbox(tmp_path / "inbox.sqlite3"):
        pass  # an empty inbox

    assert webhooks_main(["drain", "--inbox", str(tmp_path / "inbox.sqlite3")]) == 0

    assert "0 message(s)" in capsys.readouterr().out


def test_serve_without_signing_secret_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCES__SLACK__SIGNING_SECRET", raising=False)

    assert webhooks_main(["serve", "--port", "0", "--inbox", str(tmp_path / "i.sqlite3")]) != 0

    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "sources.slack.signing_secret" in lines[0]
