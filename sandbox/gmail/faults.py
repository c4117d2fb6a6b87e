"""Fault switches, settable while the sandbox runs: 429/403 storms, 5xx, stalls, resets.

Each switch affects the next ``count`` API requests (inner batch requests count one by
one, except drops and stalls, which act on the HTTP connection).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Throttle:
    """A forced usage-limit answer."""

    status: int
    reason: str
    retry_after: Optional[int]


class Faults:
    """One-shot fault queues. Thread-safe."""

    def __init__(self) -> None:
        """No faults."""
        self._lock = threading.Lock()
        self._throttle: list[Throttle] = []
        self._fail: list[int] = []
        self._drop = 0
        self._stall: list[float] = []
        self._malform = 0

    def throttle_next(
        self,
        count: int,
        status: int = 429,
        reason: Optional[str] = None,
        retry_after: Optional[int] = 1,
    ) -> None:
        """The next ``count`` requests answer a usage limit (a 429 storm by default).

        Args:
            count: Requests affected.
            status: 429 or 403.
            reason: ``rateLimitExceeded`` (429) or ``userRateLimitExceeded`` (403) by default.
            retry_after: Seconds in ``Retry-After`` (None: no header).
        """
        reason = reason or ("rateLimitExceeded" if status == 429 else "userRateLimitExceeded")
        with self._lock:
            self._throttle.extend([Throttle(status, reason, retry_after)] * count)

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next ``count`` requests answer ``status`` (``backendError``)."""
        with self._lock:
            self._fail.extend([status] * count)

    def drop_next(self, count: int) -> None:
        """The next ``count`` HTTP requests get their connection reset, unanswered."""
        with self._lock:
            self._drop += count

    def stall_next(self, count: int, seconds: float) -> None:
        """The next ``count`` HTTP requests are answered ``seconds`` late."""
        with self._lock:
            self._stall.extend([seconds] * count)

    def malform_next(self, count: int) -> None:
        """The next ``count`` messages served have a broken payload (bad base64, no headers)."""
        with self._lock:
            self._malform += count

    def take_throttle(self) -> Optional[Throttle]:
        """The usage-limit answer for this request, if any."""
        with self._lock:
            return self._throttle.pop(0) if self._throttle else None

    def take_failure(self) -> Optional[int]:
        """The 5xx status for this request, if any."""
        with self._lock:
            return self._fail.pop(0) if self._fail else None

    def take_drop(self) -> bool:
        """Whether to reset this connection."""
        with self._lock:
            if self._drop <= 0:
                return False
            self._drop -= 1
            return True

    def take_stall(self) -> float:
        """Seconds to wait before answering (0: none)."""
        with self._lock:
            return self._stall.pop(0) if self._stall else 0.0

    def take_malformed(self) -> bool:
        """Whether to spoil the message being served."""
        with self._lock:
            if self._malform <= 0:
                return False
            self._malform -= 1
            return True
