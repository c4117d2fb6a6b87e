"""Shopify's cost figures: ``extensions.cost`` of every Admin GraphQL answer.

Shape documented at https://shopify.dev/docs/api/usage/rate-limits#graphql-admin-api-rate-limits:
``{"requestedQueryCost", "actualQueryCost", "throttleStatus": {"maximumAvailable",
"currentlyAvailable", "restoreRate"}}``; ``actualQueryCost`` is null on a THROTTLED answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from sources.kit.graphql import CostReport

MAX_QUERY_COST = 1000.0
"""A single query may not request more (MAX_COST_EXCEEDED), whatever the plan."""


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def shopify_cost_reader(payload: Mapping[str, Any]) -> Optional[CostReport]:
    """The :class:`CostReport` of one answer (None when it carries no cost)."""
    extensions = payload.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
    if not isinstance(cost, Mapping):
        return None
    status = cost.get("throttleStatus")
    status = status if isinstance(status, Mapping) else {}
    return CostReport(
        requested=_number(cost.get("requestedQueryCost")),
        actual=_number(cost.get("actualQueryCost")),
        maximum=_number(status.get("maximumAvailable")),
        available=_number(status.get("currentlyAvailable")),
        restore_rate=_number(status.get("restoreRate")),
    )
