"""Thread-safe HTTP counters for run summaries, per resource label and in total.

Re-exported by :mod:`sources.kit.http`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Optional, Union

Number = Union[int, float]


@dataclass
class HttpStats:
    """Counters of one session (or one resource label); increments also reach ``parent``.

    Attributes:
        requests: Attempts sent (retries included).
        retries: Attempts that were retries.
        throttled_429: Responses with status 429.
        server_errors: Responses with a 5xx status.
        client_errors: Responses with a 4xx status other than 429.
        connection_errors: Attempts that failed to connect or lost the connection.
        timeouts: Attempts that timed out.
        circuit_trips: Times a failure of this session opened a circuit.
        rate_limit_wait_s: Seconds spent waiting for the rate limiter.
        bytes_received: Response body bytes read.
        parent: Stats that also receive every increment (the session's totals).
    """

    requests: int = 0
    retries: int = 0
    throttled_429: int = 0
    server_errors: int = 0
    client_errors: int = 0
    connection_errors: int = 0
    timeouts: int = 0
    circuit_trips: int = 0
    rate_limit_wait_s: float = 0.0
    bytes_received: int = 0
    parent: Optional[HttpStats] = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def counter_names(cls) -> tuple[str, ...]:
        """Names of the counters, in declaration order."""
        return tuple(f.name for f in fields(cls) if f.name not in ("parent", "_lock"))

    def increment(self, counter: str, amount: Number = 1) -> None:
        """Adds ``amount`` to one counter here and in every parent.

        Args:
            counter: One of :meth:`counter_names`.
            amount: What to add.

        Raises:
            KeyError: ``counter`` is not a counter name.
        """
        if counter not in self.counter_names():
            raise KeyError(f"unknown HTTP counter {counter!r}")
        with self._lock:
            setattr(self, counter, getattr(self, counter) + amount)
        if self.parent is not None:
            self.parent.increment(counter, amount)

    def snapshot(self) -> dict[str, Number]:
        """A consistent copy of all counters."""
        with self._lock:
            values = {name: getattr(self, name) for name in self.counter_names()}
        values["rate_limit_wait_s"] = round(float(values["rate_limit_wait_s"]), 3)
        return values

    def merge(self, other: Union[HttpStats, Mapping[str, Number]]) -> None:
        """Adds another session's counters (or a snapshot of them) to these.

        Args:
            other: Stats or a :meth:`snapshot` dict; unknown keys are ignored.
        """
        values = other.snapshot() if isinstance(other, HttpStats) else other
        for name in self.counter_names():
            amount = values.get(name, 0)
            if amount:
                self.increment(name, amount)
