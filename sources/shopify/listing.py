"""Paged listing of one resource: root pages, nested connections completed per parent.

Each page's ``first`` comes from the kit's :class:`~sources.kit.graphql.PageSizer` so its
requested cost fits the learnt bucket; a parent whose nested connection has more than
its first page (a product with many variants) gets the rest with ``node(id:)`` queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from sources.kit.graphql import GraphQLClient, PageSizer, complete_nested, paginate

from .cost import MAX_QUERY_COST
from .queries import Shape, nested_query, paged_query
from .settings import MAX_PAGE_SIZE, START_PAGE_SIZE


@dataclass
class Failed:
    """A node of a partial answer: the node as sent and the error naming it."""

    node: dict[str, Any]
    reason: str


@dataclass
class Listed:
    """One page of rows ready for shaping, and the nodes a partial answer broke."""

    nodes: list[dict[str, Any]]
    failed: list[Failed] = field(default_factory=list)


@dataclass
class Sizers:
    """One page sizer per query text, kept for the run (each learns its scale once)."""

    by_query: dict[str, PageSizer] = field(default_factory=dict)

    def get(self, query: str, start: int = START_PAGE_SIZE) -> PageSizer:
        if query not in self.by_query:
            self.by_query[query] = PageSizer(query, max_size=MAX_PAGE_SIZE, start_size=start)
        return self.by_query[query]


def complete(
    client: GraphQLClient, shape: Shape, node: dict[str, Any], label: str, sizers: Sizers
) -> dict[str, Any]:
    """The node with each nested connection turned into the list of all its nodes."""
    row = dict(node)
    for nested in shape.nested:
        if not isinstance(row.get(nested.field), dict):
            continue
        follow = nested_query(nested)
        row[nested.field] = complete_nested(
            client,
            row[nested.field],
            follow,
            ("node", nested.field),
            label=label,
            sizer=sizers.get(follow, nested.first),
            variables={"id": row["id"]},
            ceiling=MAX_QUERY_COST,
        )
    return row


def list_pages(
    client: GraphQLClient,
    shape: Shape,
    *,
    label: str,
    search: Optional[str],
    sizers: Sizers,
) -> Iterator[Listed]:
    """Pages of a resource's nodes (nested lists complete), newest change last.

    Args:
        client: The GraphQL client.
        shape: What the resource selects.
        label: Name the requests are counted under.
        search: Shopify search syntax (``updated_at:>'...'``), None for everything.
        sizers: The run's page sizers.

    Yields:
        Each page: complete nodes, and the nodes a partial answer reported failed.
    """
    query = paged_query(shape)
    variables = {"query": search} if search else {}
    for page in paginate(
        client,
        query,
        (shape.root,),
        label=label,
        sizer=sizers.get(query),
        variables=variables,
        ceiling=MAX_QUERY_COST,
    ):
        listed = Listed([])
        for index, node in enumerate(page.nodes):
            error = page.failures.get(index)
            if error is not None:
                listed.failed.append(
                    Failed(node, f"partial data: {error.message} at {error.where()}")
                )
                continue
            listed.nodes.append(complete(client, shape, node, label, sizers))
        yield listed


def level_rows(locations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inventory levels out of their locations (the rows of ``inventory_levels``)."""
    rows: list[dict[str, Any]] = []
    for location in locations:
        levels = location.get("inventoryLevels")
        for level in levels if isinstance(levels, list) else []:
            rows.append(level)
    return rows
