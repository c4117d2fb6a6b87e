"""Declared column types applied to text values, with dlt's own coercion rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, cast

from dlt.common.data_types.type_helpers import coerce_value, py_type_to_sc_type
from dlt.common.data_types.typing import TDataType


def coerce_row(
    values: dict[str, Any], columns: Mapping[str, str]
) -> tuple[dict[str, Any], Optional[str]]:
    """Parses each declared column to its dlt type; empty text becomes null.

    dlt's ``coerce_value`` (``dlt/common/data_types/type_helpers.py``) is what its
    normalizer applies, so a value that passes here loads as declared.

    Returns:
        ``(row, None)``, or ``(values, reason)`` naming the first column that does not
        parse (without its value: reasons are logged).
    """
    row = dict(values)
    for name, data_type in columns.items():
        value = row.get(name)
        if value is None:
            continue
        if isinstance(value, str) and value.strip() == "" and data_type != "text":
            row[name] = None
            continue
        try:
            row[name] = coerce_value(
                cast(TDataType, data_type), py_type_to_sc_type(type(value)), value
            )
        except (ValueError, TypeError, OverflowError):
            return values, f"column {name}: cannot parse the value as {data_type}"
    return row, None
