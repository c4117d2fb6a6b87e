"""Gmail connector units on bare responses: quota units, batch format, rows, errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sources.gmail import batch
from sources.gmail.errors import GmailRetryDecider, raise_for_gmail
from sources.gmail.messages import BodyOptions, decode_words, message_row, thread_row
from sources.gmail.settings import UNIT_COSTS
from sources.gmail.spec import SPEC
from sources.gmail.sync import read_history
from sources.kit.errors import FatalError, RateLimitedError
from sources.kit.ratelimit import RateLimit, RateLimiter, RequestCosts
from tests.unit._kit_fakes import FakeClock, make_response

ME = "/gmail/v1/users/me"


@pytest.mark.parametrize(
    ("path", "units"),
    [
        (f"{ME}/profile", 1),
        (f"{ME}/labels", 1),
        (f"{ME}/messages", 5),
        (f"{ME}/messages/18c0ffee", 5),
        (f"{ME}/messages/18c0ffee/attachments/ANGjdJ8", 5),
        (f"{ME}/threads", 10),
        (f"{ME}/threads/18c0ffee", 10),
        (f"{ME}/history", 2),
    ],
    ids=["profile", "labels", "list", "get", "attachment", "threads", "thread", "history"],
)
def test_each_method_costs_its_documented_units(path: str, units: float) -> None:
    assert SPEC.request_costs is not None
    assert SPEC.request_costs(path) == units


def test_limiter_paces_by_units_not_requests() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        RateLimit(per_second=10, burst=5),
        clock=clock,
        sleep=clock.sleep,
        costs=RequestCosts(UNIT_COSTS, default=5),
    )
    # history.list costs 2: five of them fit 10 units a second...
    waits = [limiter.acquire(f"{ME}/history") for _ in range(5)]
    # ...while each messages.get (5 units) waits half a second.
    gets = [limiter.acquire(f"{ME}/messages/x") for _ in range(3)]

    assert sum(waits) == pytest.approx(0.5)  # 10 units: the first 5 burst, 5 more take 0.5 s
    assert gets == [pytest.approx(0.5)] * 3
    assert limiter.units_spent == 25
    assert limiter.snapshot()["units_spent"] == 25


def test_a_batch_is_charged_the_sum_of_its_calls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        RateLimit(per_second=100, burst=10), clock=clock, sleep=clock.sleep, costs=RequestCosts({})
    )
    with limiter.charge(250):
        waited = limiter.acquire("/batch/gmail/v1")
    after = limiter.acquire("/batch/gmail/v1")  # default cost again: one unit

    assert waited == pytest.approx(2.4)  # 250 units at 100/s beyond a burst of 10
    assert limiter.units_spent == 251
    assert after == pytest.approx(0.01)


def test_limiter_without_costs_still_counts_requests() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_second=4), clock=clock, sleep=clock.sleep)

    waits = [limiter.acquire("/any") for _ in range(3)]

    assert waits == [0.0, pytest.approx(0.25), pytest.approx(0.25)]
    assert "units_spent" not in limiter.snapshot()


def test_batch_round_trip_keeps_order_utf8_and_errors() -> None:
    calls = [batch.Call("a", f"{ME}/messages/a", (("format", "metadata"),)), batch.Call("b", "/b")]
    body, content_type = batch.encode(calls, boundary="batch_x")
    assert b"GET /gmail/v1/users/me/messages/a?format=metadata" in body
    assert content_type == "multipart/mixed; boundary=batch_x"
    answer = (
        "--resp\r\nContent-Type: application/http\r\nContent-ID: <response-item-1>\r\n\r\n"
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\n\r\n"
        '{"error": {"code": 429, "errors": [{"reason": "rateLimitExceeded"}]}}\r\n'
        "--resp\r\nContent-Type: application/http\r\nContent-ID: <response-item-0>\r\n\r\n"
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"subject": "Überprüfung"}\r\n'
        "--resp\r\nContent-Type: application/http\r\nContent-ID: <response-item-7>\r\n\r\n"
        "HTTP/1.1 200 OK\r\n\r\n{}\r\n--resp--\r\n"
    ).encode()

    answers = batch.decode("multipart/mixed; boundary=resp", answer, len(calls))

    assert sorted(answers) == [0, 1]  # the unknown Content-ID is ignored
    assert answers[0].json() == {"subject": "Überprüfung"}
    assert (answers[1].status, answers[1].retry_after) == (429, "3")
    assert answers[1].reasons == {"rateLimitExceeded"}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


MESSAGE: dict[str, Any] = {
    "id": "m1",
    "threadId": "t1",
    "labelIds": ["INBOX", "UNREAD"],
    "snippet": "Hallo",
    "historyId": "1234",
    "internalDate": "1700000000123",
    "sizeEstimate": 2048,
    "payload": {
        "mimeType": "multipart/mixed",
        "headers": [
            {"name": "Subject", "value": "=?utf-8?b?w5xiZXJwcsO8ZnVuZw==?= des Vertrags"},
            {"name": "From", "value": "Ana <ana@example.com>"},
            {"name": "To", "value": "me@example.com"},
            {"name": "Date", "value": "Tue, 14 Nov 2023 23:13:20 +0100"},
            {"name": "Message-ID", "value": "<abc@example.com>"},
        ],
        "parts": [
            {
                "mimeType": "multipart/alternative",
                "parts": [
                    {"mimeType": "text/plain", "filename": "", "body": {"data": b64("x" * 50)}},
                    {"mimeType": "text/html", "filename": "", "body": {"data": b64("<p>hi</p>")}},
                ],
            },
            {
                "partId": "1",
                "mimeType": "application/pdf",
                "filename": "big.pdf",
                "body": {"attachmentId": "ANG1", "size": 5000},
            },
        ],
    },
}


def test_message_row_parses_metadata_and_headers() -> None:
    row = message_row(MESSAGE)

    assert row["subject"] == "Überprüfung des Vertrags"
    assert (row["from"], row["to"], row["cc"], row["message_id"]) == (
        "Ana <ana@example.com>",
        "me@example.com",
        None,
        "<abc@example.com>",
    )
    assert row["internal_date"].isoformat() == "2023-11-14T22:13:20.123000+00:00"
    assert row["sent_at"].isoformat() == "2023-11-14T22:13:20+00:00"
    assert (row["history_id"], row["size_estimate"], row["deleted"]) == (1234, 2048, False)
    assert "body_text" not in row and "attachments" not in row


def test_bodies_and_attachments_are_optional_and_capped() -> None:
    options = BodyOptions(
        bodies=True, attachments=True, max_body_bytes=10, max_attachment_bytes=100
    )

    row = message_row(MESSAGE, options)

    assert (row["body_text"], row["body_html"], row["body_truncated"]) == (
        "x" * 10,
        "<p>hi</p>",
        True,
    )
    assert row["attachments"] == [
        {
            "part_id": "1",
            "filename": "big.pdf",
            "mime_type": "application/pdf",
            "size": 5000,
            "attachment_id": "ANG1",
            "too_large": True,
            "data": None,  # above the cap: not read
        }
    ]
    assert options.format == "full" and BodyOptions().format == "metadata"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("plain", "plain"), ("=?iso-8859-1?q?caf=E9?=", "café"), ("=?bogus?x?zz?=", "=?bogus?x?zz?=")],
    ids=["plain", "quoted-printable", "undecodable"],
)
def test_encoded_words(value: str, expected: str) -> None:
    assert decode_words(value) == expected


def test_thread_row_counts_messages() -> None:
    thread = {"id": "t1", "historyId": "9", "messages": [{"snippet": "a"}, {"snippet": "b"}]}

    assert thread_row(thread) == {
        "id": "t1",
        "history_id": 9,
        "snippet": "b",
        "message_count": 2,
        "deleted": False,
    }


@pytest.mark.parametrize(
    ("status", "reason", "retried"),
    [
        (429, "rateLimitExceeded", True),
        (403, "userRateLimitExceeded", True),
        (403, "rateLimitExceeded", True),
        (403, "insufficientPermissions", False),
        (503, "backendError", True),
        (400, "invalidArgument", False),
    ],
    ids=["429", "403-user", "403-project", "403-scope", "503", "400"],
)
def test_retry_decider(status: int, reason: str, retried: bool) -> None:
    body = {"error": {"code": status, "message": "m", "errors": [{"reason": reason}]}}

    decided = GmailRetryDecider().should_retry("GET", make_response(status, body), None, False)

    assert decided is retried


def test_other_403_is_one_fatal_line_and_quota_is_rate_limited() -> None:
    scope = {
        "error": {
            "code": 403,
            "message": "Insufficient Permission",
            "errors": [{"reason": "insufficientPermissions"}],
        }
    }
    quota = {
        "error": {
            "code": 403,
            "message": "User Rate Limit Exceeded",
            "errors": [{"reason": "userRateLimitExceeded"}],
        }
    }

    with pytest.raises(FatalError) as fatal:
        raise_for_gmail(make_response(403, scope))
    with pytest.raises(RateLimitedError):
        raise_for_gmail(make_response(403, quota))

    assert "\n" not in str(fatal.value)
    assert "sources.gmail.credentials.refresh_token" in str(fatal.value)


class HistoryClient:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self._pages = pages

    def history(self, start: int, *, label: str) -> Any:
        for page in self._pages:
            yield page.get("history", []), page


def entry(message_id: str, thread_id: str = "t") -> dict[str, Any]:
    return {"message": {"id": message_id, "threadId": thread_id, "labelIds": ["INBOX"]}}


def test_history_folds_each_message_to_its_last_change() -> None:
    pages = [
        {
            "history": [{"id": "11", "messagesAdded": [entry("new"), entry("gone")]}],
            "historyId": "12",
        },
        {
            "history": [
                {"id": "12", "labelsAdded": [{**entry("old"), "labelIds": ["STARRED"]}]},
                {"id": "13", "messagesDeleted": [entry("gone"), entry("was")]},
            ],
            "historyId": "20",
        },
    ]

    changes = read_history(HistoryClient(pages), 10, "messages")  # type: ignore[arg-type]
    threads = read_history(HistoryClient(pages), 10, "threads", key="threadId")  # type: ignore[arg-type]

    assert list(changes.fetch) == ["new", "old"]
    assert list(changes.deleted) == ["gone", "was"]
    assert changes.newest == 20
    assert list(threads.fetch) == ["t"] and not threads.deleted


def test_the_session_built_from_the_spec_budgets_units() -> None:
    from sources.kit.connector import build_session
    from sources.kit.settings import HttpSettings

    session = build_session(SPEC, base_url="https://gmail.googleapis.com", settings=HttpSettings())

    limiter = session.rate_limiter
    assert limiter is not None
    assert limiter.cost_of(f"{ME}/threads/t1") == 10
    assert limiter.current_rate() == 200.0  # units per second


@pytest.mark.parametrize("costs", [{r"/x": 0}, {r"/x": -1}], ids=["zero", "negative"])
def test_request_costs_must_be_positive(costs: dict[str, float]) -> None:
    from sources.kit.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        RequestCosts(costs)
