"""Control endpoints for standalone use (no auth, never faulted, not counted in stats).

- ``GET /_sandbox/stats``: the counters as JSON.
- ``POST /_sandbox/faults``: JSON body with ``Faults`` fields to change (``expire_keys`` as a
  list), plus optional ``fail_next`` (count), ``fail_status`` and ``drop_next`` (count);
  answers the current switches.
- ``POST /_sandbox/reset-stats``: zero the counters.
"""

from __future__ import annotations

import json
from typing import Any

from .api import ApiResponse
from .faults import FaultInjector
from .stats import SandboxStats
from .store import encode

_ONE_SHOT = ("fail_next", "fail_status", "drop_next")


def _json(status: int, payload: Any) -> ApiResponse:
    return ApiResponse(status, encode(payload), {})


def _bad_request(message: str) -> ApiResponse:
    return _json(400, {"error": {"type": "invalid_request_error", "message": message}})


class ControlApi:
    """Answers ``/_sandbox/...`` requests."""

    def __init__(self, stats: SandboxStats, injector: FaultInjector) -> None:
        """Serve ``stats`` and switch faults through ``injector``."""
        self._stats = stats
        self._injector = injector

    def handle(self, method: str, path: str, body: bytes) -> ApiResponse:
        """Answer one control request."""
        route = (method, path.rstrip("/"))
        if route == ("GET", "/_sandbox/stats"):
            return _json(200, self._stats.snapshot())
        if route == ("POST", "/_sandbox/reset-stats"):
            self._stats.reset()
            return _json(200, {"ok": True})
        if route == ("POST", "/_sandbox/faults"):
            return self._set_faults(body)
        return _json(404, {"error": {"type": "invalid_request_error", "message": "Not found"}})

    def _set_faults(self, body: bytes) -> ApiResponse:
        try:
            switches = json.loads(body or b"{}")
        except ValueError:
            return _bad_request("The body must be a JSON object.")
        if not isinstance(switches, dict):
            return _bad_request("The body must be a JSON object.")
        one_shot = {name: switches.pop(name) for name in _ONE_SHOT if name in switches}
        if "expire_keys" in switches:
            switches["expire_keys"] = set(switches["expire_keys"] or ())
        try:
            faults = self._injector.set(**switches)
            if one_shot.get("fail_next"):
                self._injector.fail_next(
                    int(one_shot["fail_next"]), int(one_shot.get("fail_status", 500))
                )
            if one_shot.get("drop_next"):
                self._injector.drop_next(int(one_shot["drop_next"]))
        except (TypeError, ValueError) as error:
            return _bad_request(str(error))
        return _json(200, faults.to_dict())
