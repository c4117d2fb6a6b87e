"""PostgreSQL text values (pgoutput's and the snapshot's ``::text``) to Python and dlt types.

Both the snapshot and the stream read values as PostgreSQL's text output, so a row has the
same Python types whichever way it came. Type OIDs: ``pg_type.dat`` of PostgreSQL
(https://github.com/postgres/postgres/blob/master/src/include/catalog/pg_type.dat).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from dlt.common.schema.typing import TColumnSchema


def _bool(text: str) -> bool:
    # boolout writes 't' (pgoutput), a ::text cast writes 'true' (the snapshot)
    return text in ("t", "true")


def _bytea(text: str) -> bytes:
    # bytea_output = hex (the default since 9.0): \x followed by hex digits
    return bytes.fromhex(text[2:]) if text.startswith("\\x") else text.encode()


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


PARSERS: dict[int, tuple[str, Callable[[str], Any]]] = {
    16: ("bool", _bool),
    17: ("binary", _bytea),
    20: ("bigint", int),
    21: ("bigint", int),
    23: ("bigint", int),
    26: ("bigint", int),
    700: ("double", float),
    701: ("double", float),
    1700: ("decimal", Decimal),
    1082: ("date", date.fromisoformat),
    1083: ("time", time.fromisoformat),
    1114: ("timestamp", _timestamp),
    1184: ("timestamp", _timestamp),
    114: ("json", json.loads),
    3802: ("json", json.loads),
}
"""Type OID to (dlt data type, parser of the text); anything else loads as text."""


def parse_value(type_oid: int, text: object) -> Any:
    """The Python value of one column's text (None stays None)."""
    if not isinstance(text, str):
        return text
    _, parser = PARSERS.get(type_oid, ("text", str))
    try:
        return parser(text)
    except ValueError:
        # infinity dates, NaN numerics...: keep PostgreSQL's text rather than fail the row
        return text


def column_hint(type_oid: int) -> TColumnSchema:
    """The dlt column hint of a PostgreSQL type."""
    data_type, _ = PARSERS.get(type_oid, ("text", str))
    hint: dict[str, Any] = {"data_type": data_type}
    if type_oid == 1184:
        hint["timezone"] = True
    return hint  # type: ignore[return-value]
