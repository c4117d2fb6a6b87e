"""The Salesforce sandbox's write side: sObject Collections and single-record writes.

simple-salesforce drives the documented routes; raw HTTP checks the emulator's own rules
(per-record errors, allOrNone, the 200-record limit, budget and faults on writes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceMoreThanOneRecord

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.schema import EXTERNAL_ID_FIELD, SYNC_TOKEN_FIELD
from sandbox.salesforce.server import CONSUMER_KEY, USERNAME
from sandbox.salesforce.store import sf_datetime
from sandbox.salesforce.writes import INTEGRATION_USER_ID
from tests.sandbox.test_salesforce_simple_salesforce import LoopbackHttp

UPSERT = f"composite/sobjects/Account/{EXTERNAL_ID_FIELD}"
DATA = "/services/data/v59.0/"


class Clock:
    """A settable clock (unix seconds)."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox], clock: Clock
) -> SalesforceSandbox:
    return salesforce_sandbox_factory(now=clock, bulk_polls=0)


@pytest.fixture
def sf(sandbox: SalesforceSandbox) -> Iterator[Salesforce]:
    token = sandbox.oauth.issue_access_token(CONSUMER_KEY, USERNAME, None, "sdk")
    session = requests.Session()
    session.mount(f"https://{sandbox.base_url.removeprefix('http://')}/", LoopbackHttp())
    yield Salesforce(
        instance_url=sandbox.base_url, session_id=token, session=session, version="59.0"
    )
    session.close()


@pytest.fixture
def http(sandbox: SalesforceSandbox) -> Iterator[Callable[..., requests.Response]]:
    """``call(method, path, **kwargs)`` under ``/services/data/v59.0/`` with a token."""
    token = sandbox.oauth.issue_access_token(CONSUMER_KEY, USERNAME, None, "raw")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return session.request(method, sandbox.base_url + DATA + path, timeout=5, **kwargs)

    yield call
    session.close()


