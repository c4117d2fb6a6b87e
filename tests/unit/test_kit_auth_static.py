"""API key, bearer and Basic auth: where the credential goes, and that it stays secret."""

from __future__ import annotations

import base64

import pytest
import requests
from requests.auth import AuthBase

from sources.kit.auth import ApiKeyAuth, BasicAuth, BearerAuth
from sources.kit.errors import ConfigurationError
from sources.kit.redact import global_redactor

KEY = "key-static-unit-0001"


def prepare(
    auth: AuthBase, url: str = "https://api.example.com/v1/x?a=1%202"
) -> requests.PreparedRequest:
    return requests.Request("GET", url, auth=auth).prepare()


def test_api_key_goes_in_the_named_header() -> None:
    request = prepare(ApiKeyAuth(KEY, name="X-Api-Token"))

    assert request.headers["X-Api-Token"] == KEY
    assert request.url == "https://api.example.com/v1/x?a=1%202"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.example.com/v1/x?a=1%202",
            f"https://api.example.com/v1/x?a=1%202&api_key={KEY}",
        ),
        ("https://api.example.com/v1/x", f"https://api.example.com/v1/x?api_key={KEY}"),
        (
            "https://api.example.com/v1/x?api_key=old&b=2",
            f"https://api.example.com/v1/x?b=2&api_key={KEY}",
        ),
    ],
    ids=["keeps-other-params", "no-query", "replaces-old-value"],
)
def test_api_key_in_query(url: str, expected: str) -> None:
    request = prepare(ApiKeyAuth(KEY, name="api_key", location="query"), url)

    assert request.url == expected


def test_bearer_sets_authorization() -> None:
    assert prepare(BearerAuth(KEY)).headers["Authorization"] == f"Bearer {KEY}"


def test_basic_with_stripe_style_secret_key_and_empty_password() -> None:
    request = prepare(BasicAuth("sk_test_static0001"))

    scheme, encoded = request.headers["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded) == b"sk_test_static0001:"


@pytest.mark.parametrize(
    "factory",
    [
        lambda: ApiKeyAuth(""),
        lambda: ApiKeyAuth(KEY, name=""),
        lambda: ApiKeyAuth(KEY, location="cookie"),
        lambda: BearerAuth(""),
        lambda: BasicAuth(""),
    ],
    ids=["empty-key", "empty-name", "bad-location", "empty-token", "empty-username"],
)
def test_bad_configuration_is_refused(factory: object) -> None:
    with pytest.raises(ConfigurationError):
        factory()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("auth", "secrets"),
    [
        (ApiKeyAuth("key-repr-0001"), ["key-repr-0001"]),
        (BearerAuth("token-repr-0001"), ["token-repr-0001"]),
        (BasicAuth("user-repr-0001", "pass-repr-0001"), ["user-repr-0001", "pass-repr-0001"]),
    ],
    ids=["api-key", "bearer", "basic"],
)
def test_secrets_are_not_in_repr_and_are_registered_for_redaction(
    auth: AuthBase, secrets: list[str]
) -> None:
    text = repr(auth) + str(auth)

    for secret in secrets:
        assert secret not in text
        assert secret not in global_redactor().redact_text(f"leak {secret} here")
