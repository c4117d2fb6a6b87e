"""The Salesforce emulator over HTTP: tokens, describe, query paging, limits, faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.changes import apply_demo_changes

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DATA = "/services/data/v59.0"
TIMEOUT = 5


def assertion(sandbox: SalesforceSandbox, **claims: Any) -> str:
    creds = sandbox.jwt_credentials()
    body = {
        "iss": creds["issuer"],
        "sub": creds["subject"],
        "aud": creds["audience"],
        "exp": int(time.time()) + 120,
        **claims,
    }
    return jwt.encode(body, creds["private_key"], algorithm="RS256")


def token(sandbox: SalesforceSandbox) -> str:
    reply = requests.post(
        sandbox.token_url,
        data={"grant_type": JWT_GRANT, "assertion": assertion(sandbox)},
        timeout=TIMEOUT,
    )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def get(sandbox: SalesforceSandbox, path: str, access: str, **params: str) -> requests.Response:
    return requests.get(
        sandbox.base_url + path,
        params=params or None,
        headers={"Authorization": f"Bearer {access}"},
        timeout=TIMEOUT,
    )


def all_records(sandbox: SalesforceSandbox, access: str, soql: str, kind: str = "query") -> list:
    page = get(sandbox, f"{DATA}/{kind}", access, q=soql).json()
    records = list(page["records"])
    while not page["done"]:
        page = get(sandbox, page["nextRecordsUrl"], access).json()
        records.extend(page["records"])
    return records


def test_jwt_grant_returns_instance_url_and_no_expiry(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    reply = requests.post(
        salesforce_sandbox.token_url,
        data={"grant_type": JWT_GRANT, "assertion": assertion(salesforce_sandbox)},
        timeout=TIMEOUT,
    ).json()
    assert reply["instance_url"] == salesforce_sandbox.base_url
    assert "expires_in" not in reply and reply["token_type"] == "Bearer"


@pytest.mark.parametrize(
    "claims",
    [{"aud": "https://elsewhere.example"}, {"exp": int(time.time()) - 3600}],
    ids=["wrong-audience", "expired"],
)
def test_jwt_grant_refuses_bad_assertions(
    salesforce_sandbox: SalesforceSandbox, claims: dict[str, Any]
) -> None:
    reply = requests.post(
        salesforce_sandbox.token_url,
        data={"grant_type": JWT_GRANT, "assertion": assertion(salesforce_sandbox, **claims)},
        timeout=TIMEOUT,
    )
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_grant"


def test_refresh_grant_issues_tokens_with_instance_url(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    creds = salesforce_sandbox.refresh_credentials()
    form = {
        "grant_type": "refresh_token",
        "refresh_token": creds["refresh_token"],
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
    }
    reply = requests.post(salesforce_sandbox.token_url, data=form, timeout=TIMEOUT)
    assert reply.status_code == 200
    assert reply.json()["instance_url"] == salesforce_sandbox.base_url
    wrong = requests.post(
        salesforce_sandbox.token_url, data={**form, "client_secret": "nope"}, timeout=TIMEOUT
    )
    assert wrong.status_code == 401


def test_query_pages_with_next_records_url_and_reports_usage(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    access = token(salesforce_sandbox)
    first = get(salesforce_sandbox, f"{DATA}/query", access, q="SELECT Id FROM Contact")
    body = first.json()
    assert body["done"] is False and body["nextRecordsUrl"].startswith(f"{DATA}/query/")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    ids = [r["Id"] for r in all_records(salesforce_sandbox, access, "SELECT Id FROM Contact")]
    assert sorted(ids) == sorted(r["Id"] for r in salesforce_sandbox.store.live("Contact"))
    assert len(ids) == len(set(ids)) == body["totalSize"]


def test_deleted_records_show_only_in_query_all(salesforce_sandbox: SalesforceSandbox) -> None:
    access = token(salesforce_sandbox)
    applied = apply_demo_changes(salesforce_sandbox.store)
    soql = "SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true"
    assert all_records(salesforce_sandbox, access, soql) == []
    gone = all_records(salesforce_sandbox, access, soql, kind="queryAll")
    assert {r["Id"] for r in gone} == {i for i in applied.deleted if i.startswith("001")}


def test_updates_move_systemmodstamp_past_a_cursor(salesforce_sandbox: SalesforceSandbox) -> None:
    access = token(salesforce_sandbox)
    newest = all_records(
        salesforce_sandbox,
        access,
        "SELECT Id, SystemModstamp FROM Account ORDER BY SystemModstamp DESC LIMIT 1",
    )[0]["SystemModstamp"]
    applied = apply_demo_changes(salesforce_sandbox.store)
    literal = newest[:19] + "Z"
    changed = all_records(
        salesforce_sandbox, access, f"SELECT Id FROM Account WHERE SystemModstamp > {literal}"
    )
    assert {r["Id"] for r in changed} == {i for i in applied.updated if i.startswith("001")}


def test_describe_lists_typed_fields(salesforce_sandbox: SalesforceSandbox) -> None:
    body = get(
        salesforce_sandbox, f"{DATA}/sobjects/Opportunity/describe", token(salesforce_sandbox)
    ).json()
    types = {f["name"]: f["type"] for f in body["fields"]}
    assert types["Amount"] == "currency" and types["CloseDate"] == "date"
    assert types["SystemModstamp"] == "datetime"


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        ("DELETE Account", "MALFORMED_QUERY"),
    ],
    ids=["field", "object", "syntax"],
)
def test_bad_queries_answer_salesforce_errors(
    salesforce_sandbox: SalesforceSandbox, soql: str, code: str
) -> None:
    reply = get(salesforce_sandbox, f"{DATA}/query", token(salesforce_sandbox), q=soql)
    assert reply.status_code == 400 and reply.json()[0]["errorCode"] == code


def test_expired_tokens_get_invalid_session_id(salesforce_sandbox: SalesforceSandbox) -> None:
    access = token(salesforce_sandbox)
    salesforce_sandbox.expire_tokens()
    reply = get(salesforce_sandbox, f"{DATA}/query", access, q="SELECT Id FROM User")
    assert reply.status_code == 401 and reply.json()[0]["errorCode"] == "INVALID_SESSION_ID"


@pytest.mark.parametrize(
    ("arrange", "status", "message"),
    [
        (lambda sb: sb.set_api_usage(10, limit=10), 403, "TotalRequests"),
        (lambda sb: setattr(sb.faults, "throttle_next", 1), 403, "ConcurrentPerOrgLongTxn"),
        (lambda sb: setattr(sb.faults, "fail_next", 1), 503, "injected"),
    ],
    ids=["daily-limit", "concurrency-limit", "server-error"],
)
def test_faults_answer_like_salesforce(
    salesforce_sandbox: SalesforceSandbox,
    arrange: Callable[[SalesforceSandbox], None],
    status: int,
    message: str,
) -> None:
    access = token(salesforce_sandbox)
    arrange(salesforce_sandbox)
    reply = get(salesforce_sandbox, f"{DATA}/query", access, q="SELECT Id FROM User")
    assert reply.status_code == status and message in reply.json()[0]["message"]
    assert "Sforce-Limit-Info" in reply.headers


def test_seed_is_deterministic(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
) -> None:
    one, two = salesforce_sandbox_factory(), salesforce_sandbox_factory()
    names = [sorted(r["Name"] for r in sb.store.live("Account")) for sb in (one, two)]
    assert names[0] == names[1] and len(names[0]) == 12


def test_bulk_job_completes_after_polls_and_serves_csv_by_locator(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    access = token(salesforce_sandbox)
    headers = {"Authorization": f"Bearer {access}"}
    base = f"{salesforce_sandbox.base_url}{DATA}/jobs/query"
    job = requests.post(
        base,
        json={"operation": "query", "query": "SELECT Id, IsDeleted FROM Account"},
        headers=headers,
        timeout=TIMEOUT,
    ).json()
    states = [
        requests.get(f"{base}/{job['id']}", headers=headers, timeout=TIMEOUT).json()["state"]
        for _ in range(3)
    ]
    assert states == ["InProgress", "JobComplete", "JobComplete"]
    first = requests.get(
        f"{base}/{job['id']}/results", params={"maxRecords": 5}, headers=headers, timeout=TIMEOUT
    )
    assert first.headers["Content-Type"] == "text/csv"
    assert first.text.splitlines()[0] == '"Id","IsDeleted"' and len(first.text.splitlines()) == 6
    rest = requests.get(
        f"{base}/{job['id']}/results",
        params={"maxRecords": 50, "locator": first.headers["Sforce-Locator"]},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert rest.headers["Sforce-Locator"] == "null" and len(rest.text.splitlines()) == 1 + 12 - 5


def test_count_query_answers_total_size_only(salesforce_sandbox: SalesforceSandbox) -> None:
    body = get(
        salesforce_sandbox, f"{DATA}/query", token(salesforce_sandbox), q="SELECT COUNT() FROM Lead"
    ).json()
    assert body == {
        "totalSize": len(salesforce_sandbox.store.live("Lead")),
        "done": True,
        "records": [],
    }
