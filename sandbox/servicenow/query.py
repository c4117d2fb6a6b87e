"""The part of ServiceNow's encoded query language the sandbox understands.

Terms are joined by ``^``: ``field>=value``, ``>``, ``<``, ``<=``, ``=``, ``!=``,
``ORDERBYfield`` and ``ORDERBYDESCfield``. Values compare as text, which orders
``YYYY-MM-DD HH:MM:SS`` timestamps correctly.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

OPERATORS: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    (">=", operator.ge),
    ("<=", operator.le),
    ("!=", operator.ne),
    (">", operator.gt),
    ("<", operator.lt),
    ("=", operator.eq),
)


class QueryError(ValueError):
    """A term the sandbox cannot read."""


@dataclass(frozen=True)
class Condition:
    """One ``field <op> value`` term."""

    name: str
    op: str
    value: str

    def matches(self, record: Mapping[str, str]) -> bool:
        """Whether the record satisfies the term."""
        compare = dict(OPERATORS)[self.op]
        return compare(str(record.get(self.name, "")), self.value)


@dataclass
class EncodedQuery:
    """A parsed ``sysparm_query``."""

    conditions: list[Condition] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)

    def matches(self, record: Mapping[str, str]) -> bool:
        """Whether every condition holds."""
        return all(c.matches(record) for c in self.conditions)

    def sort(self, records: list[dict[str, str]]) -> list[dict[str, str]]:
        """Sorted by the ORDERBY terms (stable, later terms first), else by sys_id."""
        ordered = sorted(records, key=lambda r: r.get("sys_id", ""))
        for name, descending in reversed(self.order_by):
            ordered.sort(key=field_text(name), reverse=descending)
        return ordered


def field_text(name: str) -> Callable[[Mapping[str, str]], str]:
    """Sort key reading one field as text."""
    return lambda record: str(record.get(name, ""))


def parse_query(text: str) -> EncodedQuery:
    """Parses an encoded query.

    Raises:
        QueryError: A term has no known operator.
    """
    query = EncodedQuery()
    for term in (t for t in text.split("^") if t):
        if term.startswith("ORDERBYDESC"):
            query.order_by.append((term[len("ORDERBYDESC") :], True))
        elif term.startswith("ORDERBY"):
            query.order_by.append((term[len("ORDERBY") :], False))
        else:
            query.conditions.append(parse_condition(term))
    return query


def parse_condition(term: str) -> Condition:
    """Parses one ``field<op>value`` term."""
    for symbol, _ in OPERATORS:
        name, found, value = term.partition(symbol)
        if found and name:
            return Condition(name, symbol, value)
    raise QueryError(f"unsupported query term {term!r}")
