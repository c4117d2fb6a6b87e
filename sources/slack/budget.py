"""The run's time budget and the estimated time left of a paced method."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Optional

from sources.kit.errors import RateLimitedError

logger = logging.getLogger("sluice.slack")


class TimeBudgetSpentError(RateLimitedError):
    """The run's ``time_budget_s`` is spent: stop cleanly, keep what was read."""


@dataclass
class RunBudget:
    """How long a run may read, and what the per-method pace makes of the work left.

    Attributes:
        time_budget_s: Seconds the run may spend reading (None: no limit).
        per_minute: Requests per minute per method (the limiter's budget).
        clock: Monotonic clock (injected in tests).
    """

    time_budget_s: Optional[float] = None
    per_minute: Mapping[str, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def check(self, what: str) -> None:
        """Raises once the budget is spent.

        Raises:
            TimeBudgetSpentError: More than ``time_budget_s`` passed since the start.
        """
        if self.time_budget_s is None:
            return
        spent = self.clock() - self.started
        if spent >= self.time_budget_s:
            raise TimeBudgetSpentError(
                f"slack {what}: time budget of {self.time_budget_s:.0f} s spent "
                "(sources.slack.time_budget_s); the next run resumes here"
            )

    def eta_s(self, method: str, calls: float) -> float:
        """Seconds ``calls`` more requests of ``method`` take at its budget."""
        rate = self.per_minute.get(method)
        return calls * 60.0 / rate if rate else 0.0


def estimate_calls(done_channels: int, pages_read: int, channels_left: int) -> float:
    """Requests still needed: the channels left at the mean pages per channel so far
    (at least one each)."""
    mean = pages_read / done_channels if done_channels else 1.0
    return channels_left * max(1.0, mean)


def log_eta(
    resource: str, method: str, budget: RunBudget, done: int, pages: int, left: int
) -> float:
    """Logs and returns the estimated seconds left of one resource."""
    calls = estimate_calls(done, pages, left)
    eta = budget.eta_s(method, calls)
    logger.info(
        "slack %s: %d channel(s) done, %d left, about %.0f %s call(s): estimated %.0f s left",
        resource,
        done,
        left,
        calls,
        method,
        eta,
        extra={"resource": resource, "eta_s": round(eta, 1), "channels_left": left},
    )
    return eta
