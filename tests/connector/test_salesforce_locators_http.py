"""Dead query locators over real HTTP: the connector re-issues from the last record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.clock import ManualClock
from sandbox.salesforce.locators import CURRENT_POLICY, LEGACY_POLICY, LocatorPolicy
from sources.kit.http import HttpSettings
from sources.kit.monitor import SyncMonitor
from sources.salesforce.auth import SalesforceCredentials
from sources.salesforce.client import ClientOptions, SalesforceClient, connect
from sources.salesforce.helpers import RunContext, changed_pages, object_spec

DAY = 86400.0


def client_for(sandbox: SalesforceSandbox, tmp_path: Path) -> SalesforceClient:
    """A refresh-token client (a JWT assertion would not survive the moved clock)."""
    creds = SalesforceCredentials()
    for key, value in {**sandbox.refresh_credentials(), "token_store_dir": str(tmp_path)}.items():
        setattr(creds, key, value)
    options = ClientOptions(
        rate_limit=1000, settings=HttpSettings(max_attempts=3, backoff_base=0.01, backoff_cap=0.02)
    )
    return connect(creds, options, sleep=lambda _: None)


def open_other_cursors(client: SalesforceClient, count: int) -> list[Iterator[list[dict]]]:
    """``count`` other queries read one page each: their cursors stay open."""
    held = []
    for _ in range(count):
        pages = client.query("SELECT Id FROM Lead ORDER BY Id ASC", label="lead")
        next(pages)
        held.append(pages)
    return held


@pytest.mark.parametrize(
    ("policy", "between_pages"),
    [
        (LEGACY_POLICY, "idle-16-minutes"),
        (LEGACY_POLICY, "ten-other-cursors"),
        (CURRENT_POLICY, "three-days"),
    ],
    ids=["legacy-idle-expiry", "legacy-oldest-released", "current-two-day-expiry"],
)
def test_an_expired_locator_is_re_issued_without_losing_or_doubling_records(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    tmp_path: Path,
    policy: LocatorPolicy,
    between_pages: str,
) -> None:
    clock = ManualClock()
    sandbox = salesforce_sandbox_factory(now=clock, locator_policy=policy)
    client = client_for(sandbox, tmp_path)
    spec = object_spec(client.describe("Contact", label="contact"))
    run = RunContext("run-1", SyncMonitor("salesforce", "run-1"), client=client, lookback_s=0)
    pages = changed_pages(spec, run, since=None)

    seen = [r["Id"] for r in next(pages)]
    if between_pages == "ten-other-cursors":
        held = open_other_cursors(client, 10)
        assert len(held) == 10 and sandbox.api.locators.released >= 1
    else:
        clock.advance(16 * 60 if between_pages == "idle-16-minutes" else 3 * DAY)
    seen += [r["Id"] for page in pages for r in page]

    expected = sorted(r["Id"] for r in sandbox.store.live("Contact"))
    assert sorted(seen) == expected and len(seen) == len(set(seen))
    assert sandbox.api.statuses[400] == 1  # one dead locator, then a fresh query


def test_a_locator_dying_after_every_page_still_reads_each_record_once(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    tmp_path: Path,
) -> None:
    # Every cursor is released as soon as it opens: each page costs a fresh query.
    sandbox = salesforce_sandbox_factory(locator_policy=LocatorPolicy(max_open=0))
    client = client_for(sandbox, tmp_path)
    spec = object_spec(client.describe("Contact", label="contact"))
    run = RunContext("run-1", SyncMonitor("salesforce", "run-1"), client=client, lookback_s=0)

    seen = [r["Id"] for page in changed_pages(spec, run, since=None) for r in page]

    assert sorted(seen) == sorted(r["Id"] for r in sandbox.store.live("Contact"))
    assert len(seen) == len(set(seen)) and sandbox.api.statuses[400] == 2  # 24 rows, pages of 10
