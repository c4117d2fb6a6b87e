"""The ServiceNow client against the sandbox's documented rate-limit headers, over loopback.

Instances send X-RateLimit-Limit, -Reset and -Rule (hourly windows) and Retry-After on a
429, never X-RateLimit-Remaining. Clocks and sleeps are injected: nothing really waits.
"""

from __future__ import annotations

import random
from typing import Any, Optional

import pytest

from sandbox.servicenow import ServiceNowSandbox
from sandbox.servicenow.clock import ManualClock
from sources.kit.connector import build_session
from sources.kit.errors import RateLimitWaitTooLongError
from sources.kit.http import HttpSettings
from sources.servicenow.client import ServiceNowClient, make_auth
from sources.servicenow.helpers import Listing, list_changes
from sources.servicenow.spec import SPEC

HOUR = 3600


class FakeTime:
    """Monotonic clock and sleep that move the sandbox's clock; sleeps are recorded."""

    def __init__(self, sandbox: ServiceNowSandbox) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.sandbox = sandbox

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if seconds > 0:
            self.sandbox.advance(seconds)


def hour_start() -> float:
    """Ten seconds into the current hour: the sandbox's window then resets ~3590 s later."""
    import time

    return (time.time() // HOUR) * HOUR + 10


def client_for(
    sandbox: ServiceNowSandbox, fake: FakeTime, max_wait_s: Optional[float], page_size: int = 10
) -> ServiceNowClient:
    settings = HttpSettings(backoff_base=0.01, backoff_cap=0.05, max_wait_s=max_wait_s)
    session = build_session(
        SPEC,
        base_url=sandbox.base_url,
        settings=settings,
        rate_limit=1000.0,
        clock=fake.clock,
        sleep=fake.sleep,
        rng=random.Random(1),
        wall_clock=sandbox.clock,  # the instance's time: Reset is an epoch on its clock
    )
    auth = make_auth(
        base_url=sandbox.base_url,
        auth_type="basic",
        username=sandbox.username,
        password=sandbox.password,
    )
    return ServiceNowClient(sandbox.base_url, session, auth, page_size=page_size)


def list_all(client: ServiceNowClient) -> list[str]:
    listing = Listing()
    return [r["sys_id"] for page in list_changes(client, "incident", None, listing) for r in page]


def test_limit_and_reset_alone_pace_the_client_below_the_hourly_limit(
    servicenow_sandbox_factory: Any,
) -> None:
    sandbox = servicenow_sandbox_factory(rate_limit=8, clock=ManualClock(hour_start()))
    fake = FakeTime(sandbox)
    client = client_for(sandbox, fake, max_wait_s=None)

    ids = list_all(client)  # 6 pages of 10: within the 8 an hour

    assert len(set(ids)) == 60
    assert sandbox.stats.throttled == 0
    # paced from Limit and Reset: spread over the hour, not 6 requests back to back
    assert sum(fake.sleeps) > 600


def test_a_retry_after_longer_than_max_wait_stops_at_once(
    servicenow_sandbox_factory: Any,
) -> None:
    sandbox = servicenow_sandbox_factory(rate_limit=100, clock=ManualClock(hour_start()))
    sandbox.rate_rule.limit = 2  # another integration spent the hour: the 3rd request is a 429
    fake = FakeTime(sandbox)
    client = client_for(sandbox, fake, max_wait_s=60, page_size=10)
    listing = Listing()
    pages = list_changes(client, "incident", None, listing)

    with pytest.raises(RateLimitWaitTooLongError) as caught:
        for _ in pages:
            pass

    assert sandbox.stats.throttled <= 1  # no 39 minutes of capped retries
    assert sum(fake.sleeps) <= 60
    message = str(caught.value)
    assert "max_wait_s" in message and "run again after" in message
    assert caught.value.retry_at is not None
    assert "\n" not in message


@pytest.mark.parametrize("max_wait_s", [None, 3700.0], ids=["unbounded", "bound-above-hint"])
def test_a_retry_after_within_max_wait_is_waited_for(
    servicenow_sandbox_factory: Any, max_wait_s: Optional[float]
) -> None:
    sandbox = servicenow_sandbox_factory(rate_limit=None)
    sandbox.faults.throttle_next(2, retry_after=30)
    fake = FakeTime(sandbox)
    client = client_for(sandbox, fake, max_wait_s=max_wait_s)

    ids = list_all(client)

    assert len(set(ids)) == 60
    assert sandbox.stats.throttled == 2
    assert sum(1 for s in fake.sleeps if s >= 30) == 2
