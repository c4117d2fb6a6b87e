"""Fidelity: google-api-python-client, built from its bundled discovery document, on the sandbox.

``build(..., client_options={"api_endpoint": sb.base_url})`` replaces the discovery
``rootUrl`` + ``servicePath`` ("https://gmail.googleapis.com/" + "") with the sandbox root;
method paths (``gmail/v1/users/{userId}/messages``) are appended to it (discovery.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import google.oauth2.credentials
import pytest
from googleapiclient.discovery import Resource, build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from sandbox.gmail import GmailSandbox


def gmail_client(sb: GmailSandbox, refresh_token: str | None = None) -> Resource:
    credentials = google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=refresh_token or sb.refresh_token,
        client_id=sb.client_id,
        client_secret=sb.client_secret,
        token_uri=sb.token_url,
    )
    return build(
        "gmail",
        "v1",
        credentials=credentials,
        static_discovery=True,
        client_options={"api_endpoint": sb.base_url},
        num_retries=0,
    )


@pytest.fixture
def service(gmail_sandbox: GmailSandbox) -> Iterator[Resource]:
    client = gmail_client(gmail_sandbox)
    yield client
    client.close()


def list_all(collection: Any, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request = collection.list(userId="me", **params)
    while request is not None:
        response = request.execute()
        items += response.get(key, [])
        request = collection.list_next(request, response)
    return items


def test_credentials_refresh_through_the_sandbox(
    gmail_sandbox: GmailSandbox, service: Resource
) -> None:
    profile = service.users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == gmail_sandbox.email
    assert gmail_sandbox.stats.count("token") == 1


def test_list_next_pages_every_message(gmail_sandbox: GmailSandbox, service: Resource) -> None:
    messages = list_all(service.users().messages(), "messages", maxResults=50)
    visible = [
        m.id for m in gmail_sandbox.store.stored() if not {"SPAM", "TRASH"} & set(m.label_ids)
    ]
    assert [m["id"] for m in messages] == visible
    assert gmail_sandbox.stats.count("messages.list") == -(-len(visible) // 50)


def test_get_message_and_attachment(gmail_sandbox: GmailSandbox, service: Resource) -> None:
    stored = next(m for m in gmail_sandbox.store.stored() if m.content.attachments)
    message = service.users().messages().get(userId="me", id=stored.id, format="full").execute()
    subject = [h["value"] for h in message["payload"]["headers"] if h["name"] == "Subject"]
    assert subject == [stored.content.subject]
    attachment_id = next(p for p in message["payload"]["parts"] if p["filename"])["body"][
        "attachmentId"
    ]
    got = (
        service.users()
        .messages()
        .attachments()
        .get(userId="me", messageId=stored.id, id=attachment_id)
        .execute()
    )
    assert got["size"] == len(stored.content.attachments[0].data)
    metadata = (
        service.users()
        .messages()
        .get(userId="me", id=stored.id, format="metadata", metadataHeaders=["From", "Date"])
        .execute()
    )
    assert {h["name"] for h in metadata["payload"]["headers"]} == {"From", "Date"}


def test_labels_threads_and_history(gmail_sandbox: GmailSandbox, service: Resource) -> None:
    labels = service.users().labels().list(userId="me").execute()["labels"]
    assert "INBOX" in {label["id"] for label in labels}
    threads = list_all(service.users().threads(), "threads", maxResults=100)
    assert threads and {"id", "snippet", "historyId"} <= set(threads[0])
    thread = service.users().threads().get(userId="me", id=threads[0]["id"]).execute()
    assert thread["messages"][0]["threadId"] == threads[0]["id"]
    start = service.users().getProfile(userId="me").execute()["historyId"]
    new_id = gmail_sandbox.add_message(subject="Via history")
    gmail_sandbox.modify_labels(new_id, remove=("UNREAD",))
    records = list_all(service.users().history(), "history", startHistoryId=start, maxResults=1)
    assert [r["messages"][0]["id"] for r in records] == [new_id, new_id]
    assert "labelsRemoved" in records[1]


def test_batch_of_gets(gmail_sandbox: GmailSandbox, service: Resource) -> None:
    ids = [m.id for m in gmail_sandbox.store.stored()[:30]]
    answers: dict[str, Any] = {}

    def collect(request_id: str, response: Any, exception: Any) -> None:
        answers[request_id] = (response or {}).get("id"), exception

    batch = BatchHttpRequest(callback=collect, batch_uri=gmail_sandbox.batch_url)
    for message_id in ids + ["ffffffffffffffff"]:
        batch.add(service.users().messages().get(userId="me", id=message_id, format="metadata"))
    batch.execute()
    assert [answers[str(n + 1)][0] for n in range(len(ids))] == ids
    missing = answers[str(len(ids) + 1)][1]
    assert isinstance(missing, HttpError) and missing.resp.status == 404
    assert gmail_sandbox.stats.count("messages.get") == len(ids) + 1


def test_batch_recovers_an_expired_token(gmail_sandbox: GmailSandbox, service: Resource) -> None:
    service.users().getProfile(userId="me").execute()
    gmail_sandbox.expire_access_tokens()
    answers: list[Any] = []
    batch = BatchHttpRequest(
        callback=lambda _id, response, exc: answers.append((response, exc)),
        batch_uri=gmail_sandbox.batch_url,
    )
    batch.add(service.users().labels().get(userId="me", id="INBOX"))
    batch.execute()
    # BatchHttpRequest refreshes credentials and replays the calls answered 401.
    assert answers[0][1] is None and answers[0][0]["id"] == "INBOX"
    assert gmail_sandbox.stats.count("token") == 2


@pytest.mark.parametrize(
    ("setup", "status", "reason"),
    [
        (lambda sb: sb.faults.throttle_next(1), 429, "rateLimitExceeded"),
        (lambda sb: sb.faults.throttle_next(1, status=403), 403, "userRateLimitExceeded"),
        (lambda sb: sb.expire_history(), 404, "notFound"),
        (lambda sb: sb.faults.fail_next(1), 503, "backendError"),
    ],
    ids=["429", "403", "expired-history", "503"],
)
def test_http_errors_carry_status_and_reason(
    gmail_sandbox: GmailSandbox, service: Resource, setup: Any, status: int, reason: str
) -> None:
    start = gmail_sandbox.store.history_id
    service.users().getProfile(userId="me").execute()  # the token refresh is not under test
    gmail_sandbox.add_message()
    setup(gmail_sandbox)
    with pytest.raises(HttpError) as caught:
        service.users().history().list(userId="me", startHistoryId=str(start)).execute()
    assert caught.value.resp.status == status
    assert caught.value.error_details[0]["reason"] == reason


def test_revoked_grant_fails_the_refresh(gmail_sandbox: GmailSandbox) -> None:
    from google.auth.exceptions import RefreshError

    gmail_sandbox.revoke_grant()
    client = gmail_client(gmail_sandbox)
    with pytest.raises(RefreshError, match="invalid_grant"):
        client.users().getProfile(userId="me").execute()


def test_rotated_refresh_token_is_kept_by_the_credentials(gmail_sandbox: GmailSandbox) -> None:
    gmail_sandbox.rotate_refresh_tokens(True)
    client = gmail_client(gmail_sandbox)
    client.users().getProfile(userId="me").execute()
    gmail_sandbox.expire_access_tokens()
    # The client refreshes on 401 with the refresh token it was handed last time.
    assert client.users().getProfile(userId="me").execute()["historyId"]
    assert gmail_sandbox.stats.count("token") == 2


@pytest.mark.parametrize(
    "arm",
    [
        lambda f: f.throttle_next(2),
        lambda f: f.throttle_next(2, status=403),
        lambda f: f.throttle_next(2, status=403, reason="rateLimitExceeded"),
        lambda f: f.fail_next(2),
    ],
    ids=["429", "403-user", "403-project", "503"],
)
def test_the_client_retries_what_google_says_to_retry(
    gmail_sandbox: GmailSandbox, service: Resource, arm: Any
) -> None:
    service.users().getProfile(userId="me").execute()
    arm(gmail_sandbox.faults)
    request = service.users().labels().list(userId="me")
    waits: list[float] = []
    request._sleep = waits.append  # the client's backoff, without the wait
    assert request.execute(num_retries=3)["labels"]
    assert len(waits) == 2 and gmail_sandbox.stats.count("labels.list") == 3


def test_the_client_does_not_retry_a_plain_403(service: Resource) -> None:
    request = service.users().getProfile(userId="someone@else.example")
    waits: list[float] = []
    request._sleep = waits.append
    with pytest.raises(HttpError) as caught:
        request.execute(num_retries=3)
    assert caught.value.resp.status == 403 and waits == []
