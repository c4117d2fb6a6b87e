"""Proactive rate limiting shared by every resource and thread of a source.

:class:`TokenBucket` spaces requests evenly: each acquirer reserves the next slot
under a lock and sleeps until it outside the lock, so many threads together never
exceed the rate. :class:`RateLimiter` holds one bucket per endpoint group plus the
source-wide default bucket (a grouped request takes from both) and adapts them to
what the server says: rate-limit headers, ``Retry-After``, provider budgets read by
:class:`BudgetReader` plug-ins, and - when a 429 carries no hint at all - AIMD
(multiplicative decrease, additive increase after a run of successes).

Buckets count *units*: one per request by default, or what a :class:`RequestCosts`
table says a request costs where the provider meters quota units per method (Gmail's
``messages.get`` costs 5). A request that bundles others (a batch) is charged the sum of
its parts with :meth:`RateLimiter.charge`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional

from requests import Response

from .errors import ConfigurationError
from .hints import RateLimitInfo, rate_limit_info, retry_after_seconds

logger = logging.getLogger("sluice.ratelimit")

DEFAULT_GROUP = "default"
MIN_RATE = 0.001
"""Slowest pace a bucket is ever set to (one request per ~17 minutes)."""


@dataclass(frozen=True)
class RateLimit:
    """A configured limit.

    Attributes:
        per_second: The provider's documented limit in requests per second.
        burst: Requests that may go out back to back (1 = evenly spaced).
        target_share: Share of the limit to aim for (1.0 = the full limit).
    """

    per_second: float
    burst: int = 1
    target_share: float = 1.0

    def __post_init__(self) -> None:
        if self.per_second <= 0:
            raise ConfigurationError(f"rate limit must be positive, got {self.per_second}")
        if self.burst < 1:
            raise ConfigurationError(f"burst must be at least 1, got {self.burst}")
        if not 0 < self.target_share <= 1:
            raise ConfigurationError(f"target_share must be in (0, 1], got {self.target_share}")

    @property
    def target_rate(self) -> float:
        """Requests per second the client aims for."""
        return self.per_second * self.target_share


@dataclass(frozen=True)
class AdaptiveSettings:
    """How the limiter reacts to the server.

    Attributes:
        decrease_factor: Rate multiplier on a 429 without hint (AIMD decrease).
        floor_share: Lowest rate AIMD goes to, as a share of the configured rate.
        increase_after: Consecutive successes before the rate is raised again.
        increase_share: Rate added per increase, as a share of the configured rate.
        decrease_cooldown_s: Further 429s within this time do not decrease again
            (many threads see the same throttling at once).
        max_pause_s: Longest pause a ``Retry-After`` or reset header may impose.
    """

    decrease_factor: float = 0.7
    floor_share: float = 0.1
    increase_after: int = 20
    increase_share: float = 0.05
    decrease_cooldown_s: float = 1.0
    max_pause_s: float = 300.0


class TokenBucket:
    """Thread-safe token bucket that hands out evenly spaced slots.

    Each acquirer reserves the next free slot under the lock (generic cell rate
    algorithm) and then sleeps until it outside the lock; with ``burst=1`` requests
    leave exactly ``1/rate`` apart however many threads wait.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Creates a full bucket.

        Args:
            rate_per_s: Tokens added per second.
            burst: Bucket capacity (requests that may go back to back).
            clock: Monotonic clock (injected in tests).
            sleep: Sleep function (injected in tests).
        """
        if rate_per_s <= 0 or burst < 1:
            raise ConfigurationError("token bucket needs a positive rate and burst >= 1")
        self._rate = float(rate_per_s)
        self._burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = float("-inf")

    def __repr__(self) -> str:
        return f"TokenBucket(rate_per_s={self._rate:.3f}, burst={self._burst})"

    @property
    def rate(self) -> float:
        """Current rate in tokens per second."""
        return self._rate

    @property
    def burst(self) -> int:
        """Bucket capacity."""
        return self._burst

    def set_rate(self, rate_per_s: float) -> None:
        """Changes the rate for slots reserved from now on."""
        with self._lock:
            self._rate = max(MIN_RATE, float(rate_per_s))

    def pause_until(self, when: float) -> None:
        """Hands out no slot before ``when`` (monotonic clock time)."""
        with self._lock:
            earliest = when + (self._burst - 1) / self._rate
            self._next_slot = max(self._next_slot, earliest)

    def acquire(self, n: float = 1) -> float:
        """Takes ``n`` tokens, sleeping until the reserved slot comes.

        Args:
            n: Tokens to take.

        Returns:
            Seconds slept.
        """
        wait = self._reserve(n, commit_if_late=True)
        if wait > 0:
            self._sleep(wait)
        return wait

    def pending_wait(self, n: float = 1) -> float:
        """Seconds the next acquirer of ``n`` tokens would wait (no token taken)."""
        with self._lock:
            now = self._clock()
            start = max(self._next_slot, now)
            return max(0.0, start - (self._burst - n) / self._rate - now)

    def try_acquire(self, n: float = 1) -> bool:
        """Takes ``n`` tokens only if that needs no waiting.

        Returns:
            True when the tokens were taken.
        """
        return self._reserve(n, commit_if_late=False) == 0.0

    def _reserve(self, n: float, *, commit_if_late: bool) -> float:
        with self._lock:
            now = self._clock()
            start = max(self._next_slot, now)
            allowed_at = start - (self._burst - n) / self._rate
            wait = max(0.0, allowed_at - now)
            if wait > 0 and not commit_if_late:
                return wait
            self._next_slot = start + n / self._rate
            return wait


class RequestCosts:
    """What each request costs in the provider's quota units, by URL path.

    Example (Gmail, where the budget is units per user per second)::

        RequestCosts({r"/messages/[^/]+$": 5, r"/history$": 2}, default=1)

    The first pattern that matches (``re.search``) gives the cost.
    """

    def __init__(self, costs: Mapping[str, float], default: float = 1.0) -> None:
        """Creates the table.

        Args:
            costs: Path regex to units, tried in order.
            default: Units of a request no pattern matches.

        Raises:
            ConfigurationError: A cost is not positive.
        """
        bad = {pattern: units for pattern, units in costs.items() if units <= 0}
        if bad or default <= 0:
            raise ConfigurationError(f"request costs must be positive, got {bad or default}")
        self._costs = [(re.compile(pattern), float(units)) for pattern, units in costs.items()]
        self.default = float(default)

    def __repr__(self) -> str:
        return f"RequestCosts({len(self._costs)} pattern(s), default={self.default})"

    def __call__(self, path: str) -> float:
        """Units a request to ``path`` costs."""
        for pattern, units in self._costs:
            if pattern.search(path):
                return units
        return self.default


class BudgetUsage:
    """How much of a provider's usage budget (e.g. a daily API quota) is spent."""

    def __init__(self, name: str, used: float, limit: float) -> None:
        """Creates a reading.

        Args:
            name: Which budget, e.g. ``salesforce api-usage``.
            used: Units spent.
            limit: Units allowed.
        """
        self.name = name
        self.used = used
        self.limit = limit

    def __repr__(self) -> str:
        return f"BudgetUsage({self.name!r}, used={self.used}, limit={self.limit})"

    @property
    def share(self) -> float:
        """Spent share of the budget (0.0 when the limit is unknown)."""
        return self.used / self.limit if self.limit > 0 else 0.0


