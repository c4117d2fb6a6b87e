"""Retry, split in its parts: whether to retry, how long to wait, and how many retries.

* :class:`RetryDecider` - is this outcome worth another attempt?
* :class:`BackoffSchedule` - the server's hint, else capped exponential backoff.
* :class:`Jitter` - spreads retries so clients do not retry in lockstep.
* :class:`RetryBudget` - retries left for the whole run.
* :class:`RetryPolicy` - the four together, plus ``max_attempts``.
"""

from __future__ import annotations

import http.client
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Optional

import requests
from requests import Response
from requests.exceptions import ChunkedEncodingError
from urllib3.exceptions import ProtocolError

from .errors import ConfigurationError
from .hints import rate_limit_info, retry_after_seconds
from .settings import JITTER_STRATEGIES, HttpSettings

logger = logging.getLogger("sluice.retry")

NON_IDEMPOTENT_METHODS = frozenset({"POST", "PATCH"})
CONFLICT = 409
TOO_MANY_REQUESTS = 429

TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    ChunkedEncodingError,
    ProtocolError,
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    ConnectionResetError,
    ConnectionAbortedError,
    TimeoutError,
)
"""Failures of the connection itself: the same request may well succeed next time."""

PERMANENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    ssl.SSLCertVerificationError,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
)
"""Failures no retry can fix, even when wrapped in a connection error."""

MAX_CAUSE_DEPTH = 8


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """Yields ``exc`` and what it wraps (``__cause__``, ``__context__``, exception args)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(seen) < MAX_CAUSE_DEPTH:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__]
        wrapped.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            wrapped.append(reason)
        pending.extend(w for w in wrapped if w is not None)


def is_transient_exception(exc: BaseException) -> bool:
    """Tells whether an exception is a connection failure worth retrying.

    Connection errors, timeouts, dropped connections (also when wrapped, as requests
    wraps ``RemoteDisconnected``) count; certificate failures and bad URLs do not.

    Args:
        exc: What the send raised.

    Returns:
        True when another attempt may succeed.
    """
    chain = list(exception_chain(exc))
    if any(isinstance(e, PERMANENT_EXCEPTIONS) for e in chain):
        return False
    return any(isinstance(e, TRANSIENT_EXCEPTIONS) for e in chain)


def parse_should_retry(value: Optional[str]) -> Optional[bool]:
    """Parses a ``true``/``false`` should-retry header; None when absent or other."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return None


@dataclass(frozen=True)
class RetryDecider:
    """Decides whether an attempt's outcome deserves another attempt.

    Attributes:
        idempotency_header: Header whose presence makes POST/PATCH safe to retry.
        should_retry_header: Header by which the server says ``true``/``false``
            (``Stripe-Should-Retry``); its explicit answer overrides the status.
    """

    idempotency_header: str = "Idempotency-Key"
    should_retry_header: Optional[str] = None

    def should_retry(
        self,
        method: str,
        response: Optional[Response],
        exception: Optional[BaseException],
        has_idempotency_key: bool,
    ) -> bool:
        """Tells whether to retry.

        Args:
            method: HTTP method of the request.
            response: The response, when one arrived.
            exception: What the send raised, when no response arrived.
            has_idempotency_key: Whether the request carries an idempotency key.

        Returns:
            True for 429, any 5xx, transient connection failures and whatever the
            should-retry header explicitly allows (409 only that way); never for other
            4xx; never for POST/PATCH without an idempotency key.
        """
        if method.upper() in NON_IDEMPOTENT_METHODS and not has_idempotency_key:
            return False
        if response is None:
            return exception is not None and is_transient_exception(exception)
        server_says = self.server_says(response)
        if server_says is not None:
            return server_says
        status = response.status_code
        return status == TOO_MANY_REQUESTS or status >= 500

    def server_says(self, response: Response) -> Optional[bool]:
        """The server's explicit retry answer, if it gave one."""
        if not self.should_retry_header:
            return None
        return parse_should_retry(response.headers.get(self.should_retry_header))


@dataclass(frozen=True)
class BackoffSchedule:
    """How long to wait before the next attempt.

    Attributes:
        base: Delay after the first attempt, doubled per attempt.
        cap: Largest exponential delay.
        max_hint: Largest delay taken from a server hint.
        wall_clock: Epoch-seconds clock for HTTP dates and epoch reset values.
    """

    base: float = 0.5
    cap: float = 30.0
    max_hint: float = 300.0
    wall_clock: Callable[[], float] = field(default=time.time, repr=False)

    def delay(self, attempt: int, response: Optional[Response]) -> float:
        """Seconds to wait after ``attempt`` (1-based) before the next one.

        Args:
            attempt: The attempt that just failed, starting at 1.
            response: Its response, if any (for server hints).

        Returns:
            The server hint capped at ``max_hint`` when there is one, else
            ``min(cap, base * 2 ** (attempt - 1))``; never negative.
        """
        hint = self.server_hint(response)
        if hint is not None:
            return hint
        return self.exponential(attempt)

    def exponential(self, attempt: int) -> float:
        """``base * 2 ** (attempt - 1)`` capped at ``cap``, never negative."""
        exponent = min(max(attempt - 1, 0), 62)
        return max(0.0, min(self.cap, self.base * (2.0**exponent)))

    def server_hint(self, response: Optional[Response]) -> Optional[float]:
        """The server's own delay: ``Retry-After``, else the reset of a spent window.

        Args:
            response: The response to read, if any.

        Returns:
            Seconds (0..``max_hint``), or None when the server gave no hint.
        """
        hint = self.requested_wait(response)
        if hint is None:
            return None
        return max(0.0, min(hint, self.max_hint))

    def requested_wait(self, response: Optional[Response]) -> Optional[float]:
        """The server's own delay in seconds, uncapped; None when it gave no hint."""
        if response is None:
            return None
        now = self.wall_clock()
        hint = retry_after_seconds(response.headers, now)
        if hint is None:
            info = rate_limit_info(response.headers, now)
            if info is not None and info.exhausted:
                hint = info.reset_s
        return hint


