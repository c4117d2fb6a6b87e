"""The Stripe webhook receiver over real HTTP on loopback (uvicorn, as ``serve`` runs it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.stripe.webhooks import WebhookSender, encode_event, headers_for
from sources.kit.webhooks.inbox import Inbox
from sources.stripe.webhooks import WEBHOOK_PATH, create_stripe_receiver
from tests.webhook_helpers import serve_in_thread

SECRET = "whsec_current_endpoint_secret"
OLD_SECRET = "whsec_previous_endpoint_secret"
NOW = 1_767_225_600
MAX_BODY = 4096


def clock() -> float:
    return float(NOW)


@dataclass
class Receiver:
    url: str
    base: str
    inbox: Inbox


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    inbox = Inbox(tmp_path / "inbox.sqlite3")
    app = create_stripe_receiver(inbox, [SECRET, OLD_SECRET], max_body_bytes=MAX_BODY, clock=clock)
    with serve_in_thread(app) as base:
        yield Receiver(base + WEBHOOK_PATH, base, inbox)
    inbox.close()


@pytest.fixture
def sender() -> WebhookSender:
    return WebhookSender(SECRET, now=clock)


def make_event(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"evt_{n}",
        "object": "event",
        "type": "customer.updated",
        "created": NOW - 10,
        "data": {"object": {"id": f"cus_{n}", "object": "customer", "name": f"n{n}"}},
        **extra,
    }


def test_valid_event_is_stored_byte_for_byte(receiver: Receiver, sender: WebhookSender) -> None:
    delivery = sender.delivery(make_event())
    result = sender.post(receiver.url, delivery)
    assert result.status == 200
    assert result.answer == {"received": True, "duplicate": False}
    stored = receiver.inbox.pending(10)
    assert [(e.event_id, e.type, e.created, e.payload) for e in stored] == [
        ("evt_1", "customer.updated", NOW - 10, delivery.body)
    ]
    assert stored[0].received_at == NOW


def test_duplicate_is_acknowledged_once(receiver: Receiver, sender: WebhookSender) -> None:
    first = sender.post(receiver.url, sender.delivery(make_event()))
    again = sender.post(receiver.url, sender.delivery(make_event(), kind="duplicate"))
    assert (first.status, again.status) == (200, 200)
    assert again.answer == {"received": True, "duplicate": True}
    assert receiver.inbox.counts().total == 1


@pytest.mark.parametrize(
    "secrets",
    [[OLD_SECRET], [SECRET, OLD_SECRET], ["whsec_unknown", OLD_SECRET]],
    ids=["previous-secret-only", "both-secrets", "unknown-plus-previous"],
)
def test_rotation_accepts_previous_secret(
    receiver: Receiver, sender: WebhookSender, secrets: list[str]
) -> None:
    result = sender.post(receiver.url, sender.delivery(make_event(), secrets=secrets))
    assert result.status == 200
    assert receiver.inbox.event_ids() == {"evt_1"}


def signed(body: bytes, sender: WebhookSender, timestamp: int = NOW) -> dict[str, str]:
    return headers_for(sender.signature_header(body, timestamp=timestamp))


def refusals(sender: WebhookSender) -> list[tuple[str, bytes, dict[str, str], int]]:
    body = encode_event(make_event())
    huge = encode_event(make_event(padding="x" * MAX_BODY))
    no_id = encode_event({k: v for k, v in make_event().items() if k != "id"})
    return [
        ("forged", body, headers_for(sender.signature_header(body, secrets=["whsec_x"])), 400),
        ("tampered", body.replace(b"n1", b"n2"), signed(body, sender), 400),
        ("stale", body, signed(body, sender, NOW - 301), 400),
        ("future", body, signed(body, sender, NOW + 301), 400),
        ("missing-header", body, {"Content-Type": "application/json"}, 400),
        ("malformed-header", body, headers_for("v1=abc"), 400),
        ("malformed-json", b"{not json", signed(b"{not json", sender), 400),
        ("json-array", b"[1,2]", signed(b"[1,2]", sender), 400),
        ("event-without-id", no_id, signed(no_id, sender), 400),
        ("oversized", huge, signed(huge, sender), 413),
    ]


REFUSAL_IDS = [r[0] for r in refusals(WebhookSender(SECRET, now=clock))]


@pytest.mark.parametrize("case", range(len(REFUSAL_IDS)), ids=REFUSAL_IDS)
def test_refused_requests_change_nothing(
    receiver: Receiver, sender: WebhookSender, case: int
) -> None:
    _, body, headers, status = refusals(sender)[case]
    response = requests.post(receiver.url, data=body, headers=headers, timeout=5)
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert SECRET not in response.text and OLD_SECRET not in response.text
    assert receiver.inbox.counts().total == 0


def test_oversized_chunked_body_is_refused(receiver: Receiver, sender: WebhookSender) -> None:
    chunks = (b"x" * 1024 for _ in range(8))  # no Content-Length: read until over the limit
    headers = signed(b"", sender)
    response = requests.post(receiver.url, data=chunks, headers=headers, timeout=5)
    assert response.status_code == 413
    assert receiver.inbox.counts().total == 0


def test_get_on_webhook_path_is_not_allowed(receiver: Receiver) -> None:
    assert requests.get(receiver.url, timeout=5).status_code == 405


def test_noop_and_healthz(receiver: Receiver, sender: WebhookSender) -> None:
    noop = requests.post(receiver.base + "/noop", data=b"{}", timeout=5)
    assert (noop.status_code, noop.json()) == (200, {"received": True})
    sender.post(receiver.url, sender.delivery(make_event()))
    sender.post(receiver.url, sender.delivery(make_event()))
    sender.post(receiver.url, sender.forged(make_event()))
    health = requests.get(receiver.base + "/healthz", timeout=5).json()
    assert health == {
        "status": "ok",
        "accepted": 1,
        "duplicates": 1,
        "rejected": 1,
        "failed": 0,
        "commits": 2,
    }
    assert receiver.inbox.counts().total == 1


def test_inbox_failure_answers_503(receiver: Receiver, sender: WebhookSender) -> None:
    receiver.inbox.close()
    result = sender.post(receiver.url, sender.delivery(make_event()))
    assert result.status == 503
    assert json.dumps(result.answer).count("retry") == 1
