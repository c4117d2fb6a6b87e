"""Circuit breaker states, trips and the per-host registry."""

from __future__ import annotations

import pytest

from sources.kit.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitRegistry
from sources.kit.errors import CircuitOpenError
from tests.unit._kit_fakes import FakeClock


def breaker(clock: FakeClock, threshold: int = 3, half_open_max_calls: int = 1) -> CircuitBreaker:
    return CircuitBreaker(
        "stripe api.stripe.com",
        failure_threshold=threshold,
        recovery_timeout=30.0,
        half_open_max_calls=half_open_max_calls,
        clock=clock,
    )


def trip(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        b.before_call()
        b.record_failure()


def test_opens_after_threshold_consecutive_failures() -> None:
    b = breaker(FakeClock())
    trip(b, 2)
    assert b.state == CLOSED
    b.before_call()
    assert b.record_failure() is True
    assert (b.state, b.trips) == (OPEN, 1)


def test_success_resets_the_consecutive_count() -> None:
    b = breaker(FakeClock())
    trip(b, 2)
    b.record_success()
    trip(b, 2)
    assert b.state == CLOSED
    assert b.consecutive_failures == 2


def test_open_breaker_refuses_with_one_line_message() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 3)
    clock.advance(10)
    with pytest.raises(CircuitOpenError) as raised:
        b.before_call()
    message = str(raised.value)
    assert "\n" not in message
    assert "stripe api.stripe.com" in message
    assert "3 consecutive failure(s)" in message
    assert "try again in 20.0 s" in message


def test_half_open_after_recovery_timeout_allows_limited_trials() -> None:
    clock = FakeClock()
    b = breaker(clock, half_open_max_calls=1)
    trip(b, 3)
    clock.advance(30)
    assert b.state == HALF_OPEN
    b.before_call()
    with pytest.raises(CircuitOpenError, match="trial call is in progress"):
        b.before_call()


def test_trial_success_closes() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 3)
    clock.advance(30)
    b.before_call()
    b.record_success()
    assert b.state == CLOSED
    b.before_call()


def test_trial_failure_reopens_and_counts_a_trip() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 3)
    clock.advance(30)
    b.before_call()
    assert b.record_failure() is True
    assert (b.state, b.trips) == (OPEN, 2)


def test_release_frees_a_trial_slot() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 3)
    clock.advance(30)
    b.before_call()
    b.release()
    b.before_call()
    assert b.state == HALF_OPEN


def test_late_success_does_not_close_an_open_circuit() -> None:
    b = breaker(FakeClock())
    trip(b, 3)
    b.record_success()
    assert b.state == OPEN


def test_raise_if_open() -> None:
    b = breaker(FakeClock())
    b.raise_if_open()
    trip(b, 3)
    with pytest.raises(CircuitOpenError):
        b.raise_if_open()


def test_snapshot() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 3)
    clock.advance(5)
    assert b.snapshot() == {
        "name": "stripe api.stripe.com",
        "state": OPEN,
        "consecutive_failures": 3,
        "trips": 1,
        "retry_in_s": 25.0,
    }


def test_registry_shares_one_breaker_per_integration_and_host() -> None:
    registry = CircuitRegistry(failure_threshold=2, recovery_timeout=5.0, clock=FakeClock())
    first = registry.get("stripe", "api.stripe.com")
    assert registry.get("stripe", "API.stripe.com") is first
    assert registry.get("stripe", "files.stripe.com") is not first
    assert registry.get("slack", "api.stripe.com") is not first
    trip(first, 2)
    assert registry.trips == 1
    states = {(s["integration"], s["host"]): s["state"] for s in registry.snapshot()}
    assert states == {
        ("stripe", "api.stripe.com"): OPEN,
        ("stripe", "files.stripe.com"): CLOSED,
        ("slack", "api.stripe.com"): CLOSED,
    }
