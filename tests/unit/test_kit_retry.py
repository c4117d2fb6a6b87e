"""Retry decisions, backoff schedule, jitter, budget and policy."""

from __future__ import annotations

import http.client
import random
import ssl
import threading

import pytest
import requests
from requests.exceptions import ChunkedEncodingError
from urllib3.exceptions import ProtocolError

from sources.kit.errors import ConfigurationError
from sources.kit.retry import (
    BackoffSchedule,
    Jitter,
    RetryBudget,
    RetryDecider,
    RetryPolicy,
    is_transient_exception,
)
from sources.kit.settings import HttpSettings
from tests.unit._kit_fakes import make_response

NOW = 1_700_000_000.0


def wall() -> float:
    return NOW


STRIPE = RetryDecider(should_retry_header="Stripe-Should-Retry")


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (422, False),
        (200, False),
    ],
    ids=lambda v: str(v),
)
def test_status_decisions_for_get(status: int, retried: bool) -> None:
    assert RetryDecider().should_retry("GET", make_response(status), None, False) is retried


@pytest.mark.parametrize(
    ("status", "header", "retried"),
    [
        (500, "false", False),
        (503, "FALSE", False),
        (409, "true", True),
        (400, "true", True),
        (429, "false", False),
        (500, "maybe", True),
        (409, None, False),
    ],
    ids=[
        "5xx-false",
        "5xx-false-upper",
        "409-true",
        "400-true",
        "429-false",
        "garbage",
        "409-none",
    ],
)
def test_should_retry_header_overrides_status(
    status: int, header: str | None, retried: bool
) -> None:
    headers = {"Stripe-Should-Retry": header} if header is not None else {}
    response = make_response(status, headers=headers)
    assert STRIPE.should_retry("GET", response, None, False) is retried


def test_should_retry_header_ignored_when_not_configured() -> None:
    response = make_response(500, headers={"Stripe-Should-Retry": "false"})
    assert RetryDecider().should_retry("GET", response, None, False) is True


@pytest.mark.parametrize(
    ("method", "has_key", "retried"),
    [
        ("POST", False, False),
        ("PATCH", False, False),
        ("POST", True, True),
        ("patch", True, True),
        ("PUT", False, True),
        ("DELETE", False, True),
    ],
    ids=["post-no-key", "patch-no-key", "post-key", "patch-lower-key", "put", "delete"],
)
def test_non_idempotent_methods_need_a_key(method: str, has_key: bool, retried: bool) -> None:
    assert RetryDecider().should_retry(method, make_response(503), None, has_key) is retried


def _wrapped_remote_disconnected() -> requests.ConnectionError:
    inner = http.client.RemoteDisconnected("Remote end closed connection without response")
    return requests.ConnectionError(ProtocolError("Connection aborted.", inner))


def _wrapped_cert_failure() -> requests.ConnectionError:
    return requests.exceptions.SSLError(ssl.SSLCertVerificationError("certificate verify failed"))


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (requests.ConnectionError("refused"), True),
        (requests.Timeout("slow"), True),
        (requests.ReadTimeout("slow read"), True),
        (ChunkedEncodingError("dropped mid-body"), True),
        (_wrapped_remote_disconnected(), True),
        (http.client.RemoteDisconnected("bare"), True),
        (ConnectionResetError("reset"), True),
        (_wrapped_cert_failure(), False),
        (requests.exceptions.InvalidURL("bad"), False),
        (ValueError("bug"), False),
    ],
    ids=[
        "connection",
        "timeout",
        "read-timeout",
        "chunked",
        "wrapped-remote-disconnected",
        "remote-disconnected",
        "reset",
        "cert",
        "invalid-url",
        "bug",
    ],
)
def test_transient_exceptions(exc: BaseException, transient: bool) -> None:
    assert is_transient_exception(exc) is transient
    assert RetryDecider().should_retry("GET", None, exc, False) is transient


