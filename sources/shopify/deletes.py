"""Deletes: Shopify's deletion events (products, collections) as tombstone rows.

``deletionEvents`` (https://shopify.dev/docs/api/admin-graphql/2025-01/queries/deletionEvents)
lists ``{occurredAt, subjectId, subjectType}`` for the subject types Shopify logs,
``PRODUCT`` and ``COLLECTION``; customers and orders leave only their ``*/delete``
webhook (see :mod:`.webhooks`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

from sources.kit.graphql import GraphQLClient, PageSizer, paginate

from .cost import MAX_QUERY_COST
from .queries import DELETION_EVENTS
from .rows import tombstone
from .settings import MAX_PAGE_SIZE


def deletion_events(
    client: GraphQLClient, subject: str, since: Optional[str], label: str
) -> Iterator[tuple[list[dict[str, Any]], Optional[str]]]:
    """Pages of tombstones for the subject's deletions after ``since``.

    Yields:
        Each page's tombstones and the newest ``occurredAt`` in it.
    """
    variables: dict[str, Any] = {"types": [subject]}
    if since:
        variables["query"] = f"occurred_at:>'{since}'"
    sizer = PageSizer(DELETION_EVENTS, max_size=MAX_PAGE_SIZE, start_size=MAX_PAGE_SIZE)
    for page in paginate(
        client,
        DELETION_EVENTS,
        ("deletionEvents",),
        label=label,
        sizer=sizer,
        variables=variables,
        ceiling=MAX_QUERY_COST,
    ):
        # the search filter is a server feature: the bound is checked here as well
        events = [
            e
            for e in page.nodes
            if e.get("subjectType") == subject and (not since or str(e.get("occurredAt")) > since)
        ]
        newest = max((str(e["occurredAt"]) for e in events), default=None)
        yield [tombstone(str(e["subjectId"]), str(e["occurredAt"])) for e in events], newest
