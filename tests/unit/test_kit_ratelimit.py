"""Token bucket spacing, endpoint groups and adaptive pacing."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from sources.kit.errors import ConfigurationError
from sources.kit.ratelimit import (
    AdaptiveSettings,
    RateLimit,
    RateLimiter,
    SalesforceLimitInfoReader,
    TokenBucket,
)
from tests.unit._kit_fakes import FakeClock, make_response

NOW_WALL = 1_700_000_000.0
SEARCH = "/v1/customers/search"
FILES = "/v1/files/file_1"
PLAIN = "/v1/customers"


def wall() -> float:
    return NOW_WALL


def stripe_like(clock: FakeClock, **kwargs: object) -> RateLimiter:
    return RateLimiter(
        default=RateLimit(per_second=25),
        groups={
            "search": (r"^/v1/[^/]+/search", RateLimit(per_second=20)),
            "files": (r"^/v1/files", RateLimit(per_second=20)),
        },
        clock=clock,
        sleep=clock.sleep,
        wall_clock=wall,
        **kwargs,  # type: ignore[arg-type]
    )


# -- TokenBucket ----------------------------------------------------------------------


def test_bucket_spaces_sequential_acquires_evenly() -> None:
    clock = FakeClock()
    bucket = TokenBucket(25, 1, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.04, 0.04, 0.04])
    assert clock.now == pytest.approx(1000.12)


def test_bucket_allows_burst_then_spaces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 3, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.1])


def test_bucket_refills_while_idle() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 2, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.acquire()
    clock.advance(5.0)
    assert [bucket.acquire(), bucket.acquire()] == [0.0, 0.0]


def test_try_acquire_never_waits_or_reserves() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 1, clock=clock, sleep=clock.sleep)
    assert bucket.try_acquire() is True
    assert bucket.try_acquire() is False
    clock.advance(0.1)
    assert bucket.try_acquire() is True
    assert clock.sleeps == []


def test_concurrent_acquirers_each_reserve_their_own_slot() -> None:
    clock = FakeClock()
    recorded: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            recorded.append(seconds)

    bucket = TokenBucket(25, 1, clock=clock, sleep=record)
    threads = [threading.Thread(target=bucket.acquire) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slots = sorted([0.0, *recorded])
    assert slots == pytest.approx([i * 0.04 for i in range(40)])


def test_threads_with_latency_sustain_but_never_exceed_the_rate() -> None:
    rate, threads_n, per_thread, latency = 400.0, 8, 10, 0.002
    bucket = TokenBucket(rate, 1)
    sent: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(per_thread):
            bucket.acquire()
            with lock:
                sent.append(time.monotonic())
            time.sleep(latency)

    workers = [threading.Thread(target=worker) for _ in range(threads_n)]
    started = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    total = threads_n * per_thread
    assert elapsed >= (total - 1) / rate
    assert elapsed < total / rate * 4
    sent.sort()
    window = 0.05
    worst = max(sum(1 for t in sent if start <= t < start + window) for start in sent)
    # each thread holds at most one slot it has not used yet, so bunching is bounded
    assert worst <= window * rate + 1 + threads_n


def test_pause_until_holds_back_new_slots() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 1, clock=clock, sleep=clock.sleep)
    bucket.pause_until(clock.now + 3.0)
    assert bucket.acquire() == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("kwargs",),
    [
        ({"per_second": 0},),
        ({"per_second": 5, "burst": 0},),
        ({"per_second": 5, "target_share": 1.5},),
    ],
    ids=["zero-rate", "zero-burst", "share-above-one"],
)
def test_rate_limit_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        RateLimit(**kwargs)  # type: ignore[arg-type]


def test_target_share_lowers_the_paced_rate() -> None:
    limiter = RateLimiter(RateLimit(per_second=20, target_share=0.8), clock=FakeClock())
    assert limiter.current_rate() == pytest.approx(16.0)


# -- groups ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "group"),
    [(SEARCH, "search"), ("/v1/charges/search", "search"), (FILES, "files"), (PLAIN, "default")],
    ids=["customer-search", "charge-search", "files", "plain"],
)
def test_group_for_path(path: str, group: str) -> None:
    assert stripe_like(FakeClock()).group_for(path) == group


def test_grouped_request_consumes_group_and_default_buckets() -> None:
    clock = FakeClock()
    limiter = stripe_like(clock)
    assert limiter.acquire(SEARCH) == 0.0
    assert limiter.acquire(PLAIN) == pytest.approx(0.04)
    # search slot at +0.05, then the default bucket's next slot at +0.08
    assert limiter.acquire(SEARCH) == pytest.approx(0.04)
    assert clock.now == pytest.approx(1000.08)
    assert limiter.throttle_wait_s == pytest.approx(0.08)


def test_groups_do_not_slow_each_other() -> None:
    clock = FakeClock()
    limiter = stripe_like(clock, adaptive=AdaptiveSettings())
    limiter.observe(SEARCH, make_response(429, headers={"Retry-After": "5"}))
    assert limiter.acquire(FILES) == 0.0
    assert limiter.acquire(SEARCH) == pytest.approx(5.0)


def test_default_group_name_is_reserved() -> None:
    with pytest.raises(ConfigurationError, match="reserved"):
        RateLimiter(RateLimit(5), groups={"default": ("x", RateLimit(1))})


# -- adaptation -----------------------------------------------------------------------


def test_retry_after_pauses_the_group() -> None:
    clock = FakeClock()
    limiter = stripe_like(clock)
    limiter.observe(PLAIN, make_response(429, headers={"Retry-After": "2"}))
    assert limiter.acquire(PLAIN) == pytest.approx(2.0)
    assert limiter.current_rate() == 25.0


def test_http_date_retry_after_pauses_until_then() -> None:
    clock = FakeClock()
    limiter = stripe_like(clock)
    limiter.observe(
        PLAIN, make_response(503, headers={"Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"})
    )
    assert limiter.acquire(PLAIN) == pytest.approx(10.0)


def test_429_without_hint_decreases_multiplicatively_with_cooldown_and_floor() -> None:
    clock = FakeClock()
    limiter = stripe_like(clock)
    limiter.observe(PLAIN, make_response(429))
    assert limiter.current_rate() == pytest.approx(17.5)
    limiter.observe(PLAIN, make_response(429))
    assert limiter.current_rate() == pytest.approx(17.5)
    rates = []
    for _ in range(12):
        clock.advance(1.5)
        limiter.observe(PLAIN, make_response(429))
        rates.append(limiter.current_rate())
    assert rates[0] == pytest.approx(12.25)
    assert min(rates) == pytest.approx(2.5)
    assert limiter.current_rate("search") == 20.0


def test_successes_increase_rate_additively_back_to_configured() -> None:
    clock = FakeClock()
    limiter = stripe_like(clock, adaptive=AdaptiveSettings(increase_after=5, increase_share=0.1))
    limiter.observe(PLAIN, make_response(429))
    assert limiter.current_rate() == pytest.approx(17.5)
    for _ in range(4):
        limiter.observe(PLAIN, make_response(200))
    assert limiter.current_rate() == pytest.approx(17.5)
    limiter.observe(PLAIN, make_response(200))
    assert limiter.current_rate() == pytest.approx(20.0)
    for _ in range(50):
        limiter.observe(PLAIN, make_response(200))
    assert limiter.current_rate() == pytest.approx(25.0)


def test_decreased_rate_spaces_requests_wider() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(10), clock=clock, sleep=clock.sleep, wall_clock=wall)
    limiter.observe(PLAIN, make_response(429))
    limiter.acquire(PLAIN)
    assert limiter.acquire(PLAIN) == pytest.approx(1 / 7.0)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "10", "X-RateLimit-Reset": "20"},
        {"RateLimit-Limit": "100", "RateLimit-Remaining": "10", "RateLimit-Reset": "20"},
        {"RateLimit": "limit=100, remaining=10, reset=20"},
        {"RateLimit": '"p";r=10;t=20', "RateLimit-Policy": '"p";q=100;w=60'},
        {"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": str(int(NOW_WALL + 20))},
    ],
    ids=["x-ratelimit", "ietf", "ietf-combined", "structured", "epoch-reset"],
)
def test_nearly_spent_window_spreads_remaining_until_reset(headers: dict[str, str]) -> None:
    clock = FakeClock()
    limiter = stripe_like(clock)
    limiter.observe(PLAIN, make_response(200, headers=headers))
    assert limiter.current_rate() == pytest.approx(0.5)
    clock.advance(21)
    assert limiter.current_rate() == 25.0


def test_plenty_left_in_window_keeps_configured_rate() -> None:
    clock = FakeClock()
    limiter = stripe_like(clock)
    headers = {"X-RateLimit-Remaining": "900", "X-RateLimit-Reset": "10"}
    limiter.observe(PLAIN, make_response(200, headers=headers))
    assert limiter.current_rate() == 25.0


def test_spent_window_pauses_until_reset_without_aimd() -> None:
    clock = FakeClock()
    limiter = stripe_like(clock)
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4"}
    limiter.observe(PLAIN, make_response(429, headers=headers))
    assert limiter.current_rate() == 25.0
    assert limiter.acquire(PLAIN) == pytest.approx(4.0)


def test_salesforce_budget_slows_to_trickle_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    reader = SalesforceLimitInfoReader(threshold_share=0.9, trickle_per_second=0.5)
    limiter = stripe_like(clock, budget_readers=[reader])
    high = {"Sforce-Limit-Info": "api-usage=4600/5000"}
    with caplog.at_level(logging.WARNING, logger="sluice.ratelimit"):
        limiter.observe(PLAIN, make_response(200, headers=high))
        limiter.observe(SEARCH, make_response(200, headers=high))
    assert limiter.current_rate() == 0.5
    warnings = [r for r in caplog.records if "salesforce api-usage" in r.getMessage()]
    assert len(warnings) == 1
    assert "92%" in warnings[0].getMessage()
    limiter.observe(PLAIN, make_response(200, headers={"Sforce-Limit-Info": "api-usage=10/5000"}))
    assert limiter.current_rate() == 25.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("api-usage=18/5000", (18.0, 5000.0)),
        ("api-usage=18/5000, per-app-api-usage=17/250(appName=x)", (18.0, 5000.0)),
        ("per-app-api-usage=17/250(appName=x)", None),
        ("garbage", None),
    ],
    ids=["plain", "with-per-app", "per-app-only", "garbage"],
)
def test_salesforce_reader_parses_header(header: str, expected: tuple[float, float] | None) -> None:
    usage = SalesforceLimitInfoReader().read(
        make_response(200, headers={"Sforce-Limit-Info": header})
    )
    assert (None if usage is None else (usage.used, usage.limit)) == expected


def test_snapshot_reports_rates_and_wait() -> None:
    clock = FakeClock()
    limiter = stripe_like(clock)
    limiter.acquire(PLAIN)
    limiter.acquire(PLAIN)
    snapshot = limiter.snapshot()
    assert snapshot["throttle_wait_s"] == pytest.approx(0.04)
    assert snapshot["rates"] == {"default": 25.0, "search": 20.0, "files": 20.0}
