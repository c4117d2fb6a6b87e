"""Helpers the Stripe end-to-end tests share: what the sandbox lists, rows to compare."""

from __future__ import annotations

from typing import Any

from sandbox.stripe import StripeSandbox

COMPARE_SQL = {
    "customers": "SELECT id, name, email, deleted FROM stripe.customers",
    "subscriptions": "SELECT id, status, deleted FROM stripe.subscriptions",
    "charges": "SELECT id, amount, currency, status FROM stripe.charges",
    "events": "SELECT id, type FROM stripe.events",
}
"""Columns compared across destinations, one query per table (schema ``stripe``)."""


def listed_ids(sandbox: StripeSandbox, resource: str) -> set[str]:
    """Ids of every object ``GET /v1/<resource>`` lists (what a full sync must load)."""
    return {o["id"] for o in sandbox.store.listable(resource)}


def rows_by_id(fetch: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """Query rows keyed by their first column (the id)."""
    return {r[0]: tuple(r[1:]) for r in fetch}
