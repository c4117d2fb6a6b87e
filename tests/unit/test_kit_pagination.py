"""Stripe-style pagination and loop detection, with bare responses."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import requests
from dlt.sources.helpers.rest_client.paginators import BasePaginator

from sources.kit.errors import FatalError, MissingCursorError, PaginationLoopError
from sources.kit.pagination import (
    LoopGuard,
    LoopSafeJSONLinkPaginator,
    LoopSafeJSONResponseCursorPaginator,
    StartingAfterPaginator,
)
from sources.kit.redact import global_redactor
from tests.unit._kit_fakes import make_response

URL = "https://api.example.com/v1/customers"


def start(paginator: BasePaginator, params: dict[str, Any] | None = None) -> requests.Request:
    request = requests.Request("GET", URL, params=params or {"limit": 2})
    paginator.init_request(request)
    return request


def page(body: dict[str, Any]) -> requests.Response:
    return make_response(200, body=body, url=URL)


def feed(paginator: BasePaginator, request: requests.Request, body: dict[str, Any]) -> None:
    data = body.get("data")
    paginator.update_state(page(body), data)
    if paginator.has_next_page:
        paginator.update_request(request)


def test_starting_after_uses_last_id_while_has_more() -> None:
    paginator = StartingAfterPaginator()
    request = start(paginator)
    feed(paginator, request, {"data": [{"id": "cus_1"}, {"id": "cus_2"}], "has_more": True})
    assert paginator.has_next_page
    assert request.params == {"limit": 2, "starting_after": "cus_2"}
    feed(paginator, request, {"data": [{"id": "cus_3"}], "has_more": False})
    assert not paginator.has_next_page


@pytest.mark.parametrize(
    "body",
    [
        {"data": [{"id": "x"}], "has_more": False},
        {"data": [{"id": "x"}]},
        {"data": [], "has_more": "false"},
    ],
    ids=["false", "missing", "string-false"],
)
def test_starting_after_stops_without_has_more(body: dict[str, Any]) -> None:
    paginator = StartingAfterPaginator()
    feed(paginator, start(paginator), body)
    assert not paginator.has_next_page


@pytest.mark.parametrize(
    "data",
    [[{"name": "no id"}], [], [{"id": ""}], ["not-a-dict"]],
    ids=["no-id", "empty-page", "empty-id", "scalar"],
)
def test_has_more_without_cursor_is_fatal(data: list[Any]) -> None:
    paginator = StartingAfterPaginator()
    request = start(paginator)
    with pytest.raises(MissingCursorError, match="has_more=true but none of its items has an 'id'"):
        feed(paginator, request, {"data": data, "has_more": True})
    assert issubclass(MissingCursorError, FatalError)


def test_malformed_last_item_continues_after_the_last_item_with_an_id() -> None:
    paginator = StartingAfterPaginator()
    request = start(paginator)
    feed(paginator, request, {"data": [{"id": "cus_1"}, {"name": "no id"}], "has_more": True})
    assert paginator.has_next_page
    assert request.params["starting_after"] == "cus_1"


def test_repeated_cursor_raises_loop_error() -> None:
    paginator = StartingAfterPaginator()
    request = start(paginator)
    feed(paginator, request, {"data": [{"id": "cus_1"}], "has_more": True})
    with pytest.raises(PaginationLoopError) as raised:
        feed(paginator, request, {"data": [{"id": "cus_1"}], "has_more": True})
    message = str(raised.value)
    assert "/v1/customers" in message and "'cus_1'" in message and "\n" not in message


def test_initial_cursor_counts_as_seen() -> None:
    paginator = StartingAfterPaginator()
    request = start(paginator, {"starting_after": "cus_9"})
    with pytest.raises(PaginationLoopError):
        feed(paginator, request, {"data": [{"id": "cus_9"}], "has_more": True})


def test_new_pagination_forgets_old_cursors() -> None:
    paginator = StartingAfterPaginator()
    feed(paginator, start(paginator), {"data": [{"id": "a"}], "has_more": True})
    feed(paginator, start(paginator), {"data": [{"id": "a"}], "has_more": True})
    assert paginator.has_next_page


def test_custom_fields_and_deepcopy() -> None:
    paginator = copy.deepcopy(
        StartingAfterPaginator(cursor_param="after", id_field="uid", has_more_path="meta.more")
    )
    request = start(paginator)
    paginator.update_state(page({"meta": {"more": True}}), [{"uid": 7}])
    paginator.update_request(request)
    assert request.params["after"] == "7"


def test_loop_guard_redacts_secret_cursor() -> None:
    secret = "sk_test_paginationSECRET1"
    global_redactor().add_secret(secret)
    guard = LoopGuard("/v1/x")
    guard.check(f"https://api.example.com/v1/x?token={secret}")
    with pytest.raises(PaginationLoopError) as raised:
        guard.check(f"https://api.example.com/v1/x?token={secret}")
    assert secret not in str(raised.value)


def test_loop_guard_ignores_none() -> None:
    guard = LoopGuard()
    guard.check(None)
    guard.check(None)
    guard.check("a")
    with pytest.raises(PaginationLoopError):
        guard.check("a")


def test_loop_safe_cursor_paginator_detects_repeat() -> None:
    paginator = LoopSafeJSONResponseCursorPaginator(cursor_path="next", cursor_param="cursor")
    request = start(paginator)
    feed(paginator, request, {"data": [1], "next": "c1"})
    assert request.params["cursor"] == "c1"
    feed(paginator, request, {"data": [2], "next": "c2"})
    with pytest.raises(PaginationLoopError, match="'c1'"):
        feed(paginator, request, {"data": [3], "next": "c1"})


def test_loop_safe_cursor_paginator_stops_normally() -> None:
    paginator = LoopSafeJSONResponseCursorPaginator(cursor_path="next")
    request = start(paginator)
    feed(paginator, request, {"data": [1], "next": None})
    assert not paginator.has_next_page


def test_loop_safe_link_paginator_detects_repeat() -> None:
    paginator = LoopSafeJSONLinkPaginator(next_url_path="links.next")
    request = start(paginator)
    feed(paginator, request, {"data": [1], "links": {"next": f"{URL}?page=2"}})
    assert request.url == f"{URL}?page=2"
    with pytest.raises(PaginationLoopError, match="page=2"):
        feed(paginator, request, {"data": [1], "links": {"next": f"{URL}?page=2"}})
