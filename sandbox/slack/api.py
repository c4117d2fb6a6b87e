"""One Web API request, without HTTP: arguments, faults, token, rate limit, method, reply.

Slack answers a method's errors as HTTP 200 with ``{"ok": false, "error": "<code>"}``
(https://docs.slack.dev/apis/web-api/#responses) and accepts arguments as a query string,
a form body or a JSON body (https://docs.slack.dev/apis/web-api/#posting_json), the token
in ``Authorization: Bearer`` or as the ``token`` argument.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qsl

from .auth import Auth, token_of
from .faults import Faults
from .methods import MethodError, Methods
from .ratelimit import RateLimits, retry_after_headers
from .stats import Stats

logger = logging.getLogger("sluice.sandbox.slack")
API_PREFIX = "/api/"


@dataclass
class Reply:
    """What the HTTP layer writes (or a connection to drop)."""

    status: int = 200
    payload: Optional[dict[str, Any]] = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False

    @property
    def body(self) -> bytes:
        """The JSON body."""
        return json.dumps(self.payload if self.payload is not None else {}).encode("utf-8")


def parse_arguments(query: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """Query-string arguments overlaid with a form or JSON body's (values as strings)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if not body:
        return params
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            return params
        if isinstance(data, dict):
            params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
        return params
    params.update(dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
    return params


def ok_false(error: str, status: int = 200, extra: Optional[Mapping[str, str]] = None) -> Reply:
    """Slack's error body (``extra``: fields such as ``needed``/``provided``)."""
    return Reply(status, {"ok": False, "error": error, **(extra or {})})


class WebApi:
    """Routes ``/api/<method>`` through faults, auth and rate limits to :class:`Methods`."""

    def __init__(
        self,
        methods: Methods,
        auth: Auth,
        limits: RateLimits,
        faults: Faults,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Wires the parts; ``sleep`` serves the stall fault."""
        self.methods = methods
        self.auth = auth
        self.limits = limits
        self.faults = faults
        self.stats = Stats()
        self.sleep = sleep

    def handle(self, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answers one request."""
        if not path.startswith(API_PREFIX):
            return ok_false("unknown_method", status=404)
        method = path[len(API_PREFIX) :].strip("/")
        params = parse_arguments(query, headers, body)
        self.stats.record(method, params)
        early = self.injected(method)
        if early is not None:
            return early
        if self.faults.revoke_requested:
            self.auth.revoked = True
        error = self.auth.token_error(token_of(headers, params))
        if error is not None:
            return ok_false(error)
        denial = self.limits.admit(method)
        if denial is not None:
            self.stats.record_throttled(method)
            reply = ok_false("ratelimited", status=429)
            reply.headers.update(denial.headers)
            return reply
        try:
            reply = Reply(200, self.methods.call(method, params))
        except MethodError as exc:
            reply = ok_false(exc.error, extra=exc.extra)
        # Slack reports the token's scopes on every authenticated answer.
        reply.headers["x-oauth-scopes"] = ",".join(self.auth.scopes)
        self.faults.answered(method)
        return reply

    def injected(self, method: str) -> Optional[Reply]:
        """The armed fault's answer (a stall waits, then lets the request go on)."""
        fault = self.faults.take(method)
        if fault is None:
            return None
        logger.debug("slack sandbox: injected %s on %s", fault.kind, method)
        if fault.kind == "drop":
            return Reply(drop=True)
        if fault.kind == "stall":
            self.sleep(fault.value)
            return None
        if fault.kind == "throttle":
            self.stats.record_throttled(method)
            reply = ok_false("ratelimited", status=429)
            reply.headers.update(retry_after_headers(fault.value, self.limits.minute_s))
            return reply
        return ok_false(fault.error, status=int(fault.value))
