"""Stripe sandbox building blocks without HTTP: buckets, forms, merging, ids, clocks."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.stripe import SandboxClock, StripeError, StripeSandbox
from sandbox.stripe.forms import parse_query
from sandbox.stripe.generator import add_months
from sandbox.stripe.ids import to_base62
from sandbox.stripe.ratelimit import RateLimiter
from sandbox.stripe.store import merge, previous_attributes


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("limit", [1, 25, 100], ids=str)
def test_a_client_evenly_spaced_at_the_limit_is_never_throttled(limit: int) -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(clock)

    allowed = []
    for _ in range(10 * limit):
        allowed.append(limiter.allow("sk_test_a", limit))
        clock.now += 1 / limit

    assert all(allowed)


def test_a_burst_gets_exactly_the_capacity_then_refills() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(clock)

    burst = [limiter.allow("k", 4) for _ in range(6)]
    clock.now += 1.0
    refilled = [limiter.allow("k", 4) for _ in range(5)]

    assert burst == [True] * 4 + [False] * 2
    assert refilled == [True] * 4 + [False]


@pytest.mark.parametrize("limit", [None, 0], ids=["none", "zero"])
def test_no_limit_means_unlimited(limit: int | None) -> None:
    limiter = RateLimiter(lambda: 0.0)

    assert all(limiter.allow("k", limit) for _ in range(1000))


@pytest.mark.parametrize(
    "query, expected",
    [
        ("metadata[plan]=pro&name=x", {"metadata": {"plan": "pro"}, "name": "x"}),
        ("items[0][price]=p1&items[1][price]=p2", {"items": [{"price": "p1"}, {"price": "p2"}]}),
        ("expand[]=a&expand[]=b", {"expand": ["a", "b"]}),
        ("types[0]=x.y&types[1]=z.*", {"types": ["x.y", "z.*"]}),
        ("created[gte]=1&created[lt]=2", {"created": {"gte": "1", "lt": "2"}}),
        ("description=", {"description": ""}),
    ],
    ids=["hash", "indexed-list", "appended-list", "types", "range", "blank"],
)
def test_bracket_notation(query: str, expected: dict[str, Any]) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize(
    "query",
    ["a=1&a[b]=2", "a[b]=2&a=1", "a]=1"],
    ids=["scalar-then-hash", "hash-then-scalar", "bad-key"],
)
def test_conflicting_or_malformed_keys_are_400s(query: str) -> None:
    with pytest.raises(StripeError) as error:
        parse_query(query)
    assert error.value.status == 400


def test_merge_follows_stripe_update_rules() -> None:
    old = {
        "metadata": {"a": "1", "b": "2"},
        "address": {"city": "Paris", "line1": "1 Rue"},
        "items": {"object": "list", "data": [1]},
        "name": "x",
    }
    changes = {
        "metadata": {"a": "", "c": "3"},
        "address": {"city": "Lyon"},
        "items": {"object": "list", "data": [2]},
    }

    new = merge(old, changes)

    assert new == {
        "metadata": {"b": "2", "c": "3"},
        "address": {"city": "Lyon", "line1": "1 Rue"},
        "items": {"object": "list", "data": [2]},
        "name": "x",
    }
    assert old["metadata"] == {"a": "1", "b": "2"}  # never mutated in place
    assert previous_attributes(old, new) == {
        "address": {"city": "Paris"},
        "items": {"data": [1]},
        "metadata": {"a": "1", "c": None},
    }


def test_base62_encoding_sorts_like_numbers() -> None:
    values = [0, 61, 62, 1_700_000_000, 1_800_000_000]

    encoded = [to_base62(v, 6) for v in values]

    assert encoded == sorted(encoded)
    assert to_base62(61, 2) == "0z"


@pytest.mark.parametrize(
    "start, months, expected",
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2025-11-15", 3, "2026-02-15"),
        ("2026-03-01", 12, "2027-03-01"),
    ],
    ids=["clamp-to-month-end", "across-year", "yearly"],
)
def test_add_months(start: str, months: int, expected: str) -> None:
    import datetime as dt

    def ts(day: str) -> int:
        return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp())

    assert add_months(ts(start), months) == ts(expected)


def test_sandbox_clock_moves_only_forward() -> None:
    clock = SandboxClock(1_000.0)

    clock.advance(5)

    assert clock() == 1_005.0
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_advance_needs_a_sandbox_clock() -> None:
    sandbox = StripeSandbox(volume=1)

    with pytest.raises(TypeError, match="SandboxClock"):
        sandbox.advance(10)


def test_base_url_needs_a_started_sandbox() -> None:
    sandbox = StripeSandbox(volume=1)

    with pytest.raises(RuntimeError, match="not started"):
        _ = sandbox.base_url


def test_sandbox_restarts_and_closes_keep_alive_connections() -> None:
    import requests

    sandbox = StripeSandbox(volume=2, rate_limit=0)
    session = requests.Session()
    with sandbox:
        url = sandbox.base_url
        assert session.get(f"{url}/v1/coupons", auth=(sandbox.api_key, ""), timeout=5).ok
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/v1/coupons", auth=(sandbox.api_key, ""), timeout=5)
    with sandbox:
        assert session.get(
            f"{sandbox.base_url}/v1/coupons", auth=(sandbox.api_key, ""), timeout=5
        ).ok
