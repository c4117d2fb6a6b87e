"""The Salesforce client over real HTTP against the emulator on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.salesforce import SalesforceSandbox
from sources.kit.errors import AuthenticationError, FatalError
from sources.kit.http import HttpSettings
from sources.kit.ratelimit import SalesforceLimitInfoReader
from sources.salesforce.auth import SalesforceCredentials
from sources.salesforce.budget import ApiBudgetExceededError
from sources.salesforce.client import ClientOptions, SalesforceClient, connect

CONTACTS = "SELECT Id FROM Contact ORDER BY Id ASC"


def credentials(values: dict[str, str]) -> SalesforceCredentials:
    creds = SalesforceCredentials()
    for key, value in values.items():
        setattr(creds, key, value)
    return creds


class Sleeps:
    """Records requested sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client_for(
    sandbox: SalesforceSandbox,
    sleeps: Sleeps,
    flow: str = "jwt",
    tmp: Path | None = None,
    share: float = 0.8,
) -> SalesforceClient:
    values = sandbox.jwt_credentials() if flow == "jwt" else sandbox.refresh_credentials()
    if flow != "jwt":
        values["token_store_dir"] = str(tmp)
    options = ClientOptions(
        rate_limit=1000,
        max_api_usage_share=share,
        settings=HttpSettings(max_attempts=10, backoff_base=0.01, backoff_cap=0.05),
    )
    return connect(credentials(values), options, sleep=sleeps)


def ids(client: SalesforceClient, soql: str = CONTACTS) -> list[str]:
    return [r["Id"] for page in client.query(soql, label="contact") for r in page]


@pytest.mark.parametrize("flow", ["jwt", "refresh_token"], ids=["jwt-bearer", "refresh-token"])
def test_both_flows_find_the_instance_and_page_through_every_record(
    salesforce_sandbox: SalesforceSandbox, flow: str, tmp_path: Path
) -> None:
    client = client_for(salesforce_sandbox, Sleeps(), flow, tmp_path)

    loaded = ids(client)

    assert client.instance_url == salesforce_sandbox.base_url
    expected = sorted(r["Id"] for r in salesforce_sandbox.store.live("Contact"))
    assert loaded == expected and len(loaded) > 10  # more than one page
    assert salesforce_sandbox.api.requests["query"] == len(loaded) // 10 + 1


def test_describe_answers_the_field_list(salesforce_sandbox: SalesforceSandbox) -> None:
    client = client_for(salesforce_sandbox, Sleeps())
    describe = client.describe("Lead", label="lead")
    assert {"Id", "SystemModstamp", "IsDeleted"} <= {f["name"] for f in describe["fields"]}


