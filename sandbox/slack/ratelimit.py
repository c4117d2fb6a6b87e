"""Per-method rate-limit tiers and the 2025 limits for apps outside the Marketplace.

Slack evaluates limits "per API method per workspace per app", in per-minute windows;
Tier 2 allows 20+, Tier 3 50+, Tier 4 100+ requests a minute; a request over the limit is
``HTTP 429 Too Many Requests`` with ``Retry-After`` in seconds and the body
``{"ok": false, "error": "ratelimited"}`` (https://docs.slack.dev/apis/web-api/rate-limits).
Tiers per method are each method's "Facts": conversations.list and users.list Tier 2,
conversations.history and conversations.replies Tier 3, conversations.members Tier 4
(hex.pm slack_kit priv/docs/methods/conversations.members.json). Since 2025-05-29, apps
not approved for the Marketplace get 1 request a minute on conversations.history and
conversations.replies and at most 15 objects per call
(https://docs.slack.dev/changelog/2025/05/29/rate-limit-changes-for-non-marketplace-apps).

``minute_s`` stretches or shrinks the minute so tests need not wait a real one: a window is
``minute_s`` seconds of the sandbox clock, and ``Retry-After`` is the time left in it, in
whole seconds (rounded up) when ``minute_s >= 60`` as Slack sends it, else as a decimal
string (``0.35``); ``X-Sandbox-Retry-After-Ms`` always carries the exact milliseconds.
A decimal ``Retry-After`` is a sandbox liberty: slack_sdk's RateLimitErrorRetryHandler
parses it with ``int()``, so use it only with clients that read decimals.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Optional

Clock = Callable[[], float]

TIER_LIMITS = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "auth.test": 4,  # a "Special" tier on Slack; generous, so Tier 4 here
    "conversations.list": 2,
    "users.list": 2,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.members": 4,
}
MARKETPLACE_METHODS = ("conversations.history", "conversations.replies")
MARKETPLACE_PER_MINUTE = 1
MARKETPLACE_MAX_LIMIT = 15


@dataclass(frozen=True)
class Denial:
    """A 429: the wait and the headers saying so."""

    wait_s: float
    headers: dict[str, str]


def retry_after_headers(wait_s: float, minute_s: float) -> dict[str, str]:
    """``Retry-After`` (whole seconds at real scale, decimal when scaled) and the exact ms."""
    if minute_s >= 60:
        value = str(max(1, math.ceil(wait_s)))
    else:
        value = f"{max(0.001, wait_s):.3f}".rstrip("0").rstrip(".")
    return {"Retry-After": value, "X-Sandbox-Retry-After-Ms": str(max(1, math.ceil(wait_s * 1000)))}


class RateLimits:
    """Fixed per-minute windows per method. Thread-safe."""

    def __init__(
        self,
        clock: Clock,
        *,
        minute_s: float = 60.0,
        marketplace_limits: bool = False,
        enabled: bool = True,
        per_minute: Optional[Mapping[str, int]] = None,
    ) -> None:
        """Creates the limiter.

        Args:
            clock: Seconds (the sandbox clock).
            minute_s: Length of a rate-limit minute in clock seconds.
            marketplace_limits: Apply the non-Marketplace limits of 2025-05-29.
            enabled: False: never answer 429 (injected throttles still happen).
            per_minute: Overrides of requests per minute by method.
        """
        self.clock = clock
        self.minute_s = minute_s
        self.marketplace_limits = marketplace_limits
        self.enabled = enabled
        self.overrides = dict(per_minute or {})
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    def limit_of(self, method: str) -> int:
        """Requests per minute allowed for ``method``."""
        if method in self.overrides:
            return self.overrides[method]
        if self.marketplace_limits and method in MARKETPLACE_METHODS:
            return MARKETPLACE_PER_MINUTE
        return TIER_LIMITS[METHOD_TIERS.get(method, 3)]

    def max_page(self, method: str, default_max: int) -> int:
        """The most objects one call of ``method`` may return."""
        if self.marketplace_limits and method in MARKETPLACE_METHODS:
            return MARKETPLACE_MAX_LIMIT
        return default_max

    def admit(self, method: str) -> Optional[Denial]:
        """Counts one request; a :class:`Denial` when it is over the method's limit."""
        if not self.enabled:
            return None
        now = self.clock()
        window = int(now // self.minute_s)
        with self._lock:
            seen, used = self._windows.get(method, (window, 0))
            used = used + 1 if seen == window else 1
            self._windows[method] = (window, used)
        if used <= self.limit_of(method):
            return None
        wait = (window + 1) * self.minute_s - now
        return Denial(wait, retry_after_headers(wait, self.minute_s))
