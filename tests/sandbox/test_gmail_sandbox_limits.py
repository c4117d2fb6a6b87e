"""The Gmail sandbox's quota units, fault switches and batch endpoint (raw HTTP)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import requests

from sandbox.gmail import GmailSandbox
from tests.sandbox.test_gmail_sandbox import TIMEOUT, Gmail


@pytest.fixture
def gmail(gmail_sandbox: GmailSandbox) -> Gmail:
    return Gmail(gmail_sandbox)


def test_units_are_charged_per_method(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    message_id = gmail_sandbox.store.stored()[0].id
    gmail.ok("profile")
    gmail.ok("labels")
    gmail.ok("messages")
    gmail.ok(f"messages/{message_id}")
    gmail.ok("history", startHistoryId=str(gmail_sandbox.store.history_id))
    gmail.ok("threads", maxResults=1)
    assert gmail_sandbox.stats.units == 1 + 1 + 5 + 5 + 2 + 10
    assert gmail_sandbox.stats.total == 6 and gmail_sandbox.stats.count("messages.get") == 1
    assert gmail_sandbox.stats.count("token") == 1


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, "rateLimitExceeded"), (403, "userRateLimitExceeded")],
    ids=["429", "403"],
)
def test_per_user_budget_per_second(gmail_sandbox_factory: Any, status: int, reason: str) -> None:
    sb: GmailSandbox = gmail_sandbox_factory(quota_units_per_s=20, quota_status=status)
    gmail = Gmail(sb)
    message_id = sb.store.stored()[0].id
    codes = [gmail.get(f"messages/{message_id}").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, status]
    denied = gmail.get(f"messages/{message_id}")
    error = denied.json()["error"]
    assert (error["code"], error["errors"][0]["reason"]) == (status, reason)
    assert error["errors"][0]["domain"] == "usageLimits"
    assert denied.headers.get("Retry-After") == ("1" if status == 429 else None)
    sb.advance(1.0)
    assert gmail.get(f"messages/{message_id}").status_code == 200
    assert sb.stats.units == 25


def test_unmetered_sandbox(gmail_sandbox_factory: Any) -> None:
    sb: GmailSandbox = gmail_sandbox_factory(quota_units_per_s=None)
    gmail = Gmail(sb)
    assert all(gmail.get("threads").status_code == 200 for _ in range(30))


@pytest.mark.parametrize(
    ("switch", "status", "reason"),
    [
        (lambda f: f.throttle_next(2), 429, "rateLimitExceeded"),
        (lambda f: f.throttle_next(2, status=403), 403, "userRateLimitExceeded"),
        (lambda f: f.throttle_next(2, status=403, reason="rateLimitExceeded"), 403,
         "rateLimitExceeded"),
        (lambda f: f.fail_next(2), 503, "backendError"),
        (lambda f: f.fail_next(2, status=500), 500, "backendError"),
    ],
    ids=["429-storm", "403-user", "403-project", "503", "500"],
)  # fmt: skip
def test_fault_switches_answer_google_errors(
    gmail_sandbox: GmailSandbox, gmail: Gmail, switch: Any, status: int, reason: str
) -> None:
    switch(gmail_sandbox.faults)
    first, second = gmail.get("profile"), gmail.get("profile")
    assert first.status_code == second.status_code == status
    assert first.json()["error"]["errors"][0]["reason"] == reason
    assert gmail.get("profile").status_code == 200


def test_dropped_connection(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    gmail_sandbox.faults.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        gmail.get("profile")
    assert gmail.get("profile").status_code == 200


def test_stall_delays_the_answer(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    gmail_sandbox.faults.stall_next(1, 0.2)
    url = gmail_sandbox.base_url + "gmail/v1/users/me/profile"
    with pytest.raises(requests.Timeout):
        gmail.session.get(url, timeout=0.05)
    started = time.monotonic()
    assert gmail.get("profile").status_code == 200
    assert time.monotonic() - started < 0.2


def test_malformed_message(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    message_id = gmail_sandbox.store.stored()[0].id
    gmail_sandbox.faults.malform_next(1)
    broken = gmail.ok(f"messages/{message_id}")
    assert "headers" not in broken["payload"] and broken["internalDate"] == "yesterday"
    assert "headers" in gmail.ok(f"messages/{message_id}")["payload"]


def test_other_users_are_refused(gmail: Gmail) -> None:
    url = gmail.sb.base_url + "gmail/v1/users/someone@else.example/profile"
    assert gmail.session.get(url, timeout=TIMEOUT).status_code == 403


# -- batch -----------------------------------------------------------------------------


def batch_body(paths: list[str], boundary: str = "b0undary") -> str:
    parts = [
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{n}>\r\n\r\n"
        f"GET /gmail/v1/users/me/{path}\r\n\r\n"
        for n, path in enumerate(paths)
    ]
    return "".join(parts) + f"--{boundary}--\r\n"


def post_batch(gmail: Gmail, paths: list[str], url: str | None = None) -> requests.Response:
    return gmail.session.post(
        url or gmail.sb.batch_url,
        data=batch_body(paths).encode(),
        headers={"Content-Type": "multipart/mixed; boundary=b0undary"},
        timeout=TIMEOUT,
    )


def split_answer(response: requests.Response) -> list[tuple[str, int, dict[str, Any]]]:
    boundary = response.headers["Content-Type"].split("boundary=")[1]
    answers = []
    for part in response.text.split(f"--{boundary}")[1:-1]:
        content_id = re.search(r"Content-ID: <([^>]+)>", part)
        status = re.search(r"HTTP/1.1 (\d+)", part)
        assert content_id and status
        answers.append((content_id[1], int(status[1]), json.loads(part[part.index("{") :])))
    return answers


@pytest.mark.parametrize("path", ["batch/gmail/v1", "batch"], ids=["gmail", "global"])
def test_batch_answers_each_call(gmail_sandbox: GmailSandbox, gmail: Gmail, path: str) -> None:
    ids = [m.id for m in gmail_sandbox.store.stored()[:3]]
    paths = [f"messages/{i}?format=minimal" for i in ids] + ["messages/ffffffffffffffff"]
    response = post_batch(gmail, paths, gmail_sandbox.base_url + path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    answers = split_answer(response)
    assert [a[0] for a in answers] == [f"response-item{n}" for n in range(4)]
    assert [a[1] for a in answers] == [200, 200, 200, 404]
    assert [a[2].get("id") for a in answers[:3]] == ids
    assert gmail_sandbox.stats.count("messages.get") == 4 and gmail_sandbox.stats.units == 20


def test_batch_inner_calls_meet_quota_and_auth(gmail_sandbox_factory: Any) -> None:
    sb: GmailSandbox = gmail_sandbox_factory(quota_units_per_s=12)
    gmail = Gmail(sb)
    message_id = sb.store.stored()[0].id
    statuses = [a[1] for a in split_answer(post_batch(gmail, [f"messages/{message_id}"] * 3))]
    assert statuses == [200, 200, 429]
    sb.advance(1)
    sb.expire_access_tokens()
    statuses = [a[1] for a in split_answer(post_batch(gmail, [f"messages/{message_id}"]))]
    assert statuses == [401]


def test_batch_limits(gmail: Gmail) -> None:
    assert post_batch(gmail, ["profile"] * 101).status_code == 400
    plain = gmail.session.post(gmail.sb.batch_url, data=b"{}", timeout=TIMEOUT)
    assert plain.status_code == 400
