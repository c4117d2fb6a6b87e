"""The Slack sandbox's Events API sender: signed event_callbacks per mutation, url_verification."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from sandbox.slack import SlackSandbox
from sources.kit.webhooks import SignatureMismatchError, verify_slack_signature


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers a url_verification with its challenge."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/slack/events"

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(({k: v for k, v in self.headers.items()}, body))
        payload = json.loads(body)
        answer = json.dumps({"challenge": payload.get("challenge", "")}).encode()
        failing = self.server.fail_first > 0
        self.server.fail_first -= 1
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def channel_id(sb: SlackSandbox, name: str) -> str:
    return next(c["id"] for c in sb.store.all_channels() if c["name"] == name)


def test_url_verification_is_signed_and_answered(
    slack_sandbox: SlackSandbox, receiver: Receiver
) -> None:
    answer = slack_sandbox.url_verification(receiver.url)
    (headers, body) = receiver.received[0]
    sent = json.loads(body)
    assert sent["type"] == "url_verification" and sent["challenge"]
    assert answer.json() == {"challenge": sent["challenge"]}
    assert SignatureVerifier(slack_sandbox.signing_secret).is_valid_request(body, headers)


def test_no_events_until_subscribed(slack_sandbox: SlackSandbox, receiver: Receiver) -> None:
    slack_sandbox.post_message(channel_id(slack_sandbox, "general"), "quiet")
    assert receiver.received == []


def test_mutations_send_signed_event_callbacks(
    slack_sandbox: SlackSandbox, receiver: Receiver
) -> None:
    general = channel_id(slack_sandbox, "general")
    slack_sandbox.send_events_to(receiver.url)
    ts = slack_sandbox.post_message(general, "hello")
    slack_sandbox.edit_message(general, ts, "hello, edited")
    slack_sandbox.delete_message(general, ts)
    slack_sandbox.archive_channel(channel_id(slack_sandbox, "engineering"))
    slack_sandbox.delete_channel(channel_id(slack_sandbox, "random"))
    slack_sandbox.delete_channel(channel_id(slack_sandbox, "incidents"))
    verifier = SignatureVerifier(slack_sandbox.signing_secret)
    for headers, body in receiver.received:
        assert verifier.is_valid_request(body, headers)
        verify_slack_signature(
            body,
            headers["X-Slack-Request-Timestamp"],
            headers["X-Slack-Signature"],
            slack_sandbox.signing_secret,
        )
    payloads = receiver.payloads()
    assert {p["type"] for p in payloads} == {"event_callback"}
    assert all(
        p["team_id"] == slack_sandbox.team_id and p["event_id"].startswith("Ev") for p in payloads
    )
    assert len({p["event_id"] for p in payloads}) == len(payloads)
    events = [p["event"] for p in payloads]
    assert [(e["type"], e.get("subtype")) for e in events] == [
        ("message", None),
        ("message", "message_changed"),
        ("message", "message_deleted"),
        ("channel_archive", None),
        ("channel_deleted", None),
        ("group_deleted", None),
    ]
    posted, changed, deleted = events[:3]
    assert posted["ts"] == ts and posted["channel"] == general and posted["text"] == "hello"
    assert (
        changed["message"]["text"] == "hello, edited"
        and changed["previous_message"]["text"] == "hello"
    )
    assert changed["message"]["edited"]["ts"] == changed["ts"]
    assert deleted["deleted_ts"] == ts and deleted["hidden"] is True
    assert deleted["previous_message"]["ts"] == ts and deleted["channel"] == general


def test_a_forged_delivery_fails_verification(
    slack_sandbox: SlackSandbox, receiver: Receiver
) -> None:
    slack_sandbox.events.post(receiver.url, {"type": "event_callback"}, secret="not-the-secret")
    headers, body = receiver.received[0]
    assert not SignatureVerifier(slack_sandbox.signing_secret).is_valid_request(body, headers)
    with pytest.raises(SignatureMismatchError):
        verify_slack_signature(
            body,
            headers["X-Slack-Request-Timestamp"],
            headers["X-Slack-Signature"],
            slack_sandbox.signing_secret,
        )


def test_an_unreachable_receiver_does_not_break_mutations(slack_sandbox: SlackSandbox) -> None:
    slack_sandbox.send_events_to("http://127.0.0.1:9/unreachable")
    ts = slack_sandbox.post_message(channel_id(slack_sandbox, "general"), "still posted")
    assert slack_sandbox.store.message(channel_id(slack_sandbox, "general"), ts) is not None
    assert [d.status for d in slack_sandbox.events.deliveries] == [0, 0, 0, 0]


def test_a_failed_delivery_is_retried_with_retry_headers(
    slack_sandbox: SlackSandbox, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    slack_sandbox.send_events_to(receiver.url)
    slack_sandbox.post_message(channel_id(slack_sandbox, "general"), "retried")
    assert [h.get("X-Slack-Retry-Num") for h, _ in receiver.received] == [None, "1", "2"]
    assert receiver.received[1][0]["X-Slack-Retry-Reason"] == "http_error"
    assert len({json.loads(b)["event_id"] for _, b in receiver.received}) == 1
