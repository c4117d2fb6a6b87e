"""HTTP counters: increments, parents, merge, thread safety."""

from __future__ import annotations

import threading

import pytest

from sources.kit.stats import HttpStats


def test_increment_reaches_parent() -> None:
    total = HttpStats()
    child = HttpStats(parent=total)
    child.increment("requests")
    child.increment("rate_limit_wait_s", 0.25)
    assert (child.requests, total.requests) == (1, 1)
    assert total.rate_limit_wait_s == 0.25


def test_unknown_counter_is_rejected() -> None:
    with pytest.raises(KeyError, match="unknown HTTP counter"):
        HttpStats().increment("nope")


def test_snapshot_lists_every_counter() -> None:
    assert set(HttpStats().snapshot()) == {
        "requests",
        "retries",
        "throttled_429",
        "server_errors",
        "client_errors",
        "connection_errors",
        "timeouts",
        "circuit_trips",
        "rate_limit_wait_s",
        "bytes_received",
    }


@pytest.mark.parametrize(
    "other",
    [
        HttpStats(requests=3, retries=1),
        {"requests": 3, "retries": 1, "unknown": 9},
    ],
    ids=["stats", "snapshot-dict"],
)
def test_merge_adds_counts(other: HttpStats | dict[str, int]) -> None:
    stats = HttpStats(requests=2)
    stats.merge(other)
    assert (stats.requests, stats.retries) == (5, 1)


def test_increments_are_thread_safe() -> None:
    total = HttpStats()
    children = [HttpStats(parent=total) for _ in range(4)]

    def work(stats: HttpStats) -> None:
        for _ in range(2000):
            stats.increment("requests")

    threads = [threading.Thread(target=work, args=(c,)) for c in children for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert total.requests == 16000
    assert [c.requests for c in children] == [4000] * 4
