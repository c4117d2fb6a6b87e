"""What a Shopify run shares, and the steps of one resource's rows.

Kept apart from the source so each step stays small: the search term of a run, the
choice of bulk or paging, yielding a page (guard, ledger, child tables), the cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sources.kit.connector import ResourceSpec, child_items
from sources.kit.deadletters import RecordGuard
from sources.kit.emit import emit_page
from sources.kit.errors import ConfigurationError
from sources.kit.graphql import GraphQLQueryError
from sources.kit.monitor import SyncMonitor

from .client import ShopifyClient
from .listing import Sizers
from .queries import Shape
from .rows import legacy_id, snake
from .settings import BACKFILL_MODES

logger = logging.getLogger("sluice.shopify")


@dataclass
class Run:
    """What every resource of one run shares."""

    run_id: str
    monitor: SyncMonitor
    client: ShopifyClient
    lookback_s: float
    backfill: str
    bulk_threshold: int
    bulk_fallback: bool
    now: float
    first_since: Optional[str] = None
    inbox_path: Optional[str] = None
    sizers: Sizers = field(default_factory=Sizers)


def check_backfill(mode: str) -> str:
    """The backfill mode, or one line naming the setting."""
    if mode not in BACKFILL_MODES:
        raise ConfigurationError(
            f"sources.shopify.backfill {mode!r} is not one of {', '.join(BACKFILL_MODES)}"
        )
    return mode


def iso(moment: datetime) -> str:
    """Shopify's DateTime text (UTC, seconds, ``Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 UTC text as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def minus(text: str, seconds: float) -> str:
    """``text`` moved ``seconds`` back (the lookback behind a saved cursor)."""
    return iso(parse_iso(text) - timedelta(seconds=seconds))


def newest(
    current: Optional[str], rows: list[dict[str, Any]], key: str = "updated_at"
) -> Optional[str]:
    """The latest of ``current`` and the rows' ``key`` (ISO texts compare in order)."""
    values = [str(r[key]) for r in rows if isinstance(r, dict) and r.get(key)]
    if current:
        values.append(current)
    return max((iso(parse_iso(v)) for v in values), default=None)


def search_for(shape: Shape, cursor: Optional[str], first_since: Optional[str]) -> Optional[str]:
    """The ``query`` search term of a listing (https://shopify.dev/docs/api/usage/search-syntax)."""
    if not shape.incremental:
        return None
    if cursor:
        return f"updated_at:>'{cursor}'"
    if first_since:
        return f"updated_at:>='{first_since}'"
    return None


def count_query(shape: Shape) -> str:
    """``productsCount(query:, limit:)``: how many records a backfill would list.

    The ``*Count`` queries replaced ``totalCount`` in 2024-04 and stop counting at
    ``limit`` (10,000 by default,
    https://shopify.dev/docs/api/admin-graphql/2025-01/queries/productsCount).
    """
    return (
        f"query($query: String, $limit: Int) {{ "
        f"{shape.root}Count(query: $query, limit: $limit) {{ count }} }}"
    )


def wants_bulk(
    run: Run, shape: Shape, cursor: Optional[str], search: Optional[str], label: str
) -> bool:
    """Whether this listing is a backfill large enough for a bulk operation."""
    if cursor is not None or run.backfill == "paged":
        return False
    if run.backfill == "bulk":
        return True
    if shape.rows_from:
        return False  # inventory levels: no count of their own to decide on
    variables = {"query": search, "limit": run.bulk_threshold + 1}
    try:
        result = run.client.graphql.execute(
            count_query(shape), variables, label=label, estimated_cost=1
        )
    except GraphQLQueryError:
        logger.debug("shopify %s: no %sCount on this API version: paging", label, shape.root)
        return False
    counted = (result.data.get(f"{shape.root}Count") or {}).get("count")
    return isinstance(counted, int) and counted > run.bulk_threshold


def child_row(entry: Any) -> Any:
    """A child table's row: its numeric id as an int, as for parents."""
    if isinstance(entry, dict) and "id" in entry:
        numeric = entry.get("legacy_resource_id")
        entry["legacy_resource_id"] = (
            int(numeric)
            if isinstance(numeric, str) and numeric.isdigit()
            else legacy_id(entry["id"])
        )
    return entry


def complete_children(parent: Any, child: Any) -> Optional[list[dict[str, Any]]]:
    """The child list (already complete: nested connections were paged or reassembled)."""
    entries = parent.get(child.field)
    return [child_row(e) for e in entries] if isinstance(entries, list) else None


def emit(
    guard: RecordGuard,
    spec: ResourceSpec,
    monitor: SyncMonitor,
    nodes: list[dict[str, Any]],
    cursor: Optional[str],
    *,
    deleted: int = 0,
    pages: int = 1,
) -> Iterator[Any]:
    """Yields a page through the guard, ledger counters, and its child tables."""
    updated = 0
    if cursor:
        updated = sum(1 for n in nodes if str(n.get("createdAt") or "9") <= cursor)
    for item in emit_page(
        guard, nodes, monitor, spec.name, updated=updated, deleted=deleted, pages=pages
    ):
        if isinstance(item, list) and spec.children:
            # the children leave their parents here (child_items pops the lists)
            yield from child_items(item, spec.children, complete_children)
        yield item


def reject(guard: RecordGuard, monitor: SyncMonitor, name: str, failed: list[Any]) -> Iterator[Any]:
    """Dead-letters the nodes a partial answer reported failed."""
    for item in failed:
        yield from guard.reject(item.node, item.reason)
    if failed:
        monitor.record(name, dead_lettered=len(failed), pages=0)


__all__ = ["Run", "check_backfill", "emit", "minus", "newest", "reject", "search_for", "snake"]
