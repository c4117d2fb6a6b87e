"""The part of ServiceNow's encoded query language the sandbox understands.

Grammar, as the ServiceNow SDK's encoded-query guide describes it
(https://servicenow.github.io/sdk/guides/encoded-query-guide): ``^`` is AND, ``^OR``
binds only the condition right before it to the one right after it (so
``a^b^ORc`` is ``a AND (b OR c)``), and ``^NQ`` starts a new query OR-ed with the
others. ``ORDERBYfield`` / ``ORDERBYDESCfield`` sort the whole result
(Table API GET docs: https://docs.servicenow.com/bundle/geneva-servicenow-platform/page/
integrate/inbound_rest/reference/r_TableAPI-GET.html).

Operators: ``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``IN``, ``NOT IN``, ``LIKE``,
``NOTLIKE``, ``STARTSWITH``, ``ENDSWITH``, ``ISEMPTY``, ``ISNOTEMPTY``. Every value is
text on the wire; two plain numbers compare as numbers (integer fields such as
``priority``: ``10 > 9``), anything else as text, which orders ``YYYY-MM-DD HH:MM:SS``
timestamps and sys_ids correctly.

A condition on a field the table does not have is dropped and the rest of the query
still applies, which may return every row; with ``glide.invalid_query.returns_no_rows``
true the query returns nothing (Table API GET docs above; GlideRecord API docs:
https://docs.servicenow.com/bundle/helsinki-application-development/page/app-store/
dev_portal/API_reference/GlideRecord/concept/c_GlideRecordAPI.html).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union

NUMBER = re.compile(r"^-?\d{1,18}(\.\d+)?$")
Compared = Union[float, str]


def comparable(left: str, right: str) -> tuple[Compared, Compared]:
    """Both as numbers when both are plain numbers, else both as text."""
    if NUMBER.match(left) and NUMBER.match(right):
        return float(left), float(right)
    return left, right


def _cmp(test: Callable[[Any, Any], bool]) -> Callable[[str, str], bool]:
    """A comparison of two wire values, numeric when both are numbers."""
    return lambda value, wanted: test(*comparable(value, wanted))


BINARY: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    # Longest symbols first: "NOT IN" before "IN", ">=" before ">", "!=" before "=".
    ("NOT IN", lambda value, listed: value not in listed.split(",")),
    ("NOTLIKE", lambda value, part: part.lower() not in value.lower()),
    ("STARTSWITH", lambda value, part: value.lower().startswith(part.lower())),
    ("ENDSWITH", lambda value, part: value.lower().endswith(part.lower())),
    ("LIKE", lambda value, part: part.lower() in value.lower()),
    ("IN", lambda value, listed: value in listed.split(",")),
    (">=", _cmp(operator.ge)),
    ("<=", _cmp(operator.le)),
    ("!=", _cmp(operator.ne)),
    (">", _cmp(operator.gt)),
    ("<", _cmp(operator.lt)),
    ("=", _cmp(operator.eq)),
)
UNARY: dict[str, Callable[[str], bool]] = {
    "ISNOTEMPTY": lambda value: value != "",
    "ISEMPTY": lambda value: value == "",
}
OPERATORS = dict(BINARY)
ALWAYS_FIELDS = frozenset({"sys_id", "sys_created_on", "sys_updated_on"})


class QueryError(ValueError):
    """A term the sandbox cannot read."""


@dataclass(frozen=True)
class Condition:
    """One ``field <op> value`` term (``value`` is empty for ISEMPTY / ISNOTEMPTY)."""

    name: str
    op: str
    value: str = ""

    def matches(self, record: Mapping[str, str]) -> bool:
        """Whether the record satisfies the term."""
        actual = str(record.get(self.name) or "")
        if self.op in UNARY:
            return UNARY[self.op](actual)
        return OPERATORS[self.op](actual, self.value)


Clause = tuple[Condition, ...]
"""Conditions joined by ``^OR``: one of them must hold."""
Group = tuple[Clause, ...]
"""Clauses joined by ``^``: all of them must hold."""


@dataclass
class EncodedQuery:
    """A parsed ``sysparm_query``: ``^NQ`` groups (any may match) and the sort."""

    groups: list[Group] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)
    no_rows: bool = False

    @property
    def conditions(self) -> list[Condition]:
        """Every condition, in query order."""
        return [c for group in self.groups for clause in group for c in clause]

    def matches(self, record: Mapping[str, str]) -> bool:
        """Whether one ``^NQ`` group has every clause with a condition that holds."""
        if self.no_rows:
            return False
        if not self.groups:
            return True
        return any(
            all(any(c.matches(record) for c in clause) for clause in group) for group in self.groups
        )

    def sort(self, records: list[dict[str, str]]) -> list[dict[str, str]]:
        """Sorted by the ORDERBY terms (stable, later terms first), else by sys_id."""
        ordered = sorted(records, key=lambda r: r.get("sys_id", ""))
        for name, descending in reversed(self.order_by):
            ordered.sort(key=sort_key(name, ordered), reverse=descending)
        return ordered

    def for_fields(self, fields: Collection[str], returns_no_rows: bool = False) -> EncodedQuery:
        """This query on a table with ``fields``: conditions on other fields are dropped.

        Args:
            fields: The table's field names.
            returns_no_rows: ``glide.invalid_query.returns_no_rows``; an invalid
                condition then makes the query return nothing.

        Returns:
            The query the instance would run.
        """
        known = set(fields) | ALWAYS_FIELDS
        invalid = [c for c in self.conditions if c.name not in known]
        if invalid and returns_no_rows:
            return replace(self, no_rows=True)
        groups = [
            tuple(kept for kept in (valid(clause, known) for clause in group) if kept)
            for group in self.groups
        ]
        return replace(
            self,
            # A group left empty keeps no condition: it matches every row, as on instances.
            groups=groups,
            order_by=[(n, d) for n, d in self.order_by if n in known],
        )


def valid(clause: Clause, known: set[str]) -> Clause:
    """The conditions of ``clause`` on known fields."""
    return tuple(c for c in clause if c.name in known)


def sort_key(name: str, records: list[dict[str, str]]) -> Callable[[Mapping[str, str]], Compared]:
    """Sort key on one field: numbers when every value is a plain number, else text."""
    values = [str(r.get(name) or "") for r in records]
    if values and all(NUMBER.match(v) for v in values):
        return lambda record: float(str(record.get(name) or "0"))
    return lambda record: str(record.get(name) or "")


def field_text(name: str) -> Callable[[Mapping[str, str]], str]:
    """Sort key reading one field as text."""
    return lambda record: str(record.get(name, ""))


def parse_query(text: str) -> EncodedQuery:
    """Parses an encoded query.

    Raises:
        QueryError: A term has no known operator.
    """
    query = EncodedQuery()
    for part in text.split("^NQ"):
        group: list[Clause] = []
        for term in (t for t in part.split("^") if t):
            if term.startswith("ORDERBYDESC"):
                query.order_by.append((term[len("ORDERBYDESC") :], True))
            elif term.startswith("ORDERBY"):
                query.order_by.append((term[len("ORDERBY") :], False))
            elif term.startswith("OR") and group:
                # Field names are lower case on instances: a capital OR is the ^OR join.
                group[-1] = (*group[-1], parse_condition(term[2:]))
            else:
                group.append((parse_condition(term),))
        if group:
            query.groups.append(tuple(group))
    return query


def parse_condition(term: str) -> Condition:
    """Parses one ``field<op>value`` term.

    Raises:
        QueryError: The term has no operator the sandbox knows.
    """
    for symbol in UNARY:
        if term.endswith(symbol) and len(term) > len(symbol):
            return Condition(term[: -len(symbol)], symbol)
    positions = []
    for symbol, _ in BINARY:
        at = term.find(symbol)
        if at > 0:
            positions.append((at, -len(symbol), symbol))
    if not positions:
        raise QueryError(f"unsupported query term {term!r}")
    # The operator is the first one after the field name (a value may hold '=' or 'IN').
    at, _, symbol = min(positions)
    return Condition(term[:at], symbol, term[at + len(symbol) :])
