"""Thread-safe request counters of a sandbox."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class SandboxStats:
    """Counts requests, statuses and injected faults; every reader gets a copy."""

    def __init__(self) -> None:
        """Create zeroed counters."""
        self._lock = threading.Lock()
        self._requests = 0
        self._by_path: Counter[str] = Counter()
        self._status_counts: Counter[int] = Counter()
        self._throttled = 0
        self._injected_errors = 0
        self._dropped = 0
        self._stalled = 0
        self._malformed_ids: set[str] = set()

    # ------------------------------------------------------------- recording

    def record_request(self, path: str) -> None:
        """Count one API request to ``path`` (without query string)."""
        with self._lock:
            self._requests += 1
            self._by_path[path] += 1

    def record_status(self, status: int) -> None:
        """Count one response with ``status``; 429s also count as throttled."""
        with self._lock:
            self._status_counts[status] += 1
            if status == 429:
                self._throttled += 1

    def record_injected_error(self) -> None:
        """Count one injected error response."""
        with self._lock:
            self._injected_errors += 1

    def record_dropped(self) -> None:
        """Count one connection dropped without a response."""
        with self._lock:
            self._dropped += 1

    def record_stalled(self) -> None:
        """Count one stalled request."""
        with self._lock:
            self._stalled += 1

    def record_malformed(self, obj_id: str) -> None:
        """Remember that the record ``obj_id`` was served malformed."""
        with self._lock:
            self._malformed_ids.add(obj_id)

    # --------------------------------------------------------------- reading

    @property
    def requests(self) -> int:
        """Total API requests received (control endpoints excluded)."""
        with self._lock:
            return self._requests

    @property
    def by_path(self) -> Counter[str]:
        """Requests per path, e.g. ``/v1/customers``."""
        with self._lock:
            return Counter(self._by_path)

    @property
    def status_counts(self) -> Counter[int]:
        """Responses per HTTP status."""
        with self._lock:
            return Counter(self._status_counts)

    @property
    def throttled(self) -> int:
        """Responses with status 429."""
        with self._lock:
            return self._throttled

    @property
    def injected_errors(self) -> int:
        """Injected error responses (5xx and 409)."""
        with self._lock:
            return self._injected_errors

    @property
    def dropped(self) -> int:
        """Connections closed without a response."""
        with self._lock:
            return self._dropped

    @property
    def stalled(self) -> int:
        """Requests answered only after a stall."""
        with self._lock:
            return self._stalled

    @property
    def malformed_ids(self) -> set[str]:
        """Ids of records served in a malformed variant."""
        with self._lock:
            return set(self._malformed_ids)

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._requests = self._throttled = self._injected_errors = 0
            self._dropped = self._stalled = 0
            self._by_path.clear()
            self._status_counts.clear()
            self._malformed_ids.clear()

    def snapshot(self) -> dict[str, Any]:
        """Return every counter as JSON-ready data."""
        with self._lock:
            return {
                "requests": self._requests,
                "by_path": dict(sorted(self._by_path.items())),
                "status_counts": {str(k): v for k, v in sorted(self._status_counts.items())},
                "throttled": self._throttled,
                "injected_errors": self._injected_errors,
                "dropped": self._dropped,
                "stalled": self._stalled,
                "malformed_ids": sorted(self._malformed_ids),
            }

    def __repr__(self) -> str:
        return f"SandboxStats(requests={self.requests}, throttled={self.throttled})"
