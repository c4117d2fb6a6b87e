"""Cursor paging over GraphQL connections, nested connections included.

Relay's connection shape (https://relay.dev/graphql/connections.htm): ``first``/``after``
arguments, ``pageInfo { hasNextPage endCursor }``, and the elements as ``edges { node }``
or ``nodes``. Each page's size comes from a :class:`~.costing.PageSizer` so its requested
cost fits the limiter's budget; errors of a partial answer are returned with the index
of the node they belong to, so the caller dead-letters that node and loads the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from sources.kit.errors import PaginationLoopError

from .client import GraphQLClient
from .costing import PageSizer
from .errors import FieldError

logger = logging.getLogger("sluice.graphql")


@dataclass
class ConnectionPage:
    """One page of a connection.

    Attributes:
        nodes: The elements (failed ones included, as the server sent them).
        failures: Index of a failed node to the error that names it.
        other_errors: Errors of a partial answer that name no node of this connection.
    """

    nodes: list[dict[str, Any]]
    failures: dict[int, FieldError] = field(default_factory=dict)
    other_errors: list[FieldError] = field(default_factory=list)


def dig(data: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` in ``data`` (None as soon as a step is missing)."""
    for step in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(step)
    return data


def connection_nodes(connection: Any) -> list[dict[str, Any]]:
    """The elements of a connection value, from ``nodes`` or ``edges[].node``."""
    if not isinstance(connection, Mapping):
        return []
    if isinstance(connection.get("nodes"), list):
        return [n for n in connection["nodes"] if isinstance(n, dict)]
    edges = connection.get("edges")
    if isinstance(edges, list):
        nodes = (e.get("node") for e in edges if isinstance(e, Mapping))
        return [n for n in nodes if isinstance(n, dict)]
    return []


def next_cursor(connection: Any) -> Optional[str]:
    """``endCursor`` when ``hasNextPage`` says there is more, else None."""
    info = connection.get("pageInfo") if isinstance(connection, Mapping) else None
    if isinstance(info, Mapping) and info.get("hasNextPage") and info.get("endCursor"):
        return str(info["endCursor"])
    return None


def locate(errors: Sequence[FieldError], path: Sequence[str]) -> ConnectionPage:
    """Sorts a partial answer's errors by the node of the connection at ``path``."""
    page = ConnectionPage([])
    depth = len(path)
    for error in errors:
        steps = error.path
        if tuple(steps[:depth]) == tuple(path) and len(steps) > depth:
            rest = steps[depth:]
            # edges.<i>.node... or nodes.<i>...
            index = rest[1] if len(rest) > 1 and rest[0] in ("edges", "nodes") else None
            if isinstance(index, int):
                page.failures.setdefault(index, error)
                continue
        page.other_errors.append(error)
    return page


def paginate(
    client: GraphQLClient,
    query: str,
    path: Sequence[str],
    *,
    label: str,
    sizer: PageSizer,
    variables: Optional[Mapping[str, Any]] = None,
    ceiling: Optional[float] = None,
    after: Optional[str] = None,
) -> Iterator[ConnectionPage]:
    """Pages through the connection at ``path`` of ``query``'s data.

    Args:
        client: The GraphQL client.
        query: The document; it takes ``$first`` (``sizer.size_variable``) and ``$after``.
        path: Where the connection is in ``data`` (``("products",)``, ``("node", "variants")``).
        label: Name the requests are counted under.
        sizer: Picks each page's size from the limiter's budget.
        variables: Further variables (the search ``query``, a parent's ``id``).
        ceiling: The API's cap on one query's cost.
        after: The cursor to start after (None: from the start).

    Yields:
        Each page with the failures of a partial answer located.

    Raises:
        PaginationLoopError: The server sent the same cursor twice.
    """
    seen: set[str] = set()
    cursor = after
    while True:
        size = sizer.size(client.limiter.page_budget(ceiling))
        given = {**(variables or {}), sizer.size_variable: size, "after": cursor}
        result = client.execute(query, given, label=label, estimated_cost=sizer.estimate(size))
        if result.cost is not None:
            sizer.learn(size, result.cost.requested)
        connection = dig(result.data, path)
        page = locate(result.errors, path)
        page.nodes = connection_nodes(connection)
        yield page
        cursor = next_cursor(connection)
        if cursor is None:
            return
        if cursor in seen:
            where = ".".join(path)
            raise PaginationLoopError(f"{client.title} repeated cursor {cursor!r} at {where}")
        seen.add(cursor)


def complete_nested(
    client: GraphQLClient,
    connection: Any,
    follow: str,
    path: Sequence[str],
    *,
    label: str,
    sizer: PageSizer,
    variables: Mapping[str, Any],
    ceiling: Optional[float] = None,
) -> list[dict[str, Any]]:
    """Every node of a nested connection: the first page as the parent came, then the rest.

    Args:
        client: The GraphQL client.
        connection: The nested connection value inside its parent node.
        follow: The follow-up document paging that connection of one parent
            (``node(id: $id) { ... on Product { variants(first: $first, after: $after) } }``).
        path: Where the connection is in the follow-up's data (``("node", "variants")``).
        label: Name the requests are counted under.
        sizer: Page sizer of ``follow``.
        variables: The follow-up's variables besides paging (the parent's ``id``).
        ceiling: The API's cap on one query's cost.

    Returns:
        The nodes in order; the parent's first page when it had no more.
    """
    nodes = connection_nodes(connection)
    cursor = next_cursor(connection)
    if cursor is None:
        return nodes
    for page in paginate(
        client,
        follow,
        path,
        label=label,
        sizer=sizer,
        variables=variables,
        ceiling=ceiling,
        after=cursor,
    ):
        nodes.extend(page.nodes)
    return nodes


def flatten(node: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """A copy of ``node`` whose nested connections ``fields`` became lists of nodes."""
    row = dict(node)
    for name in fields:
        if name in row and isinstance(row[name], Mapping):
            row[name] = connection_nodes(row[name])
    return row
