"""One-shot fault switches: 5xx, dropped connections, stalls, 429 storms, malformed records.

Each switch arms the next ``count`` requests (of one method, or any); a request takes at
most one of them, in the order they were armed. Slack answers a server failure as a 5xx
whose body may still be JSON with ``ok: false`` (``internal_error``, ``fatal_error``,
``service_unavailable`` are in every method's error list, e.g.
https://docs.slack.dev/reference/methods/conversations.history).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Optional

Kind = Literal["fail", "drop", "throttle", "stall"]
STATUS_ERRORS = {500: "internal_error", 502: "service_unavailable", 503: "service_unavailable"}


@dataclass(frozen=True)
class Fault:
    """An armed fault: what happens and to which method (None: any)."""

    kind: Kind
    method: Optional[str]
    value: float = 0.0

    @property
    def error(self) -> str:
        """The ``error`` code of a ``fail`` fault's body."""
        return STATUS_ERRORS.get(int(self.value), "fatal_error")


@dataclass
class _Hook:
    """An action due after ``remaining`` more answered requests of ``method`` (None: any)."""

    remaining: int
    method: Optional[str]
    action: Callable[[], object]


class Faults:
    """The switches; settable while the sandbox serves. Thread-safe."""

    def __init__(self) -> None:
        """Nothing armed."""
        self._lock = threading.Lock()
        self._pending: list[Fault] = []
        self._malformed: dict[Optional[str], int] = {}
        self._hooks: list[_Hook] = []
        self.revoke_requested = False

    def fail_next(self, count: int, status: int = 503, method: Optional[str] = None) -> None:
        """The next ``count`` requests answer ``status`` with an ``ok: false`` body."""
        self._arm(count, Fault("fail", method, float(status)))

    def drop_next(self, count: int, method: Optional[str] = None) -> None:
        """The next ``count`` requests get their connection reset, no answer."""
        self._arm(count, Fault("drop", method))

    def throttle_next(
        self, count: int, retry_after: float = 1.0, method: Optional[str] = None
    ) -> None:
        """A 429 storm: the next ``count`` requests answer 429 ``ratelimited``."""
        self._arm(count, Fault("throttle", method, retry_after))

    def stall_next(self, count: int, seconds: float, method: Optional[str] = None) -> None:
        """The next ``count`` requests wait ``seconds`` (real time) before answering."""
        self._arm(count, Fault("stall", method, seconds))

    def malform_next(self, count: int, method: Optional[str] = None) -> None:
        """The next ``count`` records served lose their key (``ts`` of a message, ``id`` else)."""
        with self._lock:
            self._malformed[method] = self._malformed.get(method, 0) + count

    def after_requests(
        self, count: int, action: Callable[[], object], method: Optional[str] = None
    ) -> None:
        """Runs ``action`` once ``count`` more requests (of ``method``, or any) were answered.

        Tests change the workspace mid-sync with it (a post between two pages, a deletion).
        """
        with self._lock:
            self._hooks.append(_Hook(count, method, action))

    def revoke_after(self, count: int, method: Optional[str] = None) -> None:
        """The token is revoked once ``count`` more requests were answered (mid-sync revocation)."""
        self.after_requests(count, self._request_revocation, method)

    def _request_revocation(self) -> None:
        self.revoke_requested = True

    def answered(self, method: str) -> None:
        """Counts one answered request and runs the hooks it completes."""
        due: list[Callable[[], object]] = []
        with self._lock:
            for hook in list(self._hooks):
                if hook.method in (None, method):
                    hook.remaining -= 1
                    if hook.remaining <= 0:
                        self._hooks.remove(hook)
                        due.append(hook.action)
        for action in due:
            action()

    def clear(self) -> None:
        """Disarms everything."""
        with self._lock:
            self._pending.clear()
            self._malformed.clear()
            self._hooks.clear()

    def take(self, method: str) -> Optional[Fault]:
        """The first armed fault for ``method``, disarmed; None when there is none."""
        with self._lock:
            for index, fault in enumerate(self._pending):
                if fault.method in (None, method):
                    return self._pending.pop(index)
        return None

    def take_malformed(self, method: str) -> bool:
        """Whether to spoil the next record ``method`` serves."""
        with self._lock:
            for key in (method, None):
                if self._malformed.get(key, 0) > 0:
                    self._malformed[key] -= 1
                    return True
        return False

    def _arm(self, count: int, fault: Fault) -> None:
        with self._lock:
            self._pending.extend([fault] * count)
