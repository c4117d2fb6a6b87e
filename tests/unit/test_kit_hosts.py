"""Host allowlist, origin comparison and credential stripping on redirects."""

from __future__ import annotations

import pytest
import requests

from sources.kit.hosts import (
    carries_credentials,
    host_allowed,
    redirect_target,
    redirected_request,
    same_origin,
    url_without_credentials,
)
from tests.unit._kit_fakes import make_response


def prepared(
    url: str = "https://api.example.com/v1/a",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> requests.PreparedRequest:
    return requests.Request(method, url, headers=headers or {}, data=body).prepare()


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("api.stripe.com", (), True),
        ("api.stripe.com", ("api.stripe.com",), True),
        ("API.Stripe.com", ("api.stripe.com",), True),
        ("evil.com", ("api.stripe.com",), False),
        ("eu.salesforce.com", ("*.salesforce.com",), True),
        ("salesforce.com", ("*.salesforce.com",), True),
        ("evilsalesforce.com", ("*.salesforce.com",), False),
    ],
    ids=["empty", "exact", "case", "other", "wildcard", "wildcard-apex", "suffix-trick"],
)
def test_host_allowed(host: str, allowed: tuple[str, ...], expected: bool) -> None:
    assert host_allowed(host, allowed) is expected


@pytest.mark.parametrize(
    ("old", "new", "same"),
    [
        ("https://a.com/x", "https://a.com/y", True),
        ("https://a.com/x", "https://a.com:443/y", True),
        ("http://a.com/x", "https://a.com/y", True),
        ("https://a.com/x", "http://a.com/y", False),
        ("https://a.com/x", "https://b.com/y", False),
        ("http://127.0.0.1:8000/x", "http://127.0.0.1:8001/x", False),
    ],
    ids=["path", "default-port", "upgrade", "downgrade", "host", "port"],
)
def test_same_origin(old: str, new: str, same: bool) -> None:
    assert same_origin(old, new) is same


@pytest.mark.parametrize(
    ("request_", "carries"),
    [
        (prepared(), False),
        (prepared(headers={"Authorization": "Bearer x"}), True),
        (prepared(headers={"X-Api-Key": "x"}), True),
        (prepared(headers={"Idempotency-Key": "x"}), False),
        (prepared("https://a.com/x?api_key=k"), True),
        (prepared("https://u:p@a.com/x"), True),
    ],
    ids=["clean", "authorization", "api-key-header", "idempotency", "query", "userinfo"],
)
def test_carries_credentials(request_: requests.PreparedRequest, carries: bool) -> None:
    assert carries_credentials(request_) is carries


def test_url_without_credentials() -> None:
    url = "https://u:p@b.com/x?limit=1&token=t&Signature=s&page=2"
    assert url_without_credentials(url) == "https://b.com/x?limit=1&page=2"


def test_redirect_target_resolves_relative_and_scheme_relative() -> None:
    relative = make_response(302, headers={"Location": "/v2/a"}, url="https://a.com/v1/a")
    scheme_rel = make_response(301, headers={"Location": "//b.com/z"}, url="https://a.com/v1/a")
    assert redirect_target(relative) == "https://a.com/v2/a"
    assert redirect_target(scheme_rel) == "https://b.com/z"
    assert redirect_target(make_response(200)) is None


def test_cross_host_redirect_strips_credentials_and_keeps_original() -> None:
    original = prepared(
        "https://a.com/x?api_key=k",
        headers={"Authorization": "Bearer s", "Cookie": "c=1", "X-Trace": "t"},
    )
    response = make_response(307, headers={"Location": "https://b.com/y?token=z&q=1"})
    follow = redirected_request(original, response, "https://b.com/y?token=z&q=1")
    assert follow.url == "https://b.com/y?q=1"
    assert "Authorization" not in follow.headers and "Cookie" not in follow.headers
    assert follow.headers["X-Trace"] == "t"
    assert original.headers["Authorization"] == "Bearer s"


def test_same_host_redirect_keeps_credentials() -> None:
    original = prepared(headers={"Authorization": "Bearer s"})
    response = make_response(302, headers={"Location": "/v1/b"})
    follow = redirected_request(original, response, "https://api.example.com/v1/b")
    assert follow.headers["Authorization"] == "Bearer s"


@pytest.mark.parametrize(
    ("status", "method", "new_method", "keeps_body"),
    [
        (301, "POST", "GET", False),
        (302, "POST", "GET", False),
        (303, "PUT", "GET", False),
        (307, "POST", "POST", True),
        (308, "POST", "POST", True),
        (302, "HEAD", "HEAD", False),
    ],
    ids=["301-post", "302-post", "303-put", "307", "308", "302-head"],
)
def test_redirect_method_and_body_rules(
    status: int, method: str, new_method: str, keeps_body: bool
) -> None:
    original = prepared(method=method, body=b"payload")
    response = make_response(status, headers={"Location": "/next"})
    follow = redirected_request(original, response, "https://api.example.com/next")
    assert follow.method == new_method
    assert (follow.body == b"payload") is keeps_body
    assert ("Content-Length" in follow.headers) is keeps_body
