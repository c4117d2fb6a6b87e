"""Parsing of Retry-After and rate-limit headers."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

from sources.kit.hints import (
    RateLimitInfo,
    parse_reset,
    parse_retry_after,
    rate_limit_info,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Tue, 14 Nov 2023 22:13:40 GMT", 20.0),
        ("Tue, 14 Nov 2023 22:12:00 GMT", 0.0),
        ("soon", None),
        (None, None),
        ("", None),
    ],
    ids=["int", "zero", "float", "negative", "http-date", "past-date", "garbage", "none", "empty"],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        (str(int(NOW + 42)), 42.0),
        (str(int((NOW + 7) * 1000)), 7.0),
        (str(int(NOW - 10)), 0.0),
        ("x", None),
    ],
    ids=["delta", "epoch-seconds", "epoch-millis", "epoch-past", "garbage"],
)
def test_parse_reset(value: str, expected: float | None) -> None:
    result = parse_reset(value, NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "12"},
            RateLimitInfo(100, 0, 12),
        ),
        (
            {"RateLimit-Limit": "50", "RateLimit-Remaining": "5", "RateLimit-Reset": "10"},
            RateLimitInfo(50, 5, 10),
        ),
        (
            {"RateLimit": "limit=100, remaining=3, reset=9"},
            RateLimitInfo(100, 3, 9),
        ),
        (
            {"RateLimit": '"default";r=4;t=8', "RateLimit-Policy": '"default";q=60;w=60'},
            RateLimitInfo(60, 4, 8),
        ),
        (
            {"RateLimit": "remaining=1, reset=2", "RateLimit-Policy": "10;w=1"},
            RateLimitInfo(10, 1, 2),
        ),
        ({"Content-Type": "application/json"}, None),
    ],
    ids=["x-prefixed", "ietf-split", "ietf-combined", "structured-fields", "policy-bare", "none"],
)
def test_rate_limit_info_families(headers: dict[str, str], expected: RateLimitInfo | None) -> None:
    assert rate_limit_info(CaseInsensitiveDict(headers), NOW) == expected


def test_exhausted_needs_zero_remaining_and_reset() -> None:
    assert RateLimitInfo(10, 0, 5).exhausted
    assert not RateLimitInfo(10, 1, 5).exhausted
    assert not RateLimitInfo(10, 0, None).exhausted
