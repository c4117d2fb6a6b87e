"""The Gmail client against the Gmail sandbox over loopback HTTP: batches, token expiry,
quota storms, revoked grants, expired history and pacing by quota units."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.gmail import GmailSandbox, Volume
from sources.gmail import make_auth, make_client
from sources.gmail.client import GmailClient
from sources.gmail.errors import HistoryExpired
from sources.kit.auth import MemoryTokenStore
from sources.kit.errors import AuthenticationError, FatalError

SMALL = Volume(threads=20, max_per_thread=3, large_attachments=0)


class Sleeps:
    """A sleep that only records (the sandbox is unmetered, so pacing never matters)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(sb: GmailSandbox, sleep: Any = None, **http: Any) -> GmailClient:
    auth = make_auth(
        client_id=sb.client_id,
        client_secret=sb.client_secret,
        refresh_token=sb.refresh_token,
        token_url=sb.token_url,
        token_store=MemoryTokenStore(),
        token_retry_sleep=lambda s: None,
    )
    return make_client(base_url=sb.base_url, auth=auth, sleep=sleep, **http)


@pytest.fixture
def sandbox(gmail_sandbox_factory: Callable[..., GmailSandbox]) -> GmailSandbox:
    return gmail_sandbox_factory(quota_units_per_s=None, volume=SMALL)


def listed_ids(client: GmailClient) -> list[str]:
    return [r["id"] for page, _ in client.message_refs() for r in page]


def fetch_all(client: GmailClient, ids: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in client.fetch([client.message_call(i, "metadata") for i in ids], label="messages"):
        found.update(chunk)
    return found


def test_details_come_in_batches_each_call_metered(sandbox: GmailSandbox) -> None:
    client = client_for(sandbox, Sleeps())
    ids = listed_ids(client)

    found = fetch_all(client, ids)

    assert set(found) == set(ids) and all(m["id"] == k for k, m in found.items())
    assert sandbox.stats.count("messages.get") == len(ids)
    assert sandbox.stats.count("batch") == math.ceil(len(ids) / 8)  # 40 units a batch
    assert client.session.rate_limiter is not None
    assert client.session.rate_limiter.units_spent == sandbox.stats.units


def test_token_expiry_between_batches_and_pages_recovers(sandbox: GmailSandbox) -> None:
    client = client_for(sandbox, Sleeps())
    ids = listed_ids(client)
    found: dict[str, Any] = {}
    calls = [client.message_call(i, "metadata") for i in ids]

    for n, chunk in enumerate(client.fetch(calls, label="messages")):
        found.update(chunk)
        if n == 0:
            sandbox.expire_access_tokens()  # inner calls of the next batch answer 401
    sandbox.expire_access_tokens()  # and a plain GET answers 401 too
    again = listed_ids(client)

    assert set(found) == set(ids) and again == ids
    assert sandbox.stats.count("token") == 3


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, "rateLimitExceeded"), (403, "userRateLimitExceeded"), (403, "rateLimitExceeded")],
    ids=["429", "403-user", "403-project"],
)
def test_quota_storm_on_batch_calls_and_listings_recovers(
    sandbox: GmailSandbox, status: int, reason: str
) -> None:
    sleeps = Sleeps()
    client = client_for(sandbox, sleeps, rate_limit=100_000)  # waits then come from 429s only
    ids = listed_ids(client)

    sandbox.faults.throttle_next(12, status=status, reason=reason, retry_after=2)
    found = fetch_all(client, ids)
    sandbox.faults.throttle_next(2, status=status, reason=reason, retry_after=2)
    labels = client.labels()

    assert set(found) == set(ids) and labels
    assert sandbox.stats.count("messages.get") == len(ids) + 12
    # Retry-After honoured: by the limiter's pause for batch calls, by the kit's retry
    # (lengthened by jitter, never shortened) for plain GETs
    honoured = [w for w in sleeps.waits if w >= 1.95]
    assert len(honoured) >= 2, sleeps.waits  # the batch pause and the GET retries
    assert client.session.total_stats()["retries"] >= 2


def test_other_403_in_a_batch_is_one_fatal_line(sandbox: GmailSandbox) -> None:
    client = client_for(sandbox, Sleeps())
    ids = listed_ids(client)
    sandbox.faults.throttle_next(1, status=403, reason="insufficientPermissions")

    with pytest.raises(FatalError) as raised:
        fetch_all(client, ids[:3])

    assert "\n" not in str(raised.value) and "HTTP 403" in str(raised.value)
    assert "sources.gmail.credentials.refresh_token" in str(raised.value)