class BudgetReader(ABC):
    """Reads a provider usage budget from responses; the limiter slows down near it.

    Attributes:
        threshold_share: Spent share from which requests slow to a trickle.
        trickle_per_second: The rate once the threshold is passed.
    """

    threshold_share: float = 0.9
    trickle_per_second: float = 0.2

    @abstractmethod
    def read(self, response: Response) -> Optional[BudgetUsage]:
        """Returns the budget usage the response reports, or None."""


_SFORCE_USAGE = re.compile(r"(?P<key>[\w-]+)=(?P<used>\d+)/(?P<limit>\d+)")


class SalesforceLimitInfoReader(BudgetReader):
    """Reads Salesforce's ``Sforce-Limit-Info: api-usage=18/5000`` header."""

    def __init__(
        self,
        threshold_share: float = 0.9,
        trickle_per_second: float = 0.2,
        usage_key: str = "api-usage",
        header: str = "Sforce-Limit-Info",
    ) -> None:
        """Creates the reader.

        Args:
            threshold_share: Spent share of the org's API budget from which to trickle.
            trickle_per_second: The rate once the threshold is passed.
            usage_key: Which entry of the header to read.
            header: The header name.
        """
        self.threshold_share = threshold_share
        self.trickle_per_second = trickle_per_second
        self.usage_key = usage_key
        self.header = header

    def read(self, response: Response) -> Optional[BudgetUsage]:
        """Returns the org's API usage, or None when the header is missing or malformed."""
        value = response.headers.get(self.header)
        if not value:
            return None
        for match in _SFORCE_USAGE.finditer(value):
            if match.group("key").lower() == self.usage_key.lower():
                return BudgetUsage(
                    f"salesforce {self.usage_key}",
                    float(match.group("used")),
                    float(match.group("limit")),
                )
        return None


