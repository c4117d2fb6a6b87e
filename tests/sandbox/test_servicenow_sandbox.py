"""The ServiceNow sandbox over HTTP: Table API, auth, rate limits, faults, deletes."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from sandbox.servicenow import ServiceNowSandbox
from sandbox.servicenow.seed import Volume

TIMEOUT = 5


def table(sb: ServiceNowSandbox, name: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{sb.base_url}/api/now/table/{name}",
        params=params,
        auth=(sb.username, sb.password),
        timeout=TIMEOUT,
    )


def token(sb: ServiceNowSandbox, **form: str) -> requests.Response:
    return requests.post(sb.token_url, data=form, timeout=TIMEOUT)


def test_seed_is_deterministic_and_realistic() -> None:
    first, second = ServiceNowSandbox(seed=3), ServiceNowSandbox(seed=3)
    assert first.store.records("incident") != []
    incident = first.store.records("incident")[0]
    assert incident["number"].startswith("INC") and len(incident["sys_id"]) == 32
    assert time.strptime(incident["sys_updated_on"], "%Y-%m-%d %H:%M:%S")
    assert [r["sys_id"] for r in first.store.records("sys_user")] == [
        r["sys_id"] for r in second.store.records("sys_user")
    ]


def test_offset_paging_with_link_and_total_count(servicenow_sandbox: ServiceNowSandbox) -> None:
    seen: list[str] = []
    url: str | None = f"{servicenow_sandbox.base_url}/api/now/table/incident"
    params: dict[str, Any] | None = {
        "sysparm_limit": 25,
        "sysparm_query": "ORDERBYsys_updated_on^ORDERBYsys_id",
    }
    while url:
        response = requests.get(
            url,
            params=params,
            auth=(servicenow_sandbox.username, servicenow_sandbox.password),
            timeout=TIMEOUT,
        )
        assert response.headers["X-Total-Count"] == "60"
        seen += [r["sys_updated_on"] + r["sys_id"] for r in response.json()["result"]]
        url, params = response.links.get("next", {}).get("url"), None
    assert len(seen) == 60 and seen == sorted(seen)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=7", lambda r: r["state"] == "7"),
        ("priority!=1", lambda r: r["priority"] != "1"),
        ("sys_updated_on>=2000-01-01 00:00:00", lambda r: True),
        ("sys_updated_on<2000-01-01 00:00:00", lambda r: False),
    ],
    ids=["eq", "ne", "ge-all", "lt-none"],
)
def test_encoded_query_filters(
    servicenow_sandbox: ServiceNowSandbox, query: str, expected: Any
) -> None:
    result = table(servicenow_sandbox, "incident", sysparm_query=query).json()["result"]
    want = {r["sys_id"] for r in servicenow_sandbox.store.records("incident") if expected(r)}
    assert {r["sys_id"] for r in result} == want


def test_fields_and_display_value_all(servicenow_sandbox: ServiceNowSandbox) -> None:
    result = table(
        servicenow_sandbox, "sys_user", sysparm_fields="sys_id,email", sysparm_display_value="all"
    ).json()["result"]
    assert set(result[0]) == {"sys_id", "email"}
    assert set(result[0]["sys_id"]) == {"display_value", "value"}


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "admin", "password": "sandbox-password"},
        {"grant_type": "client_credentials"},
    ],
    ids=["password", "client_credentials"],
)
def test_oauth_grants_issue_tokens_that_expire(
    servicenow_sandbox: ServiceNowSandbox, form: dict[str, str]
) -> None:
    client = {
        "client_id": servicenow_sandbox.client_id,
        "client_secret": servicenow_sandbox.client_secret,
    }
    reply = token(servicenow_sandbox, **form, **client)
    assert reply.status_code == 200
    bearer = {"Authorization": f"Bearer {reply.json()['access_token']}"}
    url = f"{servicenow_sandbox.base_url}/api/now/table/cmdb_ci"
    assert requests.get(url, headers=bearer, timeout=TIMEOUT).status_code == 200
    servicenow_sandbox.auth.expire_tokens()
    expired = requests.get(url, headers=bearer, timeout=TIMEOUT)
    assert expired.status_code == 401
    assert expired.json()["error"]["message"] == "User Not Authenticated"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {
                "grant_type": "password",
                "username": "admin",
                "password": "nope",
                "client_id": "sandbox-client",
                "client_secret": "sandbox-client-secret",
            },
            "invalid_grant",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "sandbox-client",
                "client_secret": "nope",
            },
            "invalid_client",
        ),
    ],
    ids=["bad-password", "bad-client"],
)
def test_token_endpoint_refusals(
    servicenow_sandbox: ServiceNowSandbox, form: dict[str, str], error: str
) -> None:
    reply = token(servicenow_sandbox, **form)
    assert reply.status_code in (400, 401) and reply.json()["error"] == error


def test_rate_limit_headers_then_429_with_retry_after(
    servicenow_sandbox_factory: Any,
) -> None:
    sb = servicenow_sandbox_factory(rate_limit=3, rate_window_s=3600, clock=time.time)
    replies = [table(sb, "cmdb_ci", sysparm_limit=1) for _ in range(4)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    # the documented headers only: Limit, Reset, Rule - never X-RateLimit-Remaining
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in replies)
    assert all("X-RateLimit-Remaining" not in r.headers for r in replies)
    assert len({r.headers["X-RateLimit-Rule"] for r in replies}) == 1
    assert int(replies[3].headers["Retry-After"]) >= 1
    assert "3 requests per hour for Table API" in replies[3].json()["error"]["detail"]
    assert int(replies[0].headers["X-RateLimit-Reset"]) > time.time()


def test_faults_fail_drop_and_throttle(servicenow_sandbox: ServiceNowSandbox) -> None:
    servicenow_sandbox.faults.fail_next(1, 503)
    assert table(servicenow_sandbox, "incident").status_code == 503
    servicenow_sandbox.faults.throttle_next(1, retry_after=2)
    throttled = table(servicenow_sandbox, "incident")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    servicenow_sandbox.faults.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        table(servicenow_sandbox, "incident")
    assert table(servicenow_sandbox, "incident").status_code == 200
    assert servicenow_sandbox.stats.dropped == 1 and servicenow_sandbox.stats.failed == 1


def test_delete_is_listed_in_sys_audit_delete(servicenow_sandbox: ServiceNowSandbox) -> None:
    victim = servicenow_sandbox.store.records("incident")[0]
    servicenow_sandbox.advance(5)
    servicenow_sandbox.store.delete("incident", victim["sys_id"])

    listed = {r["sys_id"] for r in table(servicenow_sandbox, "incident").json()["result"]}
    audits = table(servicenow_sandbox, "sys_audit_delete", sysparm_query="tablename=incident")
    audit = audits.json()["result"]
    assert victim["sys_id"] not in listed
    assert [a["documentkey"] for a in audit] == [victim["sys_id"]]
    assert victim["number"] in audit[0]["payload"]


def test_mutations_stamp_sys_updated_on(servicenow_sandbox: ServiceNowSandbox) -> None:
    record = servicenow_sandbox.store.records("sys_user")[0]
    servicenow_sandbox.advance(3600)
    changed = servicenow_sandbox.store.update("sys_user", record["sys_id"], email="x@y.test")
    assert changed["sys_updated_on"] > record["sys_updated_on"]
    created = servicenow_sandbox.store.create("sys_user", user_name="new")
    assert created["sys_created_on"] == created["sys_updated_on"] == changed["sys_updated_on"]


def test_unknown_table_and_bad_credentials_answer_like_servicenow(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    assert table(servicenow_sandbox, "no_such_table").status_code == 400
    denied = requests.get(
        f"{servicenow_sandbox.base_url}/api/now/table/incident",
        auth=("admin", "wrong"),
        timeout=TIMEOUT,
    )
    assert denied.status_code == 401 and denied.json()["status"] == "failure"


def test_volume_is_configurable() -> None:
    sb = ServiceNowSandbox(volume=Volume(sys_user=2, cmdb_ci=1, incident=3, change_request=0))
    assert [len(sb.store.records(t)) for t in ("sys_user", "cmdb_ci", "incident")] == [2, 1, 3]