def test_revoked_grant_is_one_line_saying_reauthorise(sandbox: GmailSandbox) -> None:
    sandbox.revoke_grant()
    client = client_for(sandbox, Sleeps())

    with pytest.raises(AuthenticationError) as raised:
        client.check_credentials()

    message = str(raised.value)
    assert "\n" not in message and "re-authorize" in message
    assert "sources.gmail.credentials.refresh_token" in message
    assert sandbox.refresh_token not in message


def test_expired_history_id_is_history_expired(sandbox: GmailSandbox) -> None:
    client = client_for(sandbox, Sleeps())
    start = int(client.profile()["historyId"])
    sandbox.add_message(subject="after the cursor")
    sandbox.expire_history()

    with pytest.raises(HistoryExpired):
        list(client.history(start, label="messages"))


def test_default_pace_stays_inside_the_units_budget(
    gmail_sandbox_factory: Callable[..., GmailSandbox],
) -> None:
    # The emulator meters 250 units per second on the real clock, as Gmail does per user.
    sb = gmail_sandbox_factory(clock=time.time, volume=Volume(threads=12, max_per_thread=2))
    client = client_for(sb)
    ids = listed_ids(client)
    started = time.monotonic()

    found = fetch_all(client, ids)

    stats = client.session.total_stats()
    assert set(found) == set(ids)
    assert stats.get("throttled_429", 0) == 0 and stats.get("retries", 0) == 0
    assert sb.stats.count("messages.get") == len(ids)  # nothing refused, nothing sent twice
    # 5 units a message at 200 units/s beyond a 40-unit burst: paced by units, not requests
    assert time.monotonic() - started >= (5 * len(ids) - 40) / 200 - 0.05


def test_attachments_within_the_cap_are_read_and_larger_ones_flagged(
    gmail_sandbox_factory: Callable[..., GmailSandbox],
) -> None:
    import base64

    from sources.gmail.messages import BodyOptions, message_row
    from sources.gmail.sync import read_attachments

    sb = gmail_sandbox_factory(
        quota_units_per_s=None,
        volume=Volume(threads=20, attachment_share=0.6, large_attachments=2, large_bytes=50_000),
    )
    client = client_for(sb, Sleeps())
    options = BodyOptions(bodies=True, attachments=True, max_attachment_bytes=20_000)
    calls = [client.message_call(i, "full") for i in listed_ids(client)]
    rows = [
        message_row(m, options)
        for chunk in client.fetch(calls, label="messages")
        for m in chunk.values()
        if m is not None
    ]

    read_attachments(client, rows)

    files = [a for r in rows for a in r["attachments"]]
    small = [a for a in files if not a["too_large"]]
    assert small and all(
        len(base64.urlsafe_b64decode(a["data"] + "==")) == a["size"] for a in small
    )
    large = [a for a in files if a["too_large"]]
    assert len([a for a in large if a["size"] >= 50_000]) == 2  # the two large files
    assert all(a["data"] is None and a["size"] > 20_000 for a in large)
    assert any(r["body_text"] for r in rows) and any(r["body_html"] for r in rows)


def test_a_rotated_refresh_token_is_kept_for_the_next_run(
    sandbox: GmailSandbox, tmp_path: Any
) -> None:
    from sources.kit.auth import FileTokenStore

    sandbox.rotate_refresh_tokens(True)  # the old refresh token dies with each rotation
    store = FileTokenStore(tmp_path / "tokens")
    configured = sandbox.refresh_token  # as pasted into secrets.toml, never changed

    def run_once() -> None:
        auth = make_auth(
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            refresh_token=configured,
            token_url=sandbox.token_url,
            token_store=store,
        )
        make_client(base_url=sandbox.base_url, auth=auth).check_credentials()

    run_once()
    saved = store.load(f"gmail:{sandbox.client_id}")
    run_once()  # would be invalid_grant with the configured token

    assert saved is not None and saved["refresh_token"] != configured
    assert sandbox.stats.count("token") == 2
    assert store.load(f"gmail:{sandbox.client_id}") != saved  # rotated again, kept again
