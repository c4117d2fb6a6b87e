"""The subset of SOQL the sandbox understands.

``SELECT f1, f2 | COUNT() FROM Object [WHERE a op v [AND ...]] [ORDER BY f [ASC|DESC], ...]
[LIMIT n]`` with ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` and ``f IN (v, ...)``; values
are ``true``, ``false``, ``null``, numbers, quoted strings and datetime literals
(``2024-01-01T00:00:00Z``). Anything else is a ``MALFORMED_QUERY``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from .schema import OBJECTS, field_names

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_IN = re.compile(r"^\s*(?P<field>\w+)\s+IN\s*\((?P<values>.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_CONDITION = re.compile(r"^\s*(?P<field>\w+)\s*(?P<op>!=|<=|>=|=|<|>)\s*(?P<value>.+?)\s*$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "IN": lambda actual, values: actual in values,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class SoqlError(Exception):
    """A query the sandbox refuses; ``code`` is Salesforce's ``errorCode``."""

    def __init__(self, code: str, message: str) -> None:
        """Creates the error."""
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Condition:
    """``field op value``."""

    field: str
    op: str
    value: Any

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` satisfies the condition (null compares only with ``=``/``!=``)."""
        actual = comparable(record.get(self.field))
        if actual is None or self.value is None:
            return OPERATORS[self.op](actual, self.value) if self.op in ("=", "!=") else False
        return OPERATORS[self.op](actual, self.value)


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    object_name: str
    fields: tuple[str, ...]
    conditions: tuple[Condition, ...]
    order: tuple[tuple[str, bool], ...]
    limit: Optional[int]
    count: bool = False

    def run(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filters, sorts, limits and projects ``records``."""
        rows = [r for r in records if all(c.matches(r) for c in self.conditions)]
        for name, descending in reversed(self.order):
            rows.sort(key=field_key(name), reverse=descending)
        if self.limit is not None:
            rows = rows[: self.limit]
        return [
            {name: selected(self.object_name, row, name) for name in self.fields} for row in rows
        ]


ADDRESS_PARTS = ("Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude")
"""Components of a compound address (``BillingAddress`` -> ``BillingCity``...), each
under its lower-camel name in the compound value (Address Compound Fields,
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/compound_fields_address.htm)."""


ADDRESSES = {o: frozenset(f.name for f in fs if f.type == "address") for o, fs in OBJECTS.items()}


def selected(object_name: str, row: dict[str, Any], name: str) -> Any:
    """A field's value in a result row; a compound address is built from its parts."""
    if name not in ADDRESSES[object_name]:
        return row.get(name)
    prefix = name.removesuffix("Address")
    return {p[0].lower() + p[1:]: row.get(prefix + p) for p in ADDRESS_PARTS}


def comparable(value: Any) -> Any:
    """Datetime text becomes a ``datetime`` so it compares by time, not by characters."""
    if isinstance(value, str) and _DATETIME.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def field_key(name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """Sort key of one field (nulls first)."""

    def key(record: dict[str, Any]) -> tuple[int, Any]:
        return sort_key(record.get(name))

    return key


def sort_key(value: Any) -> tuple[int, Any]:
    """Nulls first, then by value."""
    return (0, "") if value is None else (1, comparable(value))


def parse_value(text: str) -> Any:
    """A SOQL literal."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("\\'", "'")
    if _DATETIME.match(text):
        return comparable(text)
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text}'") from None


def parse(soql: str) -> Query:
    """Parses a query.

    Raises:
        SoqlError: Malformed query, unknown object or unknown field.
    """
    match = _QUERY.match(soql or "")
    if match is None:
        raise SoqlError("MALFORMED_QUERY", "unexpected token in query")
    object_name = match.group("object")
    if object_name not in OBJECTS:
        raise SoqlError("INVALID_TYPE", f"sObject type '{object_name}' is not supported.")
    known = field_names(object_name)
    count = match.group("fields").replace(" ", "").upper() == "COUNT()"
    fields = () if count else tuple(f.strip() for f in match.group("fields").split(","))
    conditions = tuple(_condition(c) for c in _split_and(match.group("where")))
    order = tuple(_order(o) for o in (match.group("order") or "").split(",") if o.strip())
    for name in [*fields, *(c.field for c in conditions), *(o[0] for o in order)]:
        if name not in known:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{object_name}'.")
    limit = match.group("limit")
    return Query(object_name, fields, conditions, order, int(limit) if limit else None, count)


def _split_and(where: Optional[str]) -> list[str]:
    if not where:
        return []
    if re.search(r"\bOR\b", where, re.IGNORECASE):
        raise SoqlError("MALFORMED_QUERY", "the sandbox supports AND conditions only")
    return re.split(r"\s+AND\s+", where, flags=re.IGNORECASE)


def _condition(text: str) -> Condition:
    listed = _IN.match(text)
    if listed is not None:  # ``Id IN ('a', 'b')``: quoted values only
        values = tuple(parse_value(v.strip()) for v in listed.group("values").split(","))
        return Condition(listed.group("field"), "IN", values)
    match = _CONDITION.match(text)
    if match is None:
        raise SoqlError("MALFORMED_QUERY", f"unexpected condition: '{text.strip()}'")
    return Condition(match.group("field"), match.group("op"), parse_value(match.group("value")))


def _order(text: str) -> tuple[str, bool]:
    parts = text.split()
    descending = len(parts) > 1 and parts[1].upper() == "DESC"
    return parts[0], descending
