"""Stopping a table cleanly when the rate limit asks for a longer wait than the run allows.

What loaded stays loaded and its cursor is saved (listings are in ``sys_updated_on``
order, so the newest record seen bounds what is complete); the next run resumes there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional, TypeVar

from sources.kit.errors import RateLimitedError

logger = logging.getLogger("sluice.servicenow")

T = TypeVar("T")


@dataclass
class RateStop:
    """Whether (and why) one table's work stopped on the rate limit."""

    table: str
    error: Optional[RateLimitedError] = None

    @property
    def stopped(self) -> bool:
        """True once a listing ended on the rate limit."""
        return self.error is not None

    def pages(self, pages: Iterator[T]) -> Iterator[T]:
        """``pages`` until the rate limit stops them (then one warning line, no raise)."""
        if self.stopped:
            return
        try:
            yield from pages
        except RateLimitedError as exc:
            self.error = exc
            logger.warning(
                "servicenow %s: stopped early, the rows loaded so far are kept and the "
                "cursor saved for them: %s",
                self.table,
                exc,
                extra={"resource": self.table},
            )