def test_connection_error_on_post_without_key_is_not_retried() -> None:
    assert not RetryDecider().should_retry("POST", None, requests.ConnectionError(), False)


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (7, 30.0), (200, 30.0), (0, 0.5)],
    ids=["1", "2", "3", "4", "capped", "huge", "zero"],
)
def test_exponential_backoff_is_capped(attempt: int, expected: float) -> None:
    schedule = BackoffSchedule(base=0.5, cap=30.0, wall_clock=wall)
    assert schedule.delay(attempt, None) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"}, 10.0),
        ({"Retry-After": "100000"}, 300.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "12"}, 12.0),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(NOW + 20))}, 20.0),
        ({"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "12"}, 1.0),
        ({}, 1.0),
    ],
    ids=["seconds", "http-date", "capped", "reset-delta", "reset-epoch", "remaining", "none"],
)
def test_server_hint_first(headers: dict[str, str], expected: float) -> None:
    schedule = BackoffSchedule(base=0.5, cap=30.0, max_hint=300.0, wall_clock=wall)
    assert schedule.delay(2, make_response(429, headers=headers)) == pytest.approx(expected)


def test_hint_cap_is_configurable() -> None:
    schedule = BackoffSchedule(max_hint=5.0, wall_clock=wall)
    assert schedule.delay(1, make_response(429, headers={"Retry-After": "60"})) == 5.0


@pytest.mark.parametrize(
    ("strategy", "low", "high"),
    [("full", 0.0, 8.0), ("equal", 4.0, 8.0), ("none", 8.0, 8.0)],
    ids=["full", "equal", "none"],
)
def test_jitter_bounds(strategy: str, low: float, high: float) -> None:
    jitter = Jitter(strategy, random.Random(7))
    values = [jitter.apply(8.0) for _ in range(500)]
    assert low <= min(values) and max(values) <= high
    if strategy != "none":
        assert max(values) - min(values) > (high - low) / 2


def test_jitter_is_deterministic_with_seeded_rng() -> None:
    first = [Jitter("full", random.Random(3)).apply(10.0) for _ in range(3)]
    second = [Jitter("full", random.Random(3)).apply(10.0) for _ in range(3)]
    assert first == second


@pytest.mark.parametrize("strategy", ["full", "equal"], ids=["full", "equal"])
def test_hints_are_only_lengthened(strategy: str) -> None:
    jitter = Jitter(strategy, random.Random(1))
    values = [jitter.apply_to_hint(5.0) for _ in range(200)]
    assert min(values) >= 5.0
    assert max(values) <= 5.5


def test_hint_without_jitter_is_exact() -> None:
    assert Jitter("none", random.Random(1)).apply_to_hint(5.0) == 5.0


def test_unknown_jitter_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown jitter"):
        Jitter("sometimes")


def test_budget_is_spent_then_exhausted() -> None:
    budget = RetryBudget(2)
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]
    assert (budget.spent, budget.remaining) == (2, 0)


def test_budget_is_thread_safe() -> None:
    budget = RetryBudget(1000)
    granted: list[bool] = []
    lock = threading.Lock()

    def spend() -> None:
        for _ in range(200):
            ok = budget.try_spend()
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 1000
    assert budget.spent == 1000


def test_policy_from_settings() -> None:
    settings = HttpSettings(
        max_attempts=3,
        backoff_base=1.0,
        backoff_cap=4.0,
        retry_budget=9,
        jitter="none",
        idempotency_header="X-Idem",
        should_retry_header="Stripe-Should-Retry",
    )
    policy = RetryPolicy.from_settings(settings, random.Random(0), wall_clock=wall)
    assert policy.max_attempts == 3
    assert policy.budget.max_retries == 9
    assert policy.decider == RetryDecider("X-Idem", "Stripe-Should-Retry")
    assert [policy.wait_before_retry(n, None) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 4.0]


def test_policy_prefers_hint_and_jitters_it_upwards() -> None:
    policy = RetryPolicy(
        schedule=BackoffSchedule(wall_clock=wall), jitter=Jitter("full", random.Random(5))
    )
    wait = policy.wait_before_retry(1, make_response(429, headers={"Retry-After": "3"}))
    assert 3.0 <= wait <= 3.3
