"""The one resilient session every resource of a connector's run shares, built from its spec."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterable
from typing import Optional
from urllib.parse import urlparse

from sources.kit.circuit import CircuitRegistry
from sources.kit.http import HttpSettings, ResilientSession
from sources.kit.ratelimit import BudgetReader, RateLimit, RateLimiter
from sources.kit.redact import Redactor, global_redactor
from sources.kit.retry import RetryPolicy

from .spec import ConnectorSpec


def build_session(
    spec: ConnectorSpec,
    *,
    base_url: str,
    settings: HttpSettings,
    rate_limit: Optional[float] = None,
    budget_readers: Iterable[BudgetReader] = (),
    redactor: Optional[Redactor] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: Optional[random.Random] = None,
    wall_clock: Callable[[], float] = time.time,
) -> ResilientSession:
    """Wires limiter, retry policy, breakers and redaction for one connector run.

    Args:
        spec: The connector's declaration (rate-limit groups, retry decider...).
        base_url: API root; its host is the only one credentials are sent to unless
            ``settings.allowed_hosts`` names others.
        settings: Timeouts, retry and breaker settings.
        rate_limit: Requests per second (units per second when the spec declares
            request costs); the spec's default when None. An endpoint group never gets
            more than this.
        budget_readers: Readers of provider budgets (Salesforce's daily API usage).
        redactor: Where secrets are registered; the process-wide one by default.
        clock: Monotonic clock (injected in tests).
        sleep: Sleep function (injected in tests).
        rng: Randomness for jitter (injected in tests).
        wall_clock: Epoch seconds, for date-valued hints (injected in tests).

    Returns:
        The root session; resources use ``session.for_label(name)``.
    """
    if not settings.allowed_hosts:
        settings.allowed_hosts = (urlparse(base_url).hostname or "",)
    if settings.should_retry_header is None and spec.should_retry_header:
        settings.should_retry_header = spec.should_retry_header
    per_second = rate_limit if rate_limit is not None else spec.rate_limit
    rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
    burst = spec.rate_limit_burst
    limiter = RateLimiter(
        default=RateLimit(per_second=per_second, burst=burst),
        groups={
            name: (pattern, RateLimit(per_second=min(limit, per_second), burst=burst))
            for name, (pattern, limit) in spec.rate_limit_groups.items()
        },
        clock=clock,
        sleep=sleep,
        wall_clock=wall_clock,
        budget_readers=list(budget_readers),
        costs=spec.request_costs,
    )
    policy = RetryPolicy.from_settings(settings, rng, wall_clock=wall_clock)
    if spec.retry_decider is not None:
        policy = dataclasses.replace(policy, decider=spec.retry_decider(settings))
    return ResilientSession(
        integration=spec.name,
        settings=settings,
        rate_limiter=limiter,
        breakers=CircuitRegistry(
            failure_threshold=settings.breaker_failure_threshold,
            recovery_timeout=settings.breaker_recovery_timeout,
            clock=clock,
        ),
        retry_policy=policy,
        redactor=redactor or global_redactor(),
        clock=clock,
        sleep=sleep,
        rng=rng,
    )