@dataclass
class Jitter:
    """Randomises delays so many clients do not retry at the same instant.

    Attributes:
        strategy: ``full`` (uniform 0..d), ``equal`` (d/2 + uniform 0..d/2) or ``none``.
        rng: Source of randomness (inject a seeded one in tests).
        hint_spread: Largest share of a server hint added on top of it (hints are
            only ever lengthened, never shortened).
        max_hint_extra: Largest number of seconds added on top of a server hint.
    """

    strategy: str = "full"
    rng: random.Random = field(default_factory=random.Random, repr=False)
    hint_spread: float = 0.1
    max_hint_extra: float = 1.0

    def __post_init__(self) -> None:
        if self.strategy not in JITTER_STRATEGIES:
            raise ConfigurationError(
                f"unknown jitter strategy {self.strategy!r}: "
                f"use one of {', '.join(JITTER_STRATEGIES)}"
            )

    def apply(self, delay: float) -> float:
        """Jitters a computed backoff delay.

        Args:
            delay: The exponential delay.

        Returns:
            A delay between 0 and ``delay`` (``full``), ``delay/2`` and ``delay``
            (``equal``), or ``delay`` itself (``none``).
        """
        delay = max(0.0, delay)
        if self.strategy == "full":
            return self.rng.uniform(0.0, delay)
        if self.strategy == "equal":
            return delay / 2.0 + self.rng.uniform(0.0, delay / 2.0)
        return delay

    def apply_to_hint(self, hint: float) -> float:
        """Jitters a server hint upwards only.

        Args:
            hint: Seconds the server asked to wait.

        Returns:
            ``hint`` plus up to ``min(hint * hint_spread, max_hint_extra)`` seconds
            (exactly ``hint`` with strategy ``none``).
        """
        hint = max(0.0, hint)
        if self.strategy == "none":
            return hint
        return hint + self.rng.uniform(0.0, min(hint * self.hint_spread, self.max_hint_extra))


class RetryBudget:
    """Retries left for a whole run, shared by every resource and thread."""

    def __init__(self, max_retries_per_run: int) -> None:
        """Creates the budget.

        Args:
            max_retries_per_run: Retries allowed in total.
        """
        self.max_retries = max_retries_per_run
        self._spent = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RetryBudget(spent={self._spent}, max_retries={self.max_retries})"

    def try_spend(self) -> bool:
        """Takes one retry from the budget.

        Returns:
            True when a retry was available; False when the budget is exhausted (the
            caller then raises ``RetryBudgetExhaustedError``).
        """
        with self._lock:
            if self._spent >= self.max_retries:
                return False
            self._spent += 1
            return True

    @property
    def spent(self) -> int:
        """Retries taken so far."""
        return self._spent

    @property
    def remaining(self) -> int:
        """Retries still available."""
        return max(0, self.max_retries - self._spent)


@dataclass
class RetryPolicy:
    """Everything a session needs to retry: decider, schedule, jitter, limits.

    Attributes:
        decider: Whether an outcome is retried.
        schedule: How long to wait.
        jitter: How the wait is randomised.
        max_attempts: Attempts per request, the first included.
        budget: Retries left for the run.
    """

    decider: RetryDecider = field(default_factory=RetryDecider)
    schedule: BackoffSchedule = field(default_factory=BackoffSchedule)
    jitter: Jitter = field(default_factory=Jitter)
    max_attempts: int = 8
    budget: RetryBudget = field(default_factory=lambda: RetryBudget(1000))

    @classmethod
    def from_settings(
        cls,
        settings: HttpSettings,
        rng: Optional[random.Random] = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> RetryPolicy:
        """Builds the policy a session's settings describe.

        Args:
            settings: The source's HTTP settings.
            rng: Randomness for jitter (inject a seeded one in tests).
            wall_clock: Epoch-seconds clock for HTTP-date hints.

        Returns:
            A policy with its own retry budget.
        """
        return cls(
            decider=RetryDecider(
                idempotency_header=settings.idempotency_header,
                should_retry_header=settings.should_retry_header,
            ),
            schedule=BackoffSchedule(
                base=settings.backoff_base, cap=settings.backoff_cap, wall_clock=wall_clock
            ),
            jitter=Jitter(strategy=settings.jitter, rng=rng or random.Random()),
            max_attempts=settings.max_attempts,
            budget=RetryBudget(settings.retry_budget),
        )

    def wait_before_retry(self, attempt: int, response: Optional[Response]) -> float:
        """Seconds to sleep after ``attempt`` failed: jittered backoff or lengthened hint.

        Args:
            attempt: The attempt that just failed, starting at 1.
            response: Its response, if any.

        Returns:
            Non-negative seconds.
        """
        hint = self.schedule.server_hint(response)
        if hint is not None:
            return self.jitter.apply_to_hint(hint)
        return self.jitter.apply(self.schedule.exponential(attempt))
