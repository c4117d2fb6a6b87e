"""Fault injection: errors, dropped connections, stalls, latency and malformed records.

Every decision comes from a seeded ``random.Random`` under a lock, so a client sending the
same requests in the same order meets the same faults.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors

_ERROR_STATUSES = (500, 502, 503)
_RATE_FIELDS = ("error_rate", "drop_rate", "stall_rate", "malformed_rate", "lock_timeout_rate")


@dataclass
class Faults:
    """Fault switches; a sandbox reads them on every request, so changes apply at once.

    Attributes:
        error_rate: Share of requests answered 500/502/503 (``api_error``).
        drop_rate: Share of requests whose connection is reset without a response.
        stall_rate: Share of requests answered only after ``stall_seconds``.
        stall_seconds: How long a stalled request waits (longer than the client's timeout).
        latency_ms: Delay added to every request.
        malformed_rate: Share of list records replaced by a malformed variant.
        lock_timeout_rate: Share of requests answered 409 ``lock_timeout``.
        expire_keys: API keys that now answer 401 ``api_key_expired``.
        reverse_same_second_events: ``/v1/events`` lists events that share one ``created``
            second oldest first instead of newest first. Stripe lists newest first, but
            the order within a second is not a documented contract
            (../shared/stripe/README.md), so a client must be right in either order.
    """

    error_rate: float = 0.0
    drop_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 30.0
    latency_ms: float = 0.0
    malformed_rate: float = 0.0
    lock_timeout_rate: float = 0.0
    expire_keys: set[str] = field(default_factory=set, repr=False)
    reverse_same_second_events: bool = False

    def __post_init__(self) -> None:
        """Validate rates and durations.

        Raises:
            ValueError: For a rate outside 0..1 or a negative duration.
        """
        for name in _RATE_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.stall_seconds < 0 or self.latency_ms < 0:
            raise ValueError("stall_seconds and latency_ms must be >= 0")
        self.expire_keys = set(self.expire_keys)

    def to_dict(self) -> dict[str, Any]:
        """Return the switches as JSON-ready data (expired keys are counted, not shown)."""
        data = dataclasses.asdict(self)
        data["expire_keys"] = len(self.expire_keys)
        return data


FAULT_FIELDS = frozenset(f.name for f in dataclasses.fields(Faults))


@dataclass(frozen=True)
class Decision:
    """What to do to one request.

    Attributes:
        drop: Reset the connection without answering.
        stall_seconds: Wait this long before answering (0: no stall).
        error: Answer this error instead of handling the request.
    """

    drop: bool = False
    stall_seconds: float = 0.0
    error: errors.StripeError | None = None


class FaultInjector:
    """Turns ``Faults`` and queued one-shot faults into per-request decisions (thread-safe)."""

    def __init__(self, faults: Faults, rng: random.Random) -> None:
        """Create an injector reading ``faults`` on every decision."""
        self.faults = faults
        self._rng = rng
        self._lock = threading.Lock()
        self._fail_queue: list[int] = []
        self._after_write_queue: list[int] = []
        self._drops_queued = 0

    def set(self, **switches: Any) -> Faults:
        """Replace the given switches (validated) and return the new ``Faults``.

        Raises:
            TypeError: For an unknown switch.
            ValueError: For an invalid value.
        """
        unknown = set(switches) - FAULT_FIELDS
        if unknown:
            raise TypeError(f"unknown fault switch(es): {', '.join(sorted(unknown))}")
        updated = dataclasses.replace(self.faults, **switches)
        with self._lock:
            self.faults = updated
        return updated

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` API requests with ``status`` (500/502/503/409/429 ...)."""
        with self._lock:
            self._fail_queue.extend([status] * count)

    def fail_after_write_next(self, count: int, status: int = 502) -> None:
        """Apply the next ``count`` writes, then answer them with ``status`` (5xx)."""
        with self._lock:
            self._after_write_queue.extend([status] * count)

    def take_after_write(self) -> int | None:
        """The status a just-applied write is answered with instead, if one is queued."""
        with self._lock:
            return self._after_write_queue.pop(0) if self._after_write_queue else None

    def drop_next(self, count: int) -> None:
        """Reset the connection of the next ``count`` API requests."""
        with self._lock:
            self._drops_queued += count

    def decide(self) -> Decision:
        """Decide the fault (if any) for the next request."""
        with self._lock:
            faults = self.faults
            if self._drops_queued:
                self._drops_queued -= 1
                return Decision(drop=True)
            if self._fail_queue:
                return Decision(error=self._error_for(self._fail_queue.pop(0)))
            draw = self._rng.random()
            for rate, make in (
                (faults.drop_rate, lambda: Decision(drop=True)),
                (faults.stall_rate, lambda: Decision(stall_seconds=faults.stall_seconds)),
                (faults.error_rate, self._random_error),
                (faults.lock_timeout_rate, lambda: Decision(error=errors.lock_timeout())),
            ):
                if draw < rate:
                    return make()
                draw -= rate
            return Decision()

    def corrupt_index(self) -> bool:
        """Return whether the next list record should be served malformed."""
        rate = self.faults.malformed_rate
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def malformed(self, obj: Mapping[str, Any], time_field: str) -> dict[str, Any]:
        """Return a malformed variant of ``obj`` (the stored object is not touched).

        One of: ``id`` missing; the time field as a non-numeric string; ``amount`` as a
        string; a nested hash (``metadata`` or another) of the wrong type.
        """
        variants = ["missing_id", "time_as_text", "nested_wrong_type"]
        if isinstance(obj.get("amount"), int):
            variants.append("amount_as_text")
        with self._lock:
            variant = self._rng.choice(variants)
        broken = dict(obj)
        if variant == "missing_id":
            del broken["id"]
        elif variant == "time_as_text":
            broken[time_field] = "yesterday"
        elif variant == "amount_as_text":
            broken["amount"] = f"{obj['amount'] / 100:.2f}"
        else:
            broken[_nested_field(obj)] = ["not", "a", "hash"]
        return broken

    def _random_error(self) -> Decision:
        status = self._rng.choice(_ERROR_STATUSES)
        return Decision(error=self._error_for(status))

    def _error_for(self, status: int) -> errors.StripeError:
        if status == 409:
            return errors.lock_timeout()
        if status == 429:
            return errors.rate_limited()
        if status in (500, 503):
            return errors.api_error(status, should_retry=True if self._rng.random() < 0.5 else None)
        if status >= 500:
            return errors.api_error(status)
        return errors.invalid_request("Injected error.", status=status)


def _nested_field(obj: Mapping[str, Any]) -> str:
    if isinstance(obj.get("metadata"), Mapping):
        return "metadata"
    for key, value in obj.items():
        if isinstance(value, Mapping):
            return key
    return "object"