@dataclass
class _GroupState:
    """One endpoint group's bucket and what the server said about it."""

    name: str
    limit: RateLimit
    bucket: TokenBucket
    pattern: Optional[re.Pattern[str]] = None
    aimd_rate: float = 0.0
    successes: int = 0
    last_decrease_at: float = float("-inf")
    window_cap: Optional[float] = None
    window_cap_until: float = float("-inf")
    budget_caps: dict[str, float] = field(default_factory=dict)
    window_reset_at: float = float("-inf")
    window_used: int = 0

    def effective_rate(self, now: float) -> float:
        rate = self.aimd_rate
        if self.window_cap is not None and now < self.window_cap_until:
            rate = min(rate, self.window_cap)
        if self.budget_caps:
            rate = min(rate, *self.budget_caps.values())
        return max(MIN_RATE, rate)


class RateLimiter:
    """Per-source limiter with endpoint groups, adapting to server feedback.

    Example::

        RateLimiter(
            default=RateLimit(per_second=25),
            groups={"search": (r"^/v1/[^/]+/search", RateLimit(per_second=20))},
        )
    """

    def __init__(
        self,
        default: RateLimit,
        groups: Optional[Mapping[str, tuple[str, RateLimit]]] = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        wall_clock: Callable[[], float] = time.time,
        budget_readers: Iterable[BudgetReader] = (),
        adaptive: Optional[AdaptiveSettings] = None,
        costs: Optional[Callable[[str], float]] = None,
    ) -> None:
        """Creates the limiter.

        Args:
            default: The source-wide limit every request counts against.
            groups: Group name to (path regex, limit); a request whose path matches
                counts against its group and the default.
            clock: Monotonic clock (injected in tests).
            sleep: Sleep function (injected in tests).
            wall_clock: Epoch-seconds clock for HTTP dates and epoch reset values.
            budget_readers: Provider budget readers (e.g. Salesforce's limit info).
            adaptive: How to react to server feedback.
            costs: Units a request to a path costs (a :class:`RequestCosts`); every
                request costs one unit when None, so limits are requests per second.
                With costs, every limit (groups and default) is in units per second.
        """
        self._clock = clock
        self._costs = costs
        self._charged = threading.local()
        self._units_spent = 0.0
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self.adaptive = adaptive or AdaptiveSettings()
        self.budget_readers = list(budget_readers)
        self._warned_budgets: set[str] = set()
        self._throttle_wait_s = 0.0
        self._groups: dict[str, _GroupState] = {
            DEFAULT_GROUP: self._new_state(DEFAULT_GROUP, default)
        }
        for name, (pattern, limit) in (groups or {}).items():
            if name == DEFAULT_GROUP:
                raise ConfigurationError(f"group name {DEFAULT_GROUP!r} is reserved")
            self._groups[name] = self._new_state(name, limit, re.compile(pattern))

    def _new_state(
        self, name: str, limit: RateLimit, pattern: Optional[re.Pattern[str]] = None
    ) -> _GroupState:
        bucket = TokenBucket(limit.target_rate, limit.burst, clock=self._clock, sleep=self._sleep)
        return _GroupState(name, limit, bucket, pattern, aimd_rate=limit.target_rate)

    @property
    def groups(self) -> tuple[str, ...]:
        """Group names, ``default`` first."""
        return tuple(self._groups)

    @property
    def throttle_wait_s(self) -> float:
        """Seconds all callers together spent waiting for a slot."""
        with self._lock:
            return self._throttle_wait_s

    def group_for(self, path: str) -> str:
        """Returns the group a request path belongs to (``default`` when none matches)."""
        for state in self._groups.values():
            if state.pattern is not None and state.pattern.search(path):
                return state.name
        return DEFAULT_GROUP

    def current_rate(self, group: str = DEFAULT_GROUP) -> float:
        """Requests per second the group is currently paced at."""
        with self._lock:
            return self._groups[group].effective_rate(self._clock())

    @property
    def units_spent(self) -> float:
        """Units all requests together were charged (attempts included)."""
        with self._lock:
            return self._units_spent

    def cost_of(self, path: str) -> float:
        """Units a request to ``path`` sent now would be charged."""
        charged: Optional[float] = getattr(self._charged, "units", None)
        if charged is not None:
            return charged
        return self._costs(path) if self._costs is not None else 1.0

    @contextmanager
    def charge(self, units: float) -> Iterator[None]:
        """Charges ``units`` for every request this thread sends inside the block.

        For requests whose cost is not their path's: a batch costs the sum of the
        requests it carries (each retry of it too).

        Args:
            units: Units per request sent in the block.

        Raises:
            ConfigurationError: ``units`` is not positive.
        """
        if units <= 0:
            raise ConfigurationError(f"a request must cost a positive number of units: {units}")
        before = getattr(self._charged, "units", None)
        self._charged.units = float(units)
        try:
            yield
        finally:
            self._charged.units = before

    def acquire(self, path: str) -> float:
        """Waits until the request's units are free in its group and the source-wide bucket.

        Args:
            path: URL path of the request.

        Returns:
            Seconds waited.
        """
        states = self._states_for(path)
        units = self.cost_of(path)
        with self._lock:
            now = self._clock()
            for state in states:
                self._apply_rate(state, now)
            self._units_spent += units
        waited = sum(state.bucket.acquire(units) for state in states)
        if waited > 0:
            with self._lock:
                self._throttle_wait_s += waited
        return waited

    def pending_wait(self, path: str) -> float:
        """Seconds a request to ``path`` would wait for its slot now (nothing reserved)."""
        states = self._states_for(path)
        with self._lock:
            now = self._clock()
            for state in states:
                self._apply_rate(state, now)
        units = self.cost_of(path)
        return max(state.bucket.pending_wait(units) for state in states)

    def pause(self, group: str, seconds: float) -> None:
        """Holds back every request of ``group`` for ``seconds``."""
        seconds = min(max(0.0, seconds), self.adaptive.max_pause_s)
        self._groups[group].bucket.pause_until(self._clock() + seconds)
        logger.info("rate limiter: pausing group %s for %.2f s", group, seconds)

    def observe(self, path: str, response: Response) -> None:
        """Adapts the pace to a response's status and rate-limit headers.

        Args:
            path: URL path of the request.
            response: What the server answered.
        """
        state = self._groups[self.group_for(path)]
        wall = self._wall_clock()
        retry_after = retry_after_seconds(response.headers, wall)
        info = rate_limit_info(response.headers, wall)
        status = response.status_code
        if retry_after is not None and (status == 429 or status >= 500):
            self.pause(state.name, retry_after)
        if info is not None:
            self._observe_window(state, info)
        with self._lock:
            now = self._clock()
            if status == 429 and retry_after is None and not (info and info.exhausted):
                self._decrease(state, now)
            elif status < 400:
                self._count_success(state)
            self._apply_rate(state, now)
        self._observe_budgets(response)

    def snapshot(self) -> dict[str, Any]:
        """Current rates and total throttle wait (and units spent, when requests have
        costs), for run summaries."""
        with self._lock:
            now = self._clock()
            snapshot: dict[str, Any] = {
                "throttle_wait_s": round(self._throttle_wait_s, 3),
                "rates": {n: round(s.effective_rate(now), 3) for n, s in self._groups.items()},
            }
            if self._costs is not None:
                snapshot["units_spent"] = round(self._units_spent, 3)
            return snapshot

    def _states_for(self, path: str) -> list[_GroupState]:
        group = self.group_for(path)
        if group == DEFAULT_GROUP:
            return [self._groups[DEFAULT_GROUP]]
        return [self._groups[group], self._groups[DEFAULT_GROUP]]

    def _observe_window(self, state: _GroupState, info: RateLimitInfo) -> None:
        if info.reset_s is None or info.reset_s <= 0:
            return
        remaining = info.remaining
        if remaining is None:
            remaining = self._estimate_remaining(state, info)
            if remaining is None:
                return
        self._pace_window(state, remaining, info.reset_s)

    def _estimate_remaining(self, state: _GroupState, info: RateLimitInfo) -> Optional[float]:
        """Limit less this client's own requests in the window, for servers that send
        ``Limit`` and ``Reset`` but no ``Remaining`` (ServiceNow's hourly rules). A lower
        bound on what is used: other clients of the same user count too."""
        if info.limit is None or info.reset_s is None:
            return None
        reset_at = round(self._wall_clock() + info.reset_s)
        with self._lock:
            if abs(reset_at - state.window_reset_at) > 1:
                state.window_reset_at, state.window_used = reset_at, 0
            state.window_used += 1
            return max(0.0, info.limit - state.window_used)

    def _pace_window(self, state: _GroupState, remaining: float, reset_s: float) -> None:
        if remaining <= 0:
            self.pause(state.name, reset_s)
            return
        spread = remaining / reset_s
        with self._lock:
            if spread < state.limit.target_rate:
                state.window_cap = spread
                state.window_cap_until = self._clock() + reset_s
            else:
                state.window_cap = None

    def _decrease(self, state: _GroupState, now: float) -> None:
        state.successes = 0
        if now - state.last_decrease_at < self.adaptive.decrease_cooldown_s:
            return
        floor = state.limit.target_rate * self.adaptive.floor_share
        state.aimd_rate = max(floor, state.aimd_rate * self.adaptive.decrease_factor)
        state.last_decrease_at = now
        logger.info(
            "rate limiter: 429 without hint on group %s, slowing to %.2f req/s",
            state.name,
            state.aimd_rate,
        )

    def _count_success(self, state: _GroupState) -> None:
        target = state.limit.target_rate
        if state.aimd_rate >= target:
            return
        state.successes += 1
        if state.successes >= self.adaptive.increase_after:
            state.successes = 0
            state.aimd_rate = min(target, state.aimd_rate + target * self.adaptive.increase_share)

    def _observe_budgets(self, response: Response) -> None:
        state = self._groups[DEFAULT_GROUP]
        for reader in self.budget_readers:
            usage = reader.read(response)
            if usage is None:
                continue
            with self._lock:
                if usage.share >= reader.threshold_share:
                    state.budget_caps[usage.name] = reader.trickle_per_second
                    self._warn_budget_once(usage, reader)
                else:
                    state.budget_caps.pop(usage.name, None)
                self._apply_rate(state, self._clock())

    def _warn_budget_once(self, usage: BudgetUsage, reader: BudgetReader) -> None:
        if usage.name in self._warned_budgets:
            return
        self._warned_budgets.add(usage.name)
        logger.warning(
            "%s is at %.0f%% (%d of %d): slowing to %.2f request(s) per second",
            usage.name,
            usage.share * 100,
            usage.used,
            usage.limit,
            reader.trickle_per_second,
        )

    def _apply_rate(self, state: _GroupState, now: float) -> None:
        rate = state.effective_rate(now)
        if rate != state.bucket.rate:
            state.bucket.set_rate(rate)
