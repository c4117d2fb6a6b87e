"""The sandbox's encoded queries and instance settings, as ServiceNow documents them."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.servicenow import ServiceNowSandbox
from sandbox.servicenow.query import QueryError, parse_query

TIMEOUT = 5
ROWS = [
    {"sys_id": "a", "priority": "9", "state": "1", "short_description": "VPN drops", "x": ""},
    {"sys_id": "b", "priority": "10", "state": "2", "short_description": "Printer jam", "x": "1"},
    {"sys_id": "c", "priority": "2", "state": "6", "short_description": "vpn slow", "x": ""},
]


def ids(query: str, fields: Any = None, no_rows: bool = False) -> list[str]:
    parsed = parse_query(query)
    if fields is not None:
        parsed = parsed.for_fields(fields, no_rows)
    return [r["sys_id"] for r in parsed.sort([dict(r) for r in ROWS]) if parsed.matches(r)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=1^ORstate=2", ["a", "b"]),
        # ^OR binds its two neighbours only: priority=2 AND (state=1 OR state=6)
        ("priority=2^state=1^ORstate=6", ["c"]),
        ("state=1^ORstate=6^priority=2", ["c"]),
        # ^NQ: (state=1 AND priority=9) OR (state=6)
        ("state=1^priority=9^NQstate=6", ["a", "c"]),
        ("stateIN1,6", ["a", "c"]),
        ("stateNOT IN1,6", ["b"]),
        ("short_descriptionLIKEvpn", ["a", "c"]),
        ("short_descriptionNOTLIKEvpn", ["b"]),
        ("short_descriptionSTARTSWITHprinter", ["b"]),
        ("short_descriptionENDSWITHslow", ["c"]),
        ("xISEMPTY", ["a", "c"]),
        ("xISNOTEMPTY", ["b"]),
        ("priority>9", ["b"]),  # numbers compare as numbers: 10 > 9
        ("priority<=9", ["a", "c"]),
        ("short_description=VPN drops", ["a"]),  # a value may hold spaces
    ],
    ids=[
        "or",
        "or-binds-right",
        "or-binds-left",
        "nq",
        "in",
        "not-in",
        "like",
        "notlike",
        "startswith",
        "endswith",
        "isempty",
        "isnotempty",
        "numeric-gt",
        "numeric-le",
        "spaces",
    ],
)
def test_conditions_and_their_precedence(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ORDERBYpriority", ["c", "a", "b"]),  # 2, 9, 10: numbers, not text
        ("ORDERBYDESCpriority", ["b", "a", "c"]),
        ("ORDERBYx^ORDERBYDESCsys_id", ["c", "a", "b"]),
        ("state!=2^ORDERBYDESCshort_description", ["c", "a"]),
    ],
    ids=["numeric", "desc", "two-keys", "with-condition"],
)
def test_order_by(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


def test_a_condition_on_an_unknown_field_is_ignored_unless_the_property_says_no_rows() -> None:
    fields = {"priority", "state", "short_description", "x"}

    assert ids("nosuchfield=1^state=1", fields) == ["a"]  # the valid part still applies
    assert ids("nosuchfield=1", fields) == ["a", "b", "c"]  # may return every row
    assert ids("nosuchfield=1^state=1", fields, no_rows=True) == []


def test_a_term_without_an_operator_is_refused() -> None:
    with pytest.raises(QueryError):
        parse_query("active")


def table(sb: ServiceNowSandbox, name: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{sb.base_url}/api/now/table/{name}",
        params=params,
        auth=(sb.username, sb.password),
        timeout=TIMEOUT,
    )


def test_an_invalid_field_over_http_returns_every_row_or_none(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    everything = table(servicenow_sandbox, "incident", sysparm_query="nosuchfield=1")
    servicenow_sandbox.store.invalid_query_returns_no_rows = True
    nothing = table(servicenow_sandbox, "incident", sysparm_query="nosuchfield=1")

    assert len(everything.json()["result"]) == 60
    assert nothing.status_code == 200 and nothing.json()["result"] == []


def test_a_row_acl_applies_after_the_limit_and_the_total_still_counts_hidden_rows(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    servicenow_sandbox.faults.row_acl("incident", lambda r: r["sys_id"] > "8")
    order = "ORDERBYsys_id"

    response = table(servicenow_sandbox, "incident", sysparm_query=order, sysparm_limit=20)

    records = response.json()["result"]
    window = sorted(r["sys_id"] for r in servicenow_sandbox.store.records("incident"))[:20]
    assert [r["sys_id"] for r in records] == [k for k in window if k > "8"]
    assert len(records) < 20 and response.headers["X-Total-Count"] == "60"


def test_a_field_acl_omits_the_field_but_queries_on_it_still_run(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    servicenow_sandbox.faults.hide_field("incident", "sys_updated_on")

    response = table(
        servicenow_sandbox, "incident", sysparm_query="ORDERBYsys_updated_on", sysparm_limit=5
    )

    records = response.json()["result"]
    assert len(records) == 5 and all("sys_updated_on" not in r for r in records)
    assert all("sys_id" in r for r in records)


def test_a_deep_offset_hits_the_transaction_quota(servicenow_sandbox: ServiceNowSandbox) -> None:
    servicenow_sandbox.faults.offset_quota = 20

    shallow = table(servicenow_sandbox, "incident", sysparm_offset=20, sysparm_limit=10)
    deep = table(servicenow_sandbox, "incident", sysparm_offset=30, sysparm_limit=10)

    assert shallow.status_code == 200
    assert deep.status_code == 500
    error = deep.json()
    assert error["status"] == "failure"
    assert error["error"]["message"] == "Transaction cancelled: maximum execution time exceeded"


def test_a_page_hook_changes_the_data_between_two_requests(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    first = servicenow_sandbox.store.records("incident")[0]["sys_id"]
    servicenow_sandbox.faults.after_page(
        "incident", 1, lambda: servicenow_sandbox.store.delete("incident", first)
    )

    before = table(servicenow_sandbox, "incident", sysparm_limit=1)
    after = table(servicenow_sandbox, "incident", sysparm_limit=1)

    assert before.headers["X-Total-Count"] == "60" and after.headers["X-Total-Count"] == "59"
    assert [q for t, q in servicenow_sandbox.faults.listings if t == "incident"] == ["", ""]
