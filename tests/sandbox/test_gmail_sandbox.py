"""The Gmail sandbox over HTTP: token endpoint, profile, labels, messages, threads, history."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from sandbox.clock import ManualClock
from sandbox.gmail import GmailSandbox, Volume

TIMEOUT = 5
START = 1_780_000_000.0


def token(sb: GmailSandbox, **form: str) -> requests.Response:
    base = {
        "grant_type": "refresh_token",
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "refresh_token": sb.refresh_token,
    }
    return requests.post(sb.token_url, data={**base, **form}, timeout=TIMEOUT)


class Gmail:
    """A requests session holding a fresh access token of the sandbox."""

    def __init__(self, sb: GmailSandbox) -> None:
        self.sb = sb
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + token(sb).json()["access_token"]

    def get(self, path: str, **params: Any) -> requests.Response:
        url = f"{self.sb.base_url}gmail/v1/users/me/{path}"
        return self.session.get(url, params=params, timeout=TIMEOUT)

    def ok(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def all_ids(self, path: str = "messages", key: str = "messages", **params: Any) -> list[str]:
        ids: list[str] = []
        while True:
            page = self.ok(path, **params)
            ids += [item["id"] for item in page.get(key, [])]
            if "nextPageToken" not in page:
                return ids
            params["pageToken"] = page["nextPageToken"]


@pytest.fixture
def gmail(gmail_sandbox: GmailSandbox) -> Gmail:
    return Gmail(gmail_sandbox)


def test_seed_is_deterministic_and_realistic() -> None:
    first = GmailSandbox(seed=3, clock=ManualClock(START))
    second = GmailSandbox(seed=3, clock=ManualClock(START))
    assert [m.id for m in first.store.stored()] == [m.id for m in second.store.stored()]
    assert first.store.history_id == second.store.history_id
    stored = first.store.stored()
    assert 250 <= len(stored) <= 500
    assert len(first.store.threads()) == Volume().threads
    assert any(m.content.attachments for m in stored)
    assert max(len(a.data) for m in stored for a in m.content.attachments) >= 1_000_000
    assert any(not m.content.subject.isascii() for m in stored)
    assert b"=?utf-8?" in next(m.source for m in stored if not m.content.subject.isascii())
    kinds = {m.payload["mimeType"] for m in stored}
    assert {"text/plain", "multipart/alternative", "multipart/mixed"} <= kinds
    label_ids = {label["id"] for label in first.store.labels()}
    assert {"INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED"} <= label_ids
    assert any(i.startswith("Label_") for i in label_ids)
    assert GmailSandbox(seed=4, clock=ManualClock(START)).store.history_id != first.store.history_id


def test_token_endpoint_answers_googles_shapes(gmail_sandbox: GmailSandbox) -> None:
    answer = token(gmail_sandbox)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert "refresh_token" not in body and body["scope"]
    wrong = token(gmail_sandbox, client_secret="nope")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert token(gmail_sandbox, grant_type="password").json()["error"] == "unsupported_grant_type"
    unknown = token(gmail_sandbox, refresh_token="1//unknown")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")


def test_token_by_http_basic(gmail_sandbox: GmailSandbox) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": gmail_sandbox.refresh_token}
    auth = (gmail_sandbox.client_id, gmail_sandbox.client_secret)
    answer = requests.post(gmail_sandbox.token_url, data=form, auth=auth, timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.json()["access_token"].startswith("ya29.")


@pytest.mark.parametrize(
    "authorization", [None, "Bearer ya29.forged", "Basic eDp5"], ids=["none", "unknown", "basic"]
)
def test_api_needs_a_live_bearer_token(gmail_sandbox: GmailSandbox, authorization: str) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    url = gmail_sandbox.base_url + "gmail/v1/users/me/profile"
    answer = requests.get(url, headers=headers, timeout=TIMEOUT)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert (error["code"], error["status"], error["errors"][0]["reason"]) == (
        401,
        "UNAUTHENTICATED",
        "authError",
    )
    assert "invalid_token" in answer.headers["WWW-Authenticate"]


def test_access_token_expires_with_the_clock(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    assert gmail.get("profile").status_code == 200
    gmail_sandbox.advance(3601)
    assert gmail.get("profile").status_code == 401


def test_expire_revoke_and_rotate(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    gmail_sandbox.expire_access_tokens()
    assert gmail.get("profile").status_code == 401
    gmail_sandbox.rotate_refresh_tokens(True)
    old = gmail_sandbox.refresh_token
    rotated = token(gmail_sandbox).json()
    assert (
        rotated["refresh_token"] != old and gmail_sandbox.refresh_token == rotated["refresh_token"]
    )
    assert token(gmail_sandbox, refresh_token=old).json()["error"] == "invalid_grant"
    gmail_sandbox.revoke_grant()
    revoked = token(gmail_sandbox, refresh_token=rotated["refresh_token"])
    assert revoked.status_code == 400
    assert revoked.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


def test_profile_and_labels(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    profile = gmail.ok("profile")
    assert profile["emailAddress"] == gmail_sandbox.email
    assert profile["messagesTotal"] == len(gmail_sandbox.store.stored())
    assert profile["historyId"] == str(gmail_sandbox.store.history_id)
    labels = gmail.ok("labels")["labels"]
    assert {"system", "user"} == {label["type"] for label in labels}
    inbox = gmail.ok("labels/INBOX")
    assert inbox["messagesTotal"] > 0 and inbox["threadsTotal"] <= inbox["messagesTotal"]
    assert gmail.get("labels/Label_999").status_code == 404


def test_messages_list_pages_every_message_once(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    ids = gmail.all_ids(maxResults=37, includeSpamTrash="true")
    assert len(ids) == len(set(ids)) == len(gmail_sandbox.store.stored())
    assert ids == sorted(ids, reverse=True)
    first = gmail.ok("messages")
    assert len(first["messages"]) == 100 and set(first["messages"][0]) == {"id", "threadId"}
    assert first["resultSizeEstimate"] >= 100
    big = gmail.ok("messages", maxResults=10_000)
    assert len(big["messages"]) == 500 or "nextPageToken" not in big
    assert gmail.get("messages", pageToken="garbage").status_code == 400


def test_spam_and_trash_are_left_out_by_default(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    hidden = {m.id for m in gmail_sandbox.store.stored() if {"SPAM", "TRASH"} & set(m.label_ids)}
    assert hidden
    assert not hidden & set(gmail.all_ids(maxResults=500))
    assert set(gmail.all_ids(maxResults=500, labelIds="SPAM")) <= hidden


def test_messages_list_filters_by_label_ids(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    ids = gmail.all_ids(maxResults=500, labelIds=["INBOX", "UNREAD"])
    expected = [
        m.id for m in gmail_sandbox.store.stored() if {"INBOX", "UNREAD"} <= set(m.label_ids)
    ]
    assert ids == expected and ids


@pytest.mark.parametrize(
    ("fmt", "present", "absent"),
    [
        ("minimal", {"id", "labelIds", "historyId", "internalDate"}, {"payload", "raw"}),
        ("metadata", {"payload"}, {"raw"}),
        ("full", {"payload", "snippet", "sizeEstimate"}, {"raw"}),
        ("raw", {"raw"}, {"payload"}),
    ],
    ids=["minimal", "metadata", "full", "raw"],
)
def test_message_formats(
    gmail_sandbox: GmailSandbox, gmail: Gmail, fmt: str, present: set[str], absent: set[str]
) -> None:
    message_id = gmail_sandbox.store.stored()[0].id
    message = gmail.ok(f"messages/{message_id}", format=fmt)
    assert present <= set(message) and not absent & set(message)


def test_metadata_headers_are_selected(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    message_id = gmail_sandbox.store.stored()[0].id
    message = gmail.ok(
        f"messages/{message_id}", format="metadata", metadataHeaders=["Subject", "from"]
    )
    assert {h["name"] for h in message["payload"]["headers"]} == {"Subject", "From"}
    assert "parts" not in message["payload"]


def test_full_payload_decodes_and_attachments_download(
    gmail_sandbox: GmailSandbox, gmail: Gmail
) -> None:
    stored = next(m for m in gmail_sandbox.store.stored() if m.content.attachments)
    message = gmail.ok(f"messages/{stored.id}")
    parts = message["payload"]["parts"]
    files = [p for p in parts if p["filename"]]
    assert [f["filename"] for f in files] == [a.filename for a in stored.content.attachments]
    first = files[0]["body"]
    assert "data" not in first and first["size"] == len(stored.content.attachments[0].data)
    got = gmail.ok(f"messages/{stored.id}/attachments/{first['attachmentId']}")
    assert base64.urlsafe_b64decode(got["data"]) == stored.content.attachments[0].data
    assert gmail.get(f"messages/{stored.id}/attachments/nope").status_code == 404


def test_non_ascii_subject_is_decoded_in_headers(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    stored = next(m for m in gmail_sandbox.store.stored() if not m.content.subject.isascii())
    headers = gmail.ok(f"messages/{stored.id}", format="metadata")["payload"]["headers"]
    assert {"name": "Subject", "value": stored.content.subject} in headers
    raw = base64.urlsafe_b64decode(gmail.ok(f"messages/{stored.id}", format="raw")["raw"])
    assert b"Subject: =?utf-8?" in raw


def test_unknown_message_and_bad_format(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    missing = gmail.get("messages/ffffffffffffffff")
    assert missing.status_code == 404
    assert missing.json()["error"]["errors"][0]["reason"] == "notFound"
    message_id = gmail_sandbox.store.stored()[0].id
    assert gmail.get(f"messages/{message_id}", format="html").status_code == 400


def test_threads_list_and_get(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    ids = gmail.all_ids("threads", "threads", maxResults=40, includeSpamTrash="true")
    assert len(ids) == len(set(ids)) == Volume().threads
    thread = gmail.ok(f"threads/{ids[0]}", format="minimal")
    stored = gmail_sandbox.store.thread_messages(ids[0])
    assert [m["id"] for m in thread["messages"]] == [m.id for m in stored]
    assert thread["historyId"] == str(max(m.history_id for m in stored))
    assert gmail.get("threads/ffff").status_code == 404
