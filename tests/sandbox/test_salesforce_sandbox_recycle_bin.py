"""The Salesforce emulator's recycle bin, replication resources, locators and formulas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.clock import ManualClock
from sandbox.salesforce.locators import CURRENT_POLICY, LEGACY_POLICY, LocatorPolicy
from sandbox.salesforce.store import sf_datetime

DATA = "/services/data/v59.0"
TIMEOUT = 5
DAY = 86400.0


def bearer(sandbox: SalesforceSandbox) -> dict[str, str]:
    reply = requests.post(
        sandbox.token_url,
        data={"grant_type": "refresh_token", **_refresh(sandbox)},
        timeout=TIMEOUT,
    )
    reply.raise_for_status()
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def _refresh(sandbox: SalesforceSandbox) -> dict[str, str]:
    creds = sandbox.refresh_credentials()
    return {k: creds[k] for k in ("client_id", "client_secret", "refresh_token")}


def get(sandbox: SalesforceSandbox, path: str, headers: dict[str, str], **params: str) -> Any:
    return requests.get(sandbox.base_url + path, params=params, headers=headers, timeout=TIMEOUT)


def window(clock: ManualClock, back_s: float) -> dict[str, str]:
    return {"start": sf_datetime(clock() - back_s), "end": sf_datetime(clock() + 120)}


@pytest.fixture
def clocked(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
) -> tuple[SalesforceSandbox, ManualClock]:
    clock = ManualClock()
    return salesforce_sandbox_factory(now=clock), clock


def test_deleting_an_account_bins_its_contacts_and_opportunities_too(
    clocked: tuple[SalesforceSandbox, ManualClock],
) -> None:
    sandbox, _ = clocked
    account = sandbox.store.live("Account")[0]
    children = [
        (name, r["Id"])
        for name in ("Contact", "Opportunity")
        for r in sandbox.store.live(name)
        if r["AccountId"] == account["Id"]
    ]

    gone = sandbox.store.delete_all("Account", account["Id"])

    assert [r["Id"] for r in gone] == [account["Id"], *(i for _, i in children)]
    assert len(children) == 3 and all(r["IsDeleted"] for r in gone)
    assert all(sandbox.store.bin.contains(name, i) for name, i in children)


@pytest.mark.parametrize(
    "purge",
    ["expired", "emptied", "capacity", "hard"],
    ids=["15-days-later", "emptied-by-user", "bin-full", "hard-deleted"],
)
def test_a_record_leaving_the_bin_leaves_query_all_and_moves_earliest_date_available(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox], purge: str
) -> None:
    clock = ManualClock()
    sandbox = salesforce_sandbox_factory(now=clock, recycle_bin_capacity=1)
    lead, other = sandbox.store.live("Lead")[:2]
    deleted_at = clock()
    sandbox.store.delete("Lead", lead["Id"], hard=purge == "hard")
    if purge == "expired":
        clock.advance(15 * DAY + 1)
    elif purge == "emptied":
        assert sandbox.store.empty_recycle_bin("Lead", [lead["Id"]]) == 1
    elif purge == "capacity":
        clock.advance(1)
        sandbox.store.delete("Lead", other["Id"])  # the bin holds one: the oldest goes

    headers = bearer(sandbox)  # after the clock moved: tokens live 12 hours
    soql = f"SELECT Id FROM Lead WHERE Id = '{lead['Id']}'"
    found = get(sandbox, f"{DATA}/queryAll", headers, q=soql).json()
    log = get(sandbox, f"{DATA}/sobjects/Lead/deleted/", headers, **window(clock, DAY)).json()

    assert found["totalSize"] == 0
    assert lead["Id"] not in [r["id"] for r in log["deletedRecords"]]
    assert log["earliestDateAvailable"] == sf_datetime(deleted_at)


def test_deleted_lists_the_bin_and_updated_lists_changes_of_the_window(
    clocked: tuple[SalesforceSandbox, ManualClock],
) -> None:
    sandbox, clock = clocked
    headers = bearer(sandbox)
    start = clock()
    clock.advance(90)
    lead, renamed = sandbox.store.live("Lead")[:2]
    sandbox.store.delete("Lead", lead["Id"])
    sandbox.store.update("Lead", renamed["Id"], Company="Renamed Ltd")
    params = {"start": sf_datetime(start), "end": sf_datetime(clock() + 120)}

    log = get(sandbox, f"{DATA}/sobjects/Lead/deleted/", headers, **params).json()
    changed = get(sandbox, f"{DATA}/sobjects/Lead/updated/", headers, **params).json()

    assert log["deletedRecords"] == [{"id": lead["Id"], "deletedDate": sf_datetime(clock())}]
    assert log["earliestDateAvailable"] <= log["latestDateCovered"]
    assert changed["ids"] == [renamed["Id"]] and "latestDateCovered" in changed


@pytest.mark.parametrize(
    ("start_back_s", "end_back_s"),
    [(31 * DAY, 0.0), (0.0, 3600.0)],
    ids=["start-older-than-30-days", "start-after-end"],
)
def test_a_window_salesforce_cannot_answer_is_invalid_replication_date(
    clocked: tuple[SalesforceSandbox, ManualClock], start_back_s: float, end_back_s: float
) -> None:
    sandbox, clock = clocked
    params = {
        "start": sf_datetime(clock() - start_back_s),
        "end": sf_datetime(clock() - end_back_s),
    }

    reply = get(sandbox, f"{DATA}/sobjects/Lead/deleted/", bearer(sandbox), **params)

    assert reply.status_code == 400
    assert reply.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def next_page_after(
    sandbox: SalesforceSandbox, clock: ManualClock, headers: dict[str, str], between: str
) -> requests.Response:
    first = get(sandbox, f"{DATA}/query", headers, q="SELECT Id FROM Contact ORDER BY Id ASC")
    assert first.json()["done"] is False
    if between == "idle-16-minutes":
        clock.advance(16 * 60)
    elif between == "ten-more-queries":
        for _ in range(10):
            get(sandbox, f"{DATA}/query", headers, q="SELECT Id FROM Lead ORDER BY Id ASC")
    elif between == "three-days":
        clock.advance(3 * DAY)
    elif between == "idle-14-minutes":
        clock.advance(14 * 60)
    # A fresh token: the clock may have outrun the first one (12 hours).
    return get(sandbox, first.json()["nextRecordsUrl"], bearer(sandbox))


@pytest.mark.parametrize(
    ("policy", "between", "alive"),
    [
        (LEGACY_POLICY, "idle-16-minutes", False),
        (LEGACY_POLICY, "idle-14-minutes", True),
        (LEGACY_POLICY, "ten-more-queries", False),
        (CURRENT_POLICY, "ten-more-queries", True),
        (CURRENT_POLICY, "three-days", False),
    ],
    ids=[
        "legacy-idle",
        "legacy-in-time",
        "legacy-eleventh-cursor",
        "current-no-limit",
        "current-2-days",
    ],
)
def test_query_locators_die_as_documented(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    policy: LocatorPolicy,
    between: str,
    alive: bool,
) -> None:
    clock = ManualClock()
    sandbox = salesforce_sandbox_factory(now=clock, locator_policy=policy)
    headers = bearer(sandbox)

    reply = next_page_after(sandbox, clock, headers, between)

    if alive:
        assert reply.status_code == 200 and reply.json()["records"]
    else:
        assert reply.status_code == 400
        assert reply.json() == [
            {"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}
        ]


def test_describe_marks_formula_fields_and_their_values_move_without_system_modstamp(
    clocked: tuple[SalesforceSandbox, ManualClock],
) -> None:
    sandbox, clock = clocked
    headers = bearer(sandbox)
    fields = get(sandbox, f"{DATA}/sobjects/Contact/describe", headers).json()["fields"]
    formula = next(f for f in fields if f["name"] == "Account_Industry__c")
    contact = sandbox.store.live("Contact")[0]
    industry = "Aerospace" if contact["Account_Industry__c"] != "Aerospace" else "Energy"
    opportunity = sandbox.store.live("Opportunity")[0]

    sandbox.store.update("Account", contact["AccountId"], Industry=industry)
    clock.advance(2 * DAY)

    after = sandbox.store.get("Contact", contact["Id"])
    assert formula["calculated"] is True and formula["calculatedFormula"] == "Account.Industry"
    assert after is not None and after["Account_Industry__c"] == industry
    assert after["SystemModstamp"] == contact["SystemModstamp"]
    later = sandbox.store.get("Opportunity", opportunity["Id"])
    assert later is not None and later["Days_Open__c"] == opportunity["Days_Open__c"] + 2
    assert later["SystemModstamp"] == opportunity["SystemModstamp"]
