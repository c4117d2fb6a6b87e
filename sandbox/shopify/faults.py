"""Fault switches: 5xx, stalls, dropped connections, forced throttles, malformed records,
failing fields (partial data), removed access scopes and bulk operation failures.

Each count-based switch arms the next ``count`` GraphQL requests; a request takes at most
one transport fault (fail, drop, stall), in the order armed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, Optional

from .clock import Clock

Kind = Literal["fail", "drop", "stall"]


@dataclass(frozen=True)
class Fault:
    """An armed transport fault (``value``: the status, or the stall in seconds)."""

    kind: Kind
    value: float


class Faults:
    """The switches; settable while the sandbox serves. Thread-safe."""

    def __init__(self, clock: Optional[Clock] = None) -> None:
        """Nothing armed (``clock`` is accepted for symmetry with the other sandboxes)."""
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[Fault] = []
        self._throttle = 0
        self._malformed: dict[Optional[str], int] = {}
        self._failing_fields: set[tuple[str, str]] = set()
        self.bulk_fail_next = 0
        self.bulk_cancel_next = 0
        self.url_epoch = 0
        """Bumped by :meth:`expire_bulk_urls`; URLs of an older epoch are expired."""

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` requests answer ``status`` (Shopify's 5xx body)."""
        self._arm(count, Fault("fail", float(status)))

    def drop_next(self, count: int = 1) -> None:
        """The next ``count`` requests get their connection reset, no answer."""
        self._arm(count, Fault("drop", 0.0))

    def stall_next(self, count: int = 1, seconds: float = 1.0) -> None:
        """The next ``count`` requests wait ``seconds`` (real time) before answering."""
        self._arm(count, Fault("stall", seconds))

    def throttle_next(self, count: int = 1) -> None:
        """The next ``count`` requests answer ``THROTTLED`` whatever the bucket holds."""
        with self._lock:
            self._throttle += count

    def malform_next(self, count: int = 1, type_name: Optional[str] = None) -> None:
        """The next ``count`` nodes served (of ``type_name``, or any) get a bad ``updatedAt``."""
        with self._lock:
            self._malformed[type_name] = self._malformed.get(type_name, 0) + count

    def fail_field(self, type_name: str, field: str) -> None:
        """``type_name.field`` fails on every request (null there, an error with its path)."""
        with self._lock:
            self._failing_fields.add((type_name, field))

    def heal_field(self, type_name: str, field: str) -> None:
        """Undoes :meth:`fail_field`."""
        with self._lock:
            self._failing_fields.discard((type_name, field))

    def fail_next_bulk(self, count: int = 1) -> None:
        """The next ``count`` bulk operations end ``FAILED`` (``INTERNAL_SERVER_ERROR``)."""
        with self._lock:
            self.bulk_fail_next += count

    def cancel_next_bulk(self, count: int = 1) -> None:
        """The next ``count`` bulk operations end ``CANCELED`` (as if canceled in the admin)."""
        with self._lock:
            self.bulk_cancel_next += count

    def expire_bulk_urls(self) -> None:
        """Every bulk result URL handed out so far stops working (403), as after 7 days."""
        with self._lock:
            self.url_epoch += 1

    def _arm(self, count: int, fault: Fault) -> None:
        with self._lock:
            self._pending.extend([fault] * count)

    def take(self) -> Optional[Fault]:
        """The transport fault of this request, if one is armed."""
        with self._lock:
            return self._pending.pop(0) if self._pending else None

    def take_throttle(self) -> bool:
        """Whether this request is throttled by force."""
        with self._lock:
            if self._throttle <= 0:
                return False
            self._throttle -= 1
            return True

    def take_malformed(self, type_name: str) -> bool:
        """Whether to spoil this node of ``type_name``."""
        with self._lock:
            for key in (type_name, None):
                if self._malformed.get(key, 0) > 0:
                    self._malformed[key] -= 1
                    return True
            return False

    def failing(self, type_name: str, field: str) -> bool:
        """Whether ``type_name.field`` is switched to fail."""
        with self._lock:
            return (type_name, field) in self._failing_fields

    def take_bulk_outcome(self) -> Optional[str]:
        """``FAILED``, ``CANCELED`` or None (completes) for a bulk operation now finishing."""
        with self._lock:
            if self.bulk_fail_next > 0:
                self.bulk_fail_next -= 1
                return "FAILED"
            if self.bulk_cancel_next > 0:
                self.bulk_cancel_next -= 1
                return "CANCELED"
            return None
