"""GraphQL in the kit: a client on the resilient session, paced by a cost-based limiter.

Modules: ``cost`` (the leaky bucket of points fed by the server's figures, and the
GitHub reader), ``costing`` (static requested cost and the page size that fits),
``client`` (queries over HTTP, THROTTLED retried, errors mapped), ``errors`` (the
``errors`` array onto the kit's exceptions), ``paging`` (connections, nested ones too),
``bulk`` (a JSONL result's ``__parentId`` rows put back under their parents).
"""

from .client import GraphQLClient, GraphQLResult
from .cost import CostLimiter, CostReader, CostReport, Reservation, github_rate_limit_reader
from .costing import PageSizer, static_cost
from .errors import (
    FieldError,
    GraphQLAccessDeniedError,
    GraphQLQueryError,
    GraphQLThrottledError,
    field_errors,
)
from .paging import (
    ConnectionPage,
    complete_nested,
    connection_nodes,
    dig,
    flatten,
    next_cursor,
    paginate,
)

__all__ = [
    "ConnectionPage",
    "CostLimiter",
    "Reservation",
    "CostReader",
    "CostReport",
    "FieldError",
    "GraphQLAccessDeniedError",
    "GraphQLClient",
    "GraphQLQueryError",
    "GraphQLResult",
    "GraphQLThrottledError",
    "PageSizer",
    "complete_nested",
    "connection_nodes",
    "dig",
    "field_errors",
    "flatten",
    "github_rate_limit_reader",
    "next_cursor",
    "paginate",
    "static_cost",
]
