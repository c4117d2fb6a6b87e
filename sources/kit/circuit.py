"""Circuit breaker: stop calling an API that keeps failing, try again later.

One :class:`CircuitBreaker` per (integration, host), shared through a
:class:`CircuitRegistry` by every resource and thread of a source. Failures are
5xx responses, connection errors and timeouts; 4xx and 429 prove the server is up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Optional

from .errors import CircuitOpenError

logger = logging.getLogger("sluice.circuit")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failures and refuses calls while the circuit is open.

    ``closed``: calls pass; ``failure_threshold`` consecutive failures open it.
    ``open``: calls are refused until ``recovery_timeout`` has passed.
    ``half_open``: up to ``half_open_max_calls`` trial calls pass; a success closes
    the circuit, a failure opens it again. Thread-safe.
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        half_open_max_calls: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Creates a closed breaker.

        Args:
            name: What it guards, e.g. ``stripe api.stripe.com``; used in messages.
            failure_threshold: Consecutive failures that open the circuit.
            recovery_timeout: Seconds the circuit stays open before a trial call.
            half_open_max_calls: Trial calls allowed at once while half open.
            clock: Monotonic clock (injected in tests).
        """
        self.name = name
        self.failure_threshold = max(1, failure_threshold)
        self.recovery_timeout = recovery_timeout
        self.half_open_max_calls = max(1, half_open_max_calls)
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_calls = 0
        self.trips = 0
        # The last failure when it was an exception (no answer at all): kept as the open
        # error's cause so the run can say the host could not be reached.
        self.last_error: Optional[BaseException] = None

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self._state!r}, trips={self.trips})"

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (an elapsed open circuit reads half open)."""
        with self._lock:
            self._advance()
            return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._consecutive_failures

    def before_call(self) -> None:
        """Lets a call through or refuses it.

        Raises:
            CircuitOpenError: The circuit is open, or half open with all trial slots taken.
        """
        with self._lock:
            self._advance()
            if self._state == CLOSED:
                return
            if self._state == HALF_OPEN and self._trial_calls < self.half_open_max_calls:
                self._trial_calls += 1
                return
            raise self._open_error()

    def record_success(self) -> None:
        """Records a call that reached a healthy server; closes a half-open circuit."""
        with self._lock:
            if self._state == OPEN:
                return
            if self._state == HALF_OPEN:
                logger.info("circuit %s closed: trial call succeeded", self.name)
            self._state = CLOSED
            self._consecutive_failures = 0
            self._trial_calls = 0

    def record_failure(self) -> bool:
        """Records a failed call (5xx, connection error, timeout).

        Returns:
            True when this failure opened the circuit.
        """
        with self._lock:
            self._consecutive_failures += 1
            if self._state == HALF_OPEN:
                self._trip()
                return True
            if self._state == CLOSED and self._consecutive_failures >= self.failure_threshold:
                self._trip()
                return True
            return False

    def release(self) -> None:
        """Gives back a half-open trial slot for a call that ended without a verdict."""
        with self._lock:
            if self._state == HALF_OPEN and self._trial_calls > 0:
                self._trial_calls -= 1

    def raise_if_open(self) -> None:
        """Raises at once when the circuit is open (used between retries).

        Raises:
            CircuitOpenError: The circuit is open.
        """
        with self._lock:
            self._advance()
            if self._state == OPEN:
                raise self._open_error()

    def snapshot(self) -> dict[str, Any]:
        """The breaker's state for run summaries."""
        with self._lock:
            self._advance()
            return {
                "name": self.name,
                "state": self._state,
                "consecutive_failures": self._consecutive_failures,
                "trips": self.trips,
                "retry_in_s": round(self._seconds_until_trial(), 3),
            }

    def _advance(self) -> None:
        if self._state == OPEN and self._seconds_until_trial() <= 0:
            self._state = HALF_OPEN
            self._trial_calls = 0

    def _seconds_until_trial(self) -> float:
        if self._state != OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.recovery_timeout - self._clock())

    def _trip(self) -> None:
        self._state = OPEN
        self._opened_at = self._clock()
        self._trial_calls = 0
        self.trips += 1
        logger.warning(
            "circuit %s opened after %d consecutive failure(s); next try in %.0f s",
            self.name,
            self._consecutive_failures,
            self.recovery_timeout,
        )

    def _open_error(self) -> CircuitOpenError:
        wait = self._seconds_until_trial()
        when = f"will try again in {wait:.1f} s" if wait > 0 else "a trial call is in progress"
        error = CircuitOpenError(
            f"{self.name} is failing: circuit open after {self._consecutive_failures} "
            f"consecutive failure(s); {when}"
        )
        error.circuit = self.name
        error.__cause__ = self.last_error
        return error


class CircuitRegistry:
    """One breaker per (integration, host), shared by all resources of a source."""

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        half_open_max_calls: int = 1,
    ) -> None:
        """Creates an empty registry.

        Args:
            failure_threshold: Consecutive failures that open a circuit.
            recovery_timeout: Seconds a circuit stays open before a trial call.
            clock: Monotonic clock (injected in tests).
            half_open_max_calls: Trial calls allowed at once while half open.
        """
        self.failure_threshold = failure_threshold
        self.recovery_timeout = recovery_timeout
        self.half_open_max_calls = half_open_max_calls
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}

    def get(self, integration: str, host: str) -> CircuitBreaker:
        """Returns the breaker for ``host`` of ``integration``, creating it on first use."""
        key = (integration, host.lower())
        with self._lock:
            breaker = self._breakers.get(key)
            if breaker is None:
                breaker = CircuitBreaker(
                    f"{integration} {key[1]}".strip(),
                    failure_threshold=self.failure_threshold,
                    recovery_timeout=self.recovery_timeout,
                    half_open_max_calls=self.half_open_max_calls,
                    clock=self._clock,
                )
                self._breakers[key] = breaker
            return breaker

    @property
    def trips(self) -> int:
        """Times any breaker of the registry opened."""
        with self._lock:
            return sum(b.trips for b in self._breakers.values())

    def snapshot(self) -> list[dict[str, Any]]:
        """Every breaker's state, with its integration and host."""
        with self._lock:
            items = list(self._breakers.items())
        return [
            {"integration": integration, "host": host, **breaker.snapshot()}
            for (integration, host), breaker in items
        ]
