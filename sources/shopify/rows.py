"""Shopify nodes as loaded rows: snake_case keys, numeric ids, tombstones.

Paging and bulk export both end here, so a bulk backfill and a paged one load the same
rows: nested connections arrive as lists of nodes (flattened or reassembled before).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>\d+)")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(name: str) -> str:
    """``legacyResourceId`` → ``legacy_resource_id`` (what dlt would name it too)."""
    return _CAMEL.sub(r"_\1", name).lower()


def gid_type(gid: Any) -> Optional[str]:
    """``ProductVariant`` for ``gid://shopify/ProductVariant/1``."""
    match = GID.match(gid) if isinstance(gid, str) else None
    return match.group("type") if match else None


def legacy_id(gid: Any) -> Optional[int]:
    """The numeric id inside a global id (the REST id, ``legacyResourceId``)."""
    match = GID.match(gid) if isinstance(gid, str) else None
    return int(match.group("id")) if match else None


def make_gid(type_name: str, number: Any) -> str:
    """``gid://shopify/Product/123`` from a webhook's numeric ``id``."""
    return f"gid://shopify/{type_name}/{int(number)}"


def _value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {snake(k): _value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v) for v in value]
    return value


def shape_row(node: Mapping[str, Any]) -> dict[str, Any]:
    """One node as a row: snake_case keys, ``legacy_resource_id`` an int, live."""
    row = {snake(k): _value(v) for k, v in node.items()}
    if "legacy_resource_id" in row or "id" in row:
        numeric = row.get("legacy_resource_id")
        row["legacy_resource_id"] = (
            int(numeric)
            if isinstance(numeric, (int, str)) and str(numeric).isdigit()
            else legacy_id(row.get("id"))
        )
    row.setdefault("deleted", False)
    return row


def tombstone(gid: str, occurred_at: str) -> dict[str, Any]:
    """The row of a deleted object (soft delete: the row stays, ``deleted = true``)."""
    return {
        "id": gid,
        "legacy_resource_id": legacy_id(gid),
        "deleted": True,
        "deleted_at": occurred_at,
        "updated_at": occurred_at,
    }
