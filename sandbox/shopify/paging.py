"""Connections: the ``query`` search subset, ``sortKey``/``reverse``, cursor paging.

Search syntax (https://shopify.dev/docs/api/usage/search-syntax): ``field:value`` terms
joined by spaces or ``AND``; range comparators ``field:>``, ``>=``, ``<``, ``<=``;
values optionally quoted. The sandbox knows ``updated_at``, ``created_at``,
``occurred_at`` (dates) and ``id`` (numeric); Shopify ignores a term it cannot apply
as a filter, and so does the sandbox.

Paging (https://shopify.dev/docs/api/usage/pagination-graphql): ``first``/``after``
forward, ``last``/``before`` backward, at most 250 per page, opaque cursors. The sandbox's
cursors encode the sort value and numeric id of the edge (keyset), so a page boundary
stays put when records change in between.
"""

from __future__ import annotations

import base64
import json
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from graphql import GraphQLError

from .clock import parse_time
from .seed import Record

MAX_PAGE = 250
_TERM = re.compile(r"""(\w+):(>=|<=|>|<)?\s*('[^']*'|"[^"]*"|\S+)""")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "": operator.eq,
}
_DATE_FIELDS = {"updated_at": "_updated", "created_at": "_created", "occurred_at": "_created"}
_SORT_FIELDS: dict[str, Callable[[Record], Any]] = {
    "ID": lambda r: 0,
    "UPDATED_AT": lambda r: r.get("_updated", 0.0),
    "CREATED_AT": lambda r: r.get("_created", 0.0),
    "PROCESSED_AT": lambda r: r.get("_created", 0.0),
    "TITLE": lambda r: str(r.get("title", "")),
    "NAME": lambda r: str(r.get("name", r.get("displayName", ""))),
    "POSITION": lambda r: r.get("position", 0),
}


_LIST_ORDER = {"COLLECTION_DEFAULT", "MANUAL"}


@dataclass(frozen=True)
class Term:
    """One filter: ``field`` compared with ``op`` to ``value``."""

    field: str
    op: str
    value: float


def parse_query(text: Optional[str]) -> list[Term]:
    """The terms of a search query the sandbox can filter on.

    Raises:
        GraphQLError: A date or id term whose value does not parse.
    """
    terms: list[Term] = []
    for match in _TERM.finditer(text or ""):
        field, op, raw = match.group(1).lower(), match.group(2) or "", match.group(3)
        value = raw.strip("'\"")
        try:
            if field in _DATE_FIELDS:
                terms.append(Term(field, op, parse_time(value)))
            elif field == "id":
                terms.append(Term(field, op, float(value.rsplit("/", 1)[-1])))
        except ValueError as exc:
            raise GraphQLError(f"Invalid search value for {field}: {value!r}") from exc
    return terms


def matches(record: Record, terms: Sequence[Term]) -> bool:
    """Whether ``record`` passes every term."""
    for term in terms:
        key = "_num" if term.field == "id" else _DATE_FIELDS[term.field]
        if not _OPS[term.op](float(record.get(key, 0)), term.value):
            return False
    return True


def _encode(key: tuple[Any, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": key[0], "id": key[1]}).encode()).decode()


def _decode(cursor: str) -> tuple[Any, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return data["k"], int(data["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from exc


def connection(
    records: Sequence[Record],
    args: dict[str, Any],
    *,
    unbounded: bool = False,
    transform: Callable[[Record], Any] = lambda r: r,
) -> dict[str, Any]:
    """A connection (``edges``, ``nodes``, ``pageInfo``) over ``records`` for ``args``.

    Args:
        records: Candidate records (unfiltered, any order).
        args: The field's arguments (``first``, ``after``, ``query``, ``sortKey``...).
        unbounded: A bulk operation's export: every record, ``first``/``last`` optional.
        transform: What a node becomes (e.g. a malformed copy).

    Raises:
        GraphQLError: Neither or too large ``first``/``last``, or a bad cursor/query.
    """
    first, last = args.get("first"), args.get("last")
    if not unbounded:
        if first is None and last is None:
            # Shopify: "you must provide one of first or last" (graphql-ruby's wording).
            raise GraphQLError("you must provide one of first or last")
        for name, value in (("first", first), ("last", last)):
            if value is not None and not 0 <= value <= MAX_PAGE:
                raise GraphQLError(f"The {name} argument must be between 0 and {MAX_PAGE}")
    sort_key = str(args.get("sortKey") or "ID")
    sort = _SORT_FIELDS.get(sort_key, _SORT_FIELDS["ID"])
    terms = parse_query(args.get("query"))
    # A manual collection's default order is the merchant's order (the list's order).
    position = {id(r): i for i, r in enumerate(records)} if sort_key in _LIST_ORDER else None

    def key(record: Record) -> tuple[Any, int]:
        first_part = position[id(record)] if position is not None else sort(record)
        return first_part, int(record.get("_num", 0))

    rows = sorted((r for r in records if matches(r, terms)), key=key)
    if args.get("reverse"):
        rows.reverse()
    keyed = [(key(r), r) for r in rows]
    descending = bool(args.get("reverse"))

    def after(k: tuple[Any, int], bound: tuple[Any, int]) -> bool:
        return k < bound if descending else k > bound

    if args.get("after"):
        bound = _decode(args["after"])
        keyed = [(k, r) for k, r in keyed if after(k, tuple(bound))]  # type: ignore[arg-type]
    if args.get("before"):
        bound = _decode(args["before"])
        keyed = [(k, r) for k, r in keyed if after(tuple(bound), k)]  # type: ignore[arg-type]
    total = len(keyed)
    if first is not None:
        keyed = keyed[:first]
    if last is not None:
        keyed = keyed[max(0, len(keyed) - last) :]
    edges = [{"cursor": _encode(k), "node": transform(r)} for k, r in keyed]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": first is not None and total > len(edges),
            "hasPreviousPage": (last is not None and total > len(edges)) or bool(args.get("after")),
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }
