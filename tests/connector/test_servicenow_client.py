"""The ServiceNow client over real HTTP against the sandbox on 127.0.0.1."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from sandbox.servicenow import ServiceNowSandbox
from sources.kit.auth import BasicAuth
from sources.kit.connector import build_session
from sources.kit.errors import AuthenticationError, ConfigurationError
from sources.kit.http import HttpSettings
from sources.servicenow.client import ServiceNowClient, make_auth, make_client
from sources.servicenow.helpers import Listing, list_changes
from sources.servicenow.spec import SPEC
from tests.connector._toy_server import ToyHandler, running_server


class FakeTime:
    """Monotonic clock and sleep that only move when slept; sleeps are recorded."""

    def __init__(self, sandbox: ServiceNowSandbox | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.sandbox = sandbox

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.sandbox is not None and seconds > 0:
            self.sandbox.advance(seconds)


def client_for(
    sandbox: ServiceNowSandbox,
    auth_type: str = "basic",
    page_size: int = 7,
    fake: FakeTime | None = None,
    password: str | None = None,
    max_attempts: int = 8,
) -> ServiceNowClient:
    fake = fake or FakeTime()
    settings = HttpSettings(backoff_base=0.01, backoff_cap=0.05, max_attempts=max_attempts)
    session = build_session(
        SPEC,
        base_url=sandbox.base_url,
        settings=settings,
        rate_limit=1000.0,
        clock=fake.clock,
        sleep=fake.sleep,
        rng=random.Random(1),
    )
    auth = make_auth(
        base_url=sandbox.base_url,
        auth_type=auth_type,
        username=sandbox.username,
        password=password or sandbox.password,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        token_retry_sleep=fake.sleep,
    )
    return ServiceNowClient(sandbox.base_url, session, auth, page_size=page_size)


def all_ids(client: ServiceNowClient, table: str = "incident") -> list[str]:
    listing = Listing()
    return [r["sys_id"] for page in list_changes(client, table, None, listing) for r in page]


@pytest.mark.parametrize(
    "auth_type",
    ["basic", "oauth_password", "oauth_client_credentials"],
    ids=["basic", "password", "client-credentials"],
)
def test_pages_follow_link_header_with_total(
    servicenow_sandbox: ServiceNowSandbox, auth_type: str
) -> None:
    client = client_for(servicenow_sandbox, auth_type)

    pages = list(client.list_pages("incident", params={"sysparm_query": "ORDERBYsys_id"}))

    assert len(pages) == 9  # 60 records, 7 a page
    assert {p.total for p in pages} == {60}
    ids = [r["sys_id"] for p in pages for r in p.records]
    assert ids == sorted(r["sys_id"] for r in servicenow_sandbox.store.records("incident"))


def test_token_expiry_mid_sync_fetches_a_new_token_and_continues(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    client = client_for(servicenow_sandbox, "oauth_password")
    pages = client.list_pages("incident", params={})
    first = next(pages)
    servicenow_sandbox.auth.expire_tokens()

    rest = [r for page in pages for r in page.records]

    assert len(first.records) + len(rest) == 60
    # the new access token comes from the refresh token; the password is sent once
    assert servicenow_sandbox.auth.issued["password"] == 1
    assert servicenow_sandbox.auth.issued["refresh_token"] == 1
    assert servicenow_sandbox.stats.unauthorized == 1


def test_429_storm_waits_as_told_and_loads_everything(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    fake = FakeTime()
    client = client_for(servicenow_sandbox, fake=fake, max_attempts=12)
    servicenow_sandbox.faults.throttle_next(10, retry_after=3)

    ids = all_ids(client)

    assert len(set(ids)) == 60
    assert servicenow_sandbox.stats.throttled == 10
    assert client.session.total_stats()["throttled_429"] == 10
    assert sum(1 for s in fake.sleeps if s >= 3) >= 10  # Retry-After honoured, never shortened


def test_x_ratelimit_headers_slow_the_client_down(
    servicenow_sandbox_factory: Any,
) -> None:
    sandbox = servicenow_sandbox_factory(rate_limit=4, rate_window_s=60)
    fake = FakeTime(sandbox)
    client = client_for(sandbox, fake=fake, page_size=5, max_attempts=12)

    ids = all_ids(client)

    assert len(set(ids)) == 60
    assert sum(fake.sleeps) >= 60  # 13 requests at 4 a minute: it waited for new windows
    assert sandbox.stats.throttled <= 3  # proactive waits, not a stream of 429s


def test_5xx_and_dropped_connections_are_retried(servicenow_sandbox: ServiceNowSandbox) -> None:
    client = client_for(servicenow_sandbox)
    servicenow_sandbox.faults.fail_next(2, 503)
    servicenow_sandbox.faults.drop_next(1)

    ids = all_ids(client)

    assert len(set(ids)) == 60
    assert client.session.total_stats()["retries"] >= 3


def test_a_record_updated_during_keyset_paging_comes_again_in_its_new_version(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    client = client_for(servicenow_sandbox, page_size=10)
    listing = Listing()
    pages = list_changes(client, "incident", None, listing)
    first = next(pages)
    servicenow_sandbox.advance(60)
    servicenow_sandbox.store.update("incident", first[0]["sys_id"], state="2")

    rest = [r for page in pages for r in page]

    # keyset paging skips nothing and reads the changed record again, newer, at the end
    assert len(listing.seen) == 60 and len(first) + len(rest) == 61
    assert rest[-1]["sys_id"] == first[0]["sys_id"] and rest[-1]["state"] == "2"
    assert listing.again == 1 and listing.hidden() == 0


@pytest.mark.parametrize("auth_type", ["basic", "oauth_password"], ids=["basic", "password"])
def test_rejected_credentials_name_the_setting_and_hide_the_secret(
    servicenow_sandbox: ServiceNowSandbox,
    auth_type: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "Wrong-Secret-Password-77"
    client = client_for(servicenow_sandbox, auth_type, password=wrong)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthenticationError) as raised:
        client.check_credentials()

    assert "sources.servicenow.credentials" in str(raised.value)
    assert wrong not in str(raised.value) and wrong not in caplog.text


def send_html(handler: ToyHandler) -> None:
    """A login page, as a proxy or a wrong host answers."""
    body = b"<html><body>Sign in</body></html>"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_a_host_that_is_no_instance_names_the_base_url_setting() -> None:
    with running_server() as server:
        server.script("/api/now/table/sys_user", send_html)
        base = server.url("")
        client = make_client(base_url=base, auth=BasicAuth("u", "p"), max_attempts=1)

        with pytest.raises(ConfigurationError) as raised:
            client.check_credentials()

    assert str(raised.value) == (
        f"{base.rstrip('/')} does not answer like a ServiceNow instance: "
        "check sources.servicenow.base_url"
    )
    assert server.hits("/api/now/table/sys_user")[0].headers.get("Accept") == "application/json"