def moment(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


def account(key: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Account"}, EXTERNAL_ID_FIELD: key, **fields}


def by_key(sandbox: SalesforceSandbox, key: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.store.live("Account") if r[EXTERNAL_ID_FIELD] == key]


def test_collections_upsert_creates_then_updates_by_external_id(
    sf: Any, sandbox: SalesforceSandbox, clock: Clock
) -> None:
    first = sf.restful(
        UPSERT,
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [account("W-1", Name="One"), account("W-2", Name="Two")],
        },
    )
    clock.value += 60
    second = sf.restful(
        UPSERT,
        method="PATCH",
        json={"records": [account("w-1", Name="One renamed", **{SYNC_TOKEN_FIELD: "t1"})]},
    )

    assert [(r["success"], r["created"], r["errors"]) for r in first] == [(True, True, [])] * 2
    assert sandbox.writer.received["upsert"] == 3 and sandbox.writer.writes == 3
    assert second[0]["created"] is False and second[0]["id"] == first[0]["id"]  # case-insensitive
    [stored] = by_key(sandbox, "w-1")  # the key as last written
    assert stored["Name"] == "One renamed" and stored[SYNC_TOKEN_FIELD] == "t1"
    assert stored["LastModifiedById"] == INTEGRATION_USER_ID
    assert stored["SystemModstamp"] == sf_datetime(clock.value) != stored["CreatedDate"]
    seen = sf.query(f"SELECT Id, Name FROM Account WHERE {EXTERNAL_ID_FIELD} = 'W-2'")
    assert [r["Name"] for r in seen["records"]] == ["Two"]


def test_written_records_show_in_get_updated(
    sf: Any, sandbox: SalesforceSandbox, clock: Clock
) -> None:
    start = clock.value - 120
    [result] = sf.restful(UPSERT, method="PATCH", json={"records": [account("W-9", Name="N")]})
    clock.value += 120

    updated = sf.Account.updated(moment(start), moment(clock.value))

    assert result["id"] in updated["ids"]


@pytest.mark.parametrize(
    ("record", "code", "fields"),
    [
        pytest.param(account("W-5"), "REQUIRED_FIELD_MISSING", ["Name"], id="required-missing"),
        pytest.param(
            account("W-5", Name="N", Bogus__c=1), "INVALID_FIELD", ["Bogus__c"], id="unknown-field"
        ),
        pytest.param(
            account("W-5", Name="N", SystemModstamp="2020-01-01T00:00:00.000+0000"),
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["SystemModstamp"],
            id="read-only-field",
        ),
        pytest.param(
            account("W-5", Name="N", AnnualRevenue=-5),
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            ["AnnualRevenue"],
            id="validation-rule",
        ),
        pytest.param(
            {"attributes": {"type": "Account"}, "Name": "N"},
            "MISSING_ARGUMENT",
            [EXTERNAL_ID_FIELD],
            id="no-key",
        ),
    ],
)
def test_rejected_records_get_their_error_while_the_rest_commit(
    sf: Any, sandbox: SalesforceSandbox, record: dict[str, Any], code: str, fields: list[str]
) -> None:
    sandbox.validation_rules.add(
        "Account",
        "Revenue_Not_Negative",
        lambda r: (r["AnnualRevenue"] or 0) < 0,
        "Annual revenue cannot be negative",
        field="AnnualRevenue",
    )

    bad, good = sf.restful(
        UPSERT, method="PATCH", json={"records": [record, account("W-6", Name="Fine")]}
    )

    assert bad["success"] is False and bad["id"] is None
    assert [(e["statusCode"], e["fields"]) for e in bad["errors"]] == [(code, fields)]
    assert good["success"] is True and by_key(sandbox, "W-6") and not by_key(sandbox, "W-5")


def test_validation_rules_switch_off(sf: Any, sandbox: SalesforceSandbox) -> None:
    sandbox.validation_rules.add("Account", "No_Acme", lambda r: r["Name"] == "Acme", "No Acme")
    [refused] = sf.restful(UPSERT, method="PATCH", json={"records": [account("A", Name="Acme")]})
    sandbox.validation_rules.remove("No_Acme")
    [accepted] = sf.restful(UPSERT, method="PATCH", json={"records": [account("A", Name="Acme")]})

    assert refused["errors"][0]["message"] == "No Acme" and accepted["success"] is True


def test_all_or_none_rolls_back_every_record(sf: Any, sandbox: SalesforceSandbox) -> None:
    results = sf.restful(
        UPSERT,
        method="PATCH",
        json={"allOrNone": True, "records": [account("R-1", Name="Ok"), account("R-2")]},
    )

    assert [r["errors"][0]["statusCode"] for r in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
    ]
    assert not by_key(sandbox, "R-1")


def test_more_than_200_records_are_refused(sf: Any, sandbox: SalesforceSandbox) -> None:
    records = [account(f"K-{n}", Name="n") for n in range(201)]

    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.restful(UPSERT, method="PATCH", json={"records": records})

    content: Any = refused.value.content
    assert content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert not by_key(sandbox, "K-0")


def test_a_key_matching_two_records_fails_per_record_and_300_singly(
    sf: Any, sandbox: SalesforceSandbox
) -> None:
    for existing in sandbox.store.live("Account")[:2]:  # only seeding can make duplicates
        sandbox.store.update("Account", existing["Id"], **{EXTERNAL_ID_FIELD: "TWIN"})

    [result] = sf.restful(UPSERT, method="PATCH", json={"records": [account("TWIN", Name="x")]})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Account.upsert(f"{EXTERNAL_ID_FIELD}/TWIN", {"Name": "x"})

    assert result["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"


def test_create_refuses_a_duplicate_unique_value(sf: Any, sandbox: SalesforceSandbox) -> None:
    sf.restful(UPSERT, method="PATCH", json={"records": [account("U-1", Name="u")]})

    [dup] = sf.restful(
        "composite/sobjects", method="POST", json={"records": [account("U-1", Name="again")]}
    )

    assert dup["errors"][0]["statusCode"] == "DUPLICATE_VALUE" and len(by_key(sandbox, "U-1")) == 1


def test_collections_create_update_and_delete_by_id(sf: Any, sandbox: SalesforceSandbox) -> None:
    [made] = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [{"attributes": {"type": "Contact"}, "LastName": "Hopper"}]},
    )
    [changed] = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Contact"}, "Id": made["id"], "Title": "RADM"}]},
    )
    gone = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": f"{made['id']},003bogus", "allOrNone": "false"},
    )

    assert made["success"] and "created" not in made and changed["success"]
    assert [g["success"] for g in gone] == [True, False]
    contact = sandbox.store.get("Contact", made["id"])
    assert contact is not None and contact["IsDeleted"] and contact["Title"] == "RADM"


