"""Slack Events API units: identity, challenge, signature check, the drain's plan."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from sources.kit.webhooks import SignatureMismatchError, TimestampOutOfToleranceError
from sources.kit.webhooks.inbox import InboxEvent
from sources.slack.events import answer_challenge, identify_slack, plan_events, slack_verifier

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # noqa: S105 - Slack's documented example secret


def signed(body: bytes, stamp: int, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), b"v0:%d:" % stamp + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": f"v0={digest}"}


def stored(event: dict[str, Any], created: int, event_id: str) -> InboxEvent:
    body = json.dumps({"type": "event_callback", "event_id": event_id, "event": event})
    return InboxEvent(event_id, created, event["type"], body.encode(), float(created))


@pytest.mark.parametrize(
    ("offset", "secret", "error"),
    [
        (0, SECRET, None),
        (299, SECRET, None),
        (301, SECRET, TimestampOutOfToleranceError),
        (0, "another-secret", SignatureMismatchError),
    ],
    ids=["fresh", "4m59s-old", "5m01s-old", "wrong-secret"],
)
def test_signature_and_five_minute_tolerance(offset: int, secret: str, error: Any) -> None:
    body = b'{"type":"event_callback"}'
    verify = slack_verifier(SECRET, clock=lambda: 1_700_000_000.0)
    headers = signed(body, 1_700_000_000 - offset, secret)
    if error is None:
        verify(body, headers)
    else:
        with pytest.raises(error):
            verify(body, headers)


def test_identity_and_challenge() -> None:
    payload = {
        "event_id": "Ev1",
        "event_time": 1700000000,
        "event": {"type": "message", "subtype": "message_deleted"},
    }
    identity = identify_slack(payload)
    assert (identity.event_id, identity.created, identity.type) == (
        "Ev1",
        1700000000,
        "message.message_deleted",
    )
    answer = answer_challenge({"type": "url_verification", "challenge": "3eZbrw1aB"})
    assert answer is not None and json.loads(bytes(answer.body)) == {"challenge": "3eZbrw1aB"}
    assert answer_challenge(payload) is None


def test_plan_keeps_the_last_change_of_each_message_and_splits_replies() -> None:
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "C1",
        "message": {"ts": "1.000000", "text": "edited"},
    }
    delete = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": "C1",
        "deleted_ts": "1.000000",
        "previous_message": {"ts": "1.000000", "text": "edited"},
    }
    reply_gone = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": "C1",
        "deleted_ts": "2.500000",
        "previous_message": {"ts": "2.500000", "thread_ts": "2.000000", "text": "r"},
    }
    events = [
        stored(delete, 20, "Ev2"),
        stored(edit, 10, "Ev1"),
        stored(reply_gone, 30, "Ev3"),
        stored({"type": "channel_deleted", "channel": "C9"}, 40, "Ev4"),
        stored({"type": "message", "channel": "C1", "ts": "3.000000"}, 50, "Ev5"),
    ]

    plan = plan_events(events)

    assert plan.messages[("C1", "1.000000")]["deleted"] is True  # the delete came last
    assert plan.messages[("C1", "1.000000")]["text"] == "edited"
    assert plan.replies[("C1", "2.500000")]["deleted"] is True
    assert list(plan.channels_gone) == ["C9"] and plan.ignored == 1