def test_token_expiry_mid_sync_renews_once_and_loses_nothing(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    client = client_for(salesforce_sandbox, Sleeps())
    salesforce_sandbox.faults.expire_tokens_after = 1  # between the first and second page

    loaded = ids(client)

    assert len(loaded) == len(set(loaded)) == len(salesforce_sandbox.store.live("Contact"))
    assert salesforce_sandbox.api.statuses[401] == 1
    assert client.auth.tokens_fetched == 2  # type: ignore[union-attr]


def test_a_storm_of_over_limit_403s_is_retried_with_backoff(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    sleeps = Sleeps()
    client = client_for(salesforce_sandbox, sleeps)
    salesforce_sandbox.faults.throttle_next = 6

    loaded = ids(client)

    assert len(loaded) == len(salesforce_sandbox.store.live("Contact"))
    assert salesforce_sandbox.api.statuses[403] == 6
    assert client.session.total_stats()["retries"] == 6
    assert len([s for s in sleeps.calls if s > 0]) >= 1 and max(sleeps.calls) <= 0.05


def test_a_spent_daily_limit_stops_at_once_without_retrying(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    client = client_for(salesforce_sandbox, Sleeps(), share=1.0)
    salesforce_sandbox.set_api_usage(500, limit=500)

    with pytest.raises(FatalError, match="daily API request limit is spent"):
        ids(client)
    assert salesforce_sandbox.api.statuses[403] == 1


def test_budget_share_stops_the_sync_with_a_clear_message(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    client = client_for(salesforce_sandbox, Sleeps(), share=0.5)
    salesforce_sandbox.set_api_usage(48, limit=100)

    with pytest.raises(ApiBudgetExceededError) as caught:
        ids(client)

    assert "50 of 100 daily requests" in str(caught.value)
    assert salesforce_sandbox.api.api_used == 50  # stopped after the answer that crossed it


def test_the_limiter_trickles_from_the_share_the_budget_guard_stops_at(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    client = client_for(salesforce_sandbox, Sleeps(), share=0.6)
    limiter = client.session.rate_limiter
    assert limiter is not None
    readers = limiter.budget_readers
    assert [type(r) for r in readers] == [SalesforceLimitInfoReader]
    assert readers[0].threshold_share == client.budget.max_share == 0.6


def test_refused_assertion_names_the_setting(salesforce_sandbox: SalesforceSandbox) -> None:
    values = {**salesforce_sandbox.jwt_credentials(), "subject": ""}
    with pytest.raises(Exception, match="sources.salesforce.credentials.subject"):
        connect(credentials(values), ClientOptions())
    values = {**salesforce_sandbox.jwt_credentials(), "audience": "https://wrong.example"}
    with pytest.raises(AuthenticationError, match="sources.salesforce.credentials"):
        connect(credentials(values), ClientOptions())


def test_secrets_stay_out_of_logs_and_errors(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = salesforce_sandbox_factory()
    caplog.set_level(logging.DEBUG)
    client = client_for(sandbox, Sleeps())
    sandbox.faults.expire_tokens_after = 1
    sandbox.faults.throttle_next = 2
    ids(client)
    sandbox.set_api_usage(9, limit=9)
    with pytest.raises(FatalError) as caught:
        ids(client)

    token = client.auth.token().access_token  # type: ignore[union-attr]
    key_lines = [ln for ln in sandbox.keys.private_pem.splitlines() if not ln.startswith("-----")]
    text = caplog.text + str(caught.value)
    assert token not in text
    assert not any(line in text for line in key_lines)
    assert "retry" in caplog.text.lower()  # the retries were logged, redacted


def test_bulk_query_job_pages_csv_by_locator_after_polling(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
) -> None:
    from sources.salesforce.bulk import BulkQuery

    sandbox = salesforce_sandbox_factory(bulk_polls=3)
    sleeps = Sleeps()
    client = client_for(sandbox, sleeps)
    bulk = BulkQuery(client, sleep=sleeps, poll_interval_s=2.0, max_records=7)

    chunks = list(bulk.pages(CONTACTS, label="contact"))

    assert [len(c) for c in chunks] == [7, 7, 7, 3]
    assert [r["Id"] for c in chunks for r in c] == sorted(
        r["Id"] for r in sandbox.store.live("Contact")
    )
    assert sleeps.calls.count(2.0) == 2  # polled InProgress twice, then JobComplete
    assert sandbox.api.requests["bulk"] == 1 + 3 + 4


def test_bulk_query_all_includes_the_recycle_bin(salesforce_sandbox: SalesforceSandbox) -> None:
    from sources.salesforce.bulk import BulkQuery

    gone = salesforce_sandbox.store.delete("Lead", salesforce_sandbox.store.live("Lead")[0]["Id"])
    client = client_for(salesforce_sandbox, Sleeps())
    soql = "SELECT Id, IsDeleted FROM Lead WHERE IsDeleted = true"

    rows = [
        r
        for c in BulkQuery(client, sleep=Sleeps()).pages(soql, label="lead", include_deleted=True)
        for r in c
    ]

    assert rows == [{"Id": gone["Id"], "IsDeleted": "true"}]


def test_a_bulk_job_that_never_completes_fails_with_its_id(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
) -> None:
    from sources.salesforce.bulk import BulkQuery

    sandbox = salesforce_sandbox_factory(bulk_polls=1000)
    client = client_for(sandbox, Sleeps())
    ticks = iter(range(0, 10_000, 10))
    bulk = BulkQuery(client, sleep=Sleeps(), clock=lambda: float(next(ticks)), max_wait_s=30)

    with pytest.raises(FatalError, match=r"job 750\d+ not complete after 30s"):
        list(bulk.pages(CONTACTS, label="contact"))