def test_single_record_upsert_answers_201_then_200(sf: Any, sandbox: SalesforceSandbox) -> None:
    created = sf.Account.upsert(f"{EXTERNAL_ID_FIELD}/S-1", {"Name": "Single"})
    updated = sf.Account.upsert(f"{EXTERNAL_ID_FIELD}/S-1", {"Name": "Single 2"})

    assert (created, updated) == (201, 200)
    assert [r["Name"] for r in by_key(sandbox, "S-1")] == ["Single 2"]


def test_describe_marks_the_external_id_field(sf: Any) -> None:  # SFType by __getattr__
    fields = {f["name"]: f for f in sf.Contact.describe()["fields"]}

    assert fields[EXTERNAL_ID_FIELD]["externalId"] is True and fields[EXTERNAL_ID_FIELD]["unique"]
    assert fields["SystemModstamp"]["updateable"] is False and fields["Title"]["createable"]


def test_writes_count_against_the_daily_budget(
    http: Callable[..., requests.Response], sandbox: SalesforceSandbox
) -> None:
    sandbox.set_api_usage(used=0, limit=1)
    body = {"records": [account("B-1", Name="b")]}

    first = http("PATCH", UPSERT, json=body)
    second = http("PATCH", UPSERT, json=body)

    assert first.status_code == 200 and first.headers["Sforce-Limit-Info"] == "api-usage=1/1"
    assert second.status_code == 403 and second.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_injected_faults_apply_to_writes_before_anything_is_written(
    http: Callable[..., requests.Response], sandbox: SalesforceSandbox
) -> None:
    sandbox.faults.fail_next = 1

    failed = http("PATCH", UPSERT, json={"records": [account("F-1", Name="f")]})

    assert failed.status_code == 503 and not by_key(sandbox, "F-1")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b"not json", "JSON_PARSER_ERROR", id="not-json"),
        pytest.param(b'{"records": [{"Name": "x"}]}', "INVALID_TYPE", id="no-attributes"),
    ],
)
def test_malformed_collections_answer_400(
    http: Callable[..., requests.Response], body: bytes, code: str
) -> None:
    answer = http("PATCH", UPSERT, data=body, headers={"Content-Type": "application/json"})

    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == code


def test_upsert_needs_an_external_id_field(http: Callable[..., requests.Response]) -> None:
    body = {"records": [{"attributes": {"type": "Account"}, "Name": "x"}]}

    answer = http("PATCH", "composite/sobjects/Account/Name", json=body)

    assert answer.status_code == 404 and "external ID field" in answer.json()[0]["message"]


def test_a_write_whose_answer_is_lost_is_applied_and_safe_to_retry(
    http: Callable[..., requests.Response], sandbox: SalesforceSandbox
) -> None:
    sandbox.faults.fail_after_write_next = 1
    body = {"records": [account("L-1", Name="lost")]}

    lost = http("PATCH", UPSERT, json=body)
    retried = http("PATCH", UPSERT, json=body)

    assert lost.status_code == 503 and len(by_key(sandbox, "L-1")) == 1
    assert retried.status_code == 200 and retried.json()[0]["created"] is False
