"""An inbound REST API rate limit rule: requests per user per hour, and its headers.

Source: ServiceNow docs "Inbound REST API rate limiting"
(https://www.servicenow.com/docs/r/xanadu/api-reference/rest-api-explorer/inbound-REST-API-rate-limiting.html,
ServiceNow/ServiceNowDocs
markdown/api-reference/rest-api-explorer/inbound-REST-API-rate-limiting.md):
rules limit "the number of inbound REST API requests processed per hour"; a matching request
carries ``X-RateLimit-Limit`` (requests allowed per hour), ``X-RateLimit-Reset`` ("the Unix
time until the next scheduled reset") and ``X-RateLimit-Rule`` (the rule's sys_id); a denied
one is ``429 Too Many Requests`` with ``Retry-After`` (seconds) and the body
``{"error": {"message": "Rate limit exceeded", "detail": "Rate limit of N requests per hour
for Table API exceeded"}, "status": "failure"}``. There is no ``X-RateLimit-Remaining``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Optional

from .clock import Clock

HOUR_S = 3600
RULE_SYS_ID = "5f3c1a2b9b1220104f3e7a2bdd4bcb11"
"""sys_id of the sandbox's one rule in ``sys_rate_limit_rules``."""


@dataclass(frozen=True)
class Verdict:
    """Whether a request may pass, the headers it carries, and the wait when it may not."""

    headers: dict[str, str]
    retry_after: Optional[int] = None
    limit: int = 0

    @property
    def denied(self) -> bool:
        """True for a 429."""
        return self.retry_after is not None

    @property
    def detail(self) -> str:
        """The 429 body's ``detail``."""
        return f"Rate limit of {self.limit} requests per hour for Table API exceeded"


class RateLimitRule:
    """One "All users" rule counting each user's requests in fixed windows. Thread-safe."""

    def __init__(self, limit: Optional[int], clock: Clock, window_s: int = HOUR_S) -> None:
        """Creates the rule.

        Args:
            limit: Requests per window per user; None: no rule (no headers at all).
            clock: Unix seconds.
            window_s: Window length; an hour on a real instance (tests shorten it).
        """
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}

    def admit(self, user: str) -> Verdict:
        """Counts one request of ``user``."""
        if self.limit is None:
            return Verdict({})
        now = self._clock()
        start = int(now // self.window_s) * self.window_s
        reset = start + self.window_s
        with self._lock:
            seen, used = self._counts.get(user, (start, 0))
            used = used + 1 if seen == start else 1
            self._counts[user] = (start, used)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Rule": RULE_SYS_ID,
        }
        if used <= self.limit:
            return Verdict(headers, limit=self.limit)
        wait = max(1, math.ceil(reset - now))
        return Verdict({**headers, "Retry-After": str(wait)}, retry_after=wait, limit=self.limit)
