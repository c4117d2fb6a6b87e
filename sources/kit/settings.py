"""HTTP settings every connector tunes: timeouts, retries, breaker, pool, hosts.

Re-exported by :mod:`sources.kit.http`; kept apart so :mod:`sources.kit.retry` can
build a policy from it without importing the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import ConfigurationError

JITTER_STRATEGIES = ("full", "equal", "none")


@dataclass
class HttpSettings:
    """How a source's HTTP session behaves.

    Attributes:
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait between bytes of the response.
        max_attempts: Attempts per request, the first included.
        backoff_base: First exponential backoff delay in seconds.
        backoff_cap: Largest exponential backoff delay in seconds.
        retry_budget: Retries allowed across the whole run (all resources, all threads).
        jitter: ``full``, ``equal`` or ``none``.
        idempotency_header: Header carrying the idempotency key of POST/PATCH requests.
        should_retry_header: Header by which the server says whether to retry
            (``Stripe-Should-Retry``); None when the API has none.
        user_agent: ``User-Agent`` sent with every request.
        allowed_hosts: Hosts credentials may be sent to (``*.example.com`` matches
            subdomains); empty allows any host.
        breaker_failure_threshold: Consecutive failures that open the circuit.
        breaker_recovery_timeout: Seconds the circuit stays open before a trial call.
        pool_maxsize: Connections kept per host.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_budget: int = 1000
    jitter: str = "full"
    idempotency_header: str = "Idempotency-Key"
    should_retry_header: Optional[str] = None
    user_agent: str = "sluice/0.1"
    allowed_hosts: tuple[str, ...] = ()
    breaker_failure_threshold: int = 5
    breaker_recovery_timeout: float = 30.0
    pool_maxsize: int = 32

    def __post_init__(self) -> None:
        if self.jitter not in JITTER_STRATEGIES:
            raise ConfigurationError(
                f"unknown jitter strategy {self.jitter!r}: "
                f"use one of {', '.join(JITTER_STRATEGIES)}"
            )
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        if min(self.connect_timeout, self.read_timeout) <= 0:
            raise ConfigurationError("connect_timeout and read_timeout must be positive")
        if self.backoff_base < 0 or self.backoff_cap < 0 or self.retry_budget < 0:
            raise ConfigurationError("backoff_base, backoff_cap and retry_budget must be >= 0")
        if self.breaker_failure_threshold < 1 or self.pool_maxsize < 1:
            raise ConfigurationError("breaker_failure_threshold and pool_maxsize must be >= 1")
        self.allowed_hosts = tuple(self.allowed_hosts)

    @property
    def timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout passed to requests."""
        return (self.connect_timeout, self.read_timeout)
