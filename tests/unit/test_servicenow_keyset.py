"""Keyset paging on (sys_updated_on, sys_id) with bare Table API responses."""

from __future__ import annotations

from typing import Any, Optional

import pytest
import requests

from sandbox.servicenow.query import parse_query
from sources.kit.errors import MissingCursorError, PaginationLoopError
from sources.servicenow.paginator import KeysetPaginator, keyset_query
from sources.servicenow.records import shape_live
from tests.unit._kit_fakes import make_response

URL = "https://acme.service-now.com/api/now/table/incident"
T1, T2 = "2024-05-01 10:00:00", "2024-05-01 10:00:05"


def rec(stamp: str, sys_id: str, **extra: str) -> dict[str, str]:
    return {"sys_updated_on": stamp, "sys_id": sys_id, **extra}


def page(
    paginator: KeysetPaginator, records: list[dict[str, str]], total: Optional[int]
) -> dict[str, Any]:
    """Feeds one response; returns the next request's parameters."""
    headers = {"X-Total-Count": str(total)} if total is not None else {}
    paginator.update_state(make_response(200, {"result": records}, headers, URL), records)
    request = requests.Request("GET", URL, params={"sysparm_display_value": "false"})
    paginator.update_request(request)
    return dict(request.params)


def test_first_query_starts_at_the_cursor_and_the_next_after_the_last_key() -> None:
    paginator = KeysetPaginator("incident", T1, page_size=2)
    request = requests.Request("GET", URL, params={"sysparm_display_value": "false"})
    paginator.init_request(request)
    assert request.params["sysparm_query"] == (
        f"sys_updated_on>={T1}^ORDERBYsys_updated_on^ORDERBYsys_id"
    )
    assert request.params["sysparm_display_value"] == "false"  # other parameters kept

    params = page(paginator, [rec(T1, "a"), rec(T2, "b")], total=5)

    assert paginator.has_next_page
    assert params["sysparm_offset"] == 0 and params["sysparm_limit"] == 2
    assert params["sysparm_query"] == keyset_query(None, (T2, "b"))


@pytest.mark.parametrize(
    ("stamp", "sys_id", "after"),
    [
        (T2, "a", True),  # later second
        (T1, "c", True),  # same second, later sys_id
        (T1, "b", False),  # the key itself
        (T1, "a", False),  # same second, earlier sys_id
        ("2024-05-01 09:59:59", "z", False),  # earlier second
    ],
    ids=["later-time", "tie-later-id", "the-key", "tie-earlier-id", "earlier-time"],
)
def test_keyset_query_selects_exactly_the_rows_after_the_key(
    stamp: str, sys_id: str, after: bool
) -> None:
    # read the query with the emulator's grammar: ^OR binds only its two neighbours
    query = parse_query(keyset_query(None, (T1, "b")))

    assert query.matches(rec(stamp, sys_id)) is after


@pytest.mark.parametrize(
    ("records", "total", "more"),
    [
        ([rec(T1, "a"), rec(T1, "b")], 2, False),  # the page held every counted row
        ([rec(T1, "a")], 2, False),  # short (a row ACL hid one), nothing after it
        ([rec(T1, "a")], 5, True),  # short but more counted: not the end
        ([rec(T1, "a"), rec(T1, "b")], None, True),  # no count: until an empty page
    ],
    ids=["full-last", "short-last", "short-more", "no-total"],
)
def test_a_short_page_ends_the_listing_only_when_the_count_says_so(
    records: list[dict[str, str]], total: Optional[int], more: bool
) -> None:
    paginator = KeysetPaginator("incident", None, page_size=2)

    page(paginator, records, total)

    assert paginator.has_next_page is more


def test_an_empty_page_of_hidden_rows_is_stepped_over_by_offset_then_paging_resumes() -> None:
    paginator = KeysetPaginator("incident", None, page_size=2)
    page(paginator, [rec(T1, "a"), rec(T1, "b")], total=7)

    hidden = page(paginator, [], total=5)  # both rows after the key hidden by a row ACL

    assert paginator.has_next_page
    assert hidden["sysparm_offset"] == 2
    assert hidden["sysparm_query"] == keyset_query(None, (T1, "b"))
    resumed = page(paginator, [rec(T2, "e")], total=5)
    assert resumed["sysparm_offset"] == 0
    assert resumed["sysparm_query"] == keyset_query(None, (T2, "e"))
    page(paginator, [], total=0)
    assert not paginator.has_next_page


def test_an_empty_page_without_more_rows_ends_the_listing() -> None:
    paginator = KeysetPaginator("incident", None, page_size=2)

    page(paginator, [], total=None)

    assert not paginator.has_next_page


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (
            [{"sys_id": "a", "number": "INC1"}, {"sys_id": "b", "number": "INC2"}],
            "ServiceNow returned no sys_updated_on on incident: a field-level ACL hides it; "
            "grant read on incident.sys_updated_on to the integration user",
        ),
        (
            [{"sys_updated_on": T1}, {"sys_updated_on": T2}],
            "ServiceNow returned no sys_id on incident: a field-level ACL hides it; "
            "grant read on incident.sys_id to the integration user",
        ),
    ],
    ids=["cursor-hidden", "key-hidden"],
)
def test_a_field_acl_hiding_the_key_is_one_line_naming_the_field(
    records: list[dict[str, str]], message: str
) -> None:
    paginator = KeysetPaginator("incident", None, page_size=2)

    with pytest.raises(MissingCursorError) as raised:
        page(paginator, records, total=2)

    assert str(raised.value) == message


def test_a_malformed_cursor_is_not_a_key_but_the_others_are() -> None:
    paginator = KeysetPaginator("incident", None, page_size=3)

    params = page(paginator, [rec(T1, "a"), rec("not a date", "b")], total=9)

    assert params["sysparm_query"] == keyset_query(None, (T1, "a"))


def test_an_instance_ignoring_the_keyset_query_is_refused() -> None:
    paginator = KeysetPaginator("incident", None, page_size=2)
    page(paginator, [rec(T1, "a"), rec(T2, "b")], total=4)

    with pytest.raises(PaginationLoopError):
        page(paginator, [rec(T1, "a"), rec(T2, "b")], total=4)


def test_a_deleted_row_sorts_after_the_live_copy_read_earlier_in_the_run() -> None:
    live = shape_live(rec(T1, "a"))
    gone = shape_live({**rec(T1, "a"), "deleted": True, "deleted_at": T2})

    assert gone["sys_updated_on"] > live["sys_updated_on"]
    assert gone["sys_updated_on"] == gone["deleted_at"]
