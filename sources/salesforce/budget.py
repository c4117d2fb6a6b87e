"""The daily API budget: read ``Sforce-Limit-Info`` on every response, stop in time.

The kit's limiter already slows down near the limit (``SalesforceLimitInfoReader``);
this guard stops the run before a configured share of the org's daily requests is
spent, so the integrations sharing the org keep theirs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from requests import Response

from sources.kit.errors import ConfigurationError, FatalError
from sources.kit.ratelimit import BudgetUsage, SalesforceLimitInfoReader

logger = logging.getLogger("sluice.salesforce")


class ApiBudgetExceededError(FatalError):
    """The org's API usage reached the share this connector may use."""


class BudgetGuard:
    """Response hook raising :class:`ApiBudgetExceededError` at ``max_share`` of the limit.

    Attributes:
        max_share: Share of the daily limit (0 < share <= 1) the run may reach.
        last_usage: The newest reading, for the run summary.
    """

    def __init__(self, max_share: float, reader: Optional[SalesforceLimitInfoReader] = None):
        """Creates the guard.

        Raises:
            ConfigurationError: ``max_share`` is not in (0, 1].
        """
        if not 0 < max_share <= 1:
            raise ConfigurationError(
                f"sources.salesforce.max_api_usage_share must be in (0, 1], got {max_share}"
            )
        self.max_share = max_share
        self.reader = reader or SalesforceLimitInfoReader()
        self.last_usage: Optional[BudgetUsage] = None
        self._lock = threading.Lock()

    def __call__(self, response: Response, *args: Any, **kwargs: Any) -> None:
        """Response hook: reads the usage header; raises once the share is reached."""
        self.check(response)

    def check(self, response: Response) -> None:
        """Records the usage a response reports and stops the run when it is too high.

        Raises:
            ApiBudgetExceededError: Used requests reached ``max_share`` of the limit.
        """
        usage = self.reader.read(response)
        if usage is None:
            return
        with self._lock:
            self.last_usage = usage
        if usage.limit > 0 and usage.used >= usage.limit * self.max_share:
            raise ApiBudgetExceededError(
                f"Salesforce API budget: {int(usage.used)} of {int(usage.limit)} daily requests "
                f"used ({usage.share:.0%}), the share this connector may use is "
                f"{self.max_share:.0%} (sources.salesforce.max_api_usage_share); stopping "
                "before more is spent. Rerun after the 24-hour window frees requests, or "
                "raise the share",
                response=response,
            )
