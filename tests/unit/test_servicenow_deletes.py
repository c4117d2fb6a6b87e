"""Units of the ServiceNow delete signals and rate-limit pacing, on bare responses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

import pytest
import requests
from requests import Response

from sources.kit.ratelimit import RateLimit, RateLimiter
from sources.kit.retry import BackoffSchedule
from sources.servicenow.access import access_denied
from sources.servicenow.client import Page
from sources.servicenow.deletes import deletes_queries
from sources.servicenow.fullscan import ScanSchedule, scan_ids, scan_query

NOW = 1_800_000_000.0


def response(status: int, url: str, headers: Optional[dict[str, str]] = None) -> Response:
    reply = Response()
    reply.status_code = status
    reply.headers.update(headers or {})
    reply.request = requests.Request("GET", url).prepare()
    reply.url = url
    return reply


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (
            ["incident"],
            ["tablename=incident^sys_created_on>=S^ORDERBYsys_created_on^ORDERBYsys_id"],
        ),
        (
            ["cmdb_ci", "cmdb_ci_linux_server"],
            ["tablenameINcmdb_ci,cmdb_ci_linux_server^sys_created_on>=S^ORDERBYsys_created_on"
             "^ORDERBYsys_id"],
        ),
    ],
    ids=["one-class", "class-tree"],
)  # fmt: skip
def test_deletes_queries_ask_for_every_class(classes: list[str], expected: list[str]) -> None:
    assert deletes_queries(classes, "S") == expected


def test_deletes_queries_split_long_class_lists() -> None:
    classes = [f"cmdb_ci_c{i}" for i in range(250)]
    queries = deletes_queries(classes, "S")
    assert len(queries) == 3
    assert sum(q.split("^")[0].count(",") + 1 for q in queries) == 250


@pytest.mark.parametrize(
    ("interval", "last", "due"),
    [(24.0, None, True), (24.0, NOW - 3600, False), (24.0, NOW - 25 * 3600, True), (0, NOW, True)],
    ids=["never-scanned", "recent", "stale", "every-run"],
)
def test_scan_schedule(interval: float, last: Optional[float], due: bool) -> None:
    assert ScanSchedule(interval).due(last, NOW) is due


def test_scan_query_is_keyset_on_sys_id() -> None:
    assert scan_query(None) == "ORDERBYsys_id"
    assert scan_query("abc") == "sys_id>abc^ORDERBYsys_id"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        (
            "https://x.service-now.com/api/now/table/sys_audit_delete?a=1",
            "reading sys_audit_delete",
        ),
        ("https://x.service-now.com/api/now/table/incident/abc", "read access to incident"),
        ("https://x.service-now.com/api/now/stats/incident", "the role the resource's ACL"),
    ],
    ids=["audit-table", "record", "other-api"],
)
def test_a_403_names_the_table_not_the_credentials(url: str, needle: str) -> None:
    error = access_denied(response(403, url), "sources.servicenow.credentials")
    assert needle in str(error) and "credentials" in str(error)
    assert "refused the credentials" not in str(error)


def test_limit_and_reset_without_remaining_still_pace() -> None:
    now = [0.0]
    limiter = RateLimiter(
        RateLimit(per_second=50), clock=lambda: now[0], sleep=lambda s: None,
        wall_clock=lambda: NOW,
    )  # fmt: skip
    headers = {"X-RateLimit-Limit": "11", "X-RateLimit-Reset": str(int(NOW + 100))}
    limiter.observe("/api/now/table/incident", response(200, "https://x/", headers))

    # 10 left of 11 for the next 100 s: one request every 10 s, not 50 a second
    assert limiter.current_rate() == pytest.approx(0.1)
    limiter.acquire("/api/now/table/incident")
    assert limiter.pending_wait("/api/now/table/incident") == pytest.approx(10.0, abs=0.5)


def test_requested_wait_is_uncapped_while_the_retry_hint_is_capped() -> None:
    schedule = BackoffSchedule(max_hint=300, wall_clock=lambda: NOW)
    throttled = response(429, "https://x/", {"Retry-After": "3000"})
    assert schedule.requested_wait(throttled) == 3000
    assert schedule.server_hint(throttled) == 300


class ShortPages:
    """A client whose pages come back short, as when ACLs drop rows from them."""

    page_size = 10

    def __init__(self, pages: list[list[str]]) -> None:
        self.pages = pages
        self.queries: list[str] = []

    def list_pages(self, table: str, *, params: dict[str, str], label: str) -> Iterator[Page]:
        self.queries.append(params["sysparm_query"])
        ids = self.pages.pop(0) if self.pages else []
        yield Page([{"sys_id": i} for i in ids], None)


def test_a_short_page_does_not_end_the_sys_id_scan() -> None:
    client = ShortPages([["a1", "a2", "a3"], ["b1"], []])

    scanned = scan_ids(client, "incident")  # type: ignore[arg-type]

    assert scanned.ids == {"a1", "a2", "a3", "b1"}
    assert client.queries == ["ORDERBYsys_id", "sys_id>a3^ORDERBYsys_id", "sys_id>b1^ORDERBYsys_id"]


class HiddenPages(ShortPages):
    """Pages with the instance's X-Total-Count, as row ACLs leave it (rows counted, hidden)."""

    def __init__(self, pages: list[tuple[list[str], int]]) -> None:
        super().__init__([])
        self.answers = pages
        self.offsets: list[int] = []

    def list_pages(self, table: str, *, params: dict[str, str], label: str) -> Iterator[Page]:
        self.queries.append(params["sysparm_query"])
        self.offsets.append(int(params["sysparm_offset"]))
        ids, total = self.answers.pop(0)
        yield Page([{"sys_id": i} for i in ids], total)


def test_a_page_hidden_whole_by_a_row_acl_does_not_end_the_scan() -> None:
    # after a1: a page of 10 hidden rows, then c1 beyond them, then nothing counted
    client = HiddenPages([(["a1"], 12), ([], 11), (["c1"], 11), ([], 0)])

    scanned = scan_ids(client, "incident")  # type: ignore[arg-type]

    assert scanned.ids == {"a1", "c1"}  # c1 is not taken for deleted
    assert client.offsets == [0, 0, 10, 0]
    assert client.queries[1:3] == ["sys_id>a1^ORDERBYsys_id"] * 2
