"""Embedded sub-lists, truncated in every answer (paged in full by ``listing.page_sublist``).

The store keeps an invoice's ``lines`` and a subscription's ``items`` whole; what the API
shows is cut here. Stripe embeds at most 10 entries of such a list, with ``has_more``
and a ``url`` to page the rest ("Retrieve an invoice's line items: ... the
lines property containing the total count of line items and the first handful of those
items. There is also a URL where you can retrieve the full (paginated) list",
docs.stripe.com/api/invoice-line-item/retrieve; stripe/stripe-php#1400,
stripe/stripe-dotnet#381; ../shared/stripe/README.md). The docs' "total count" is not in
the object any more: Stripe's published fixtures (``openapi/fixtures3.json``) give these
lists ``object``, ``data``, ``has_more`` and ``url`` only.
The rest is paged from ``GET /v1/invoices/<id>/lines`` and
``GET /v1/subscription_items?subscription=<id>`` with the usual list parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EMBEDDED_LIMIT = 10
"""Entries an embedded list carries before ``has_more`` (Stripe's default page size)."""

EMBEDDED_LISTS: Mapping[str, str] = {"invoice": "lines", "subscription": "items"}
"""Object type -> the field holding its truncated sub-list."""


def is_truncated(obj: Mapping[str, Any]) -> bool:
    """Whether the API shows only part of the object's embedded sub-list."""
    field = EMBEDDED_LISTS.get(str(obj.get("object")))
    embedded = obj.get(field) if field else None
    if not isinstance(embedded, Mapping) or not isinstance(embedded.get("data"), list):
        return False
    return len(embedded["data"]) > EMBEDDED_LIMIT


def api_view(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object as the API shows it: embedded sub-lists cut to their first entries.

    An event shows its ``data.object`` the same way. Objects without a long sub-list are
    returned as they are (no copy).
    """
    if obj.get("object") == "event":
        data = obj.get("data")
        if isinstance(data, Mapping) and isinstance(data.get("object"), Mapping):
            inner = api_view(data["object"])
            if inner is not data["object"]:
                return {**obj, "data": {**data, "object": inner}}
        return obj
    field = EMBEDDED_LISTS.get(str(obj.get("object")))
    if field is None or not is_truncated(obj):
        return obj
    embedded = obj[field]
    entries = embedded["data"]
    shown = {
        **embedded,
        "data": entries[:EMBEDDED_LIMIT],
        "has_more": len(entries) > EMBEDDED_LIMIT,
    }
    return {**obj, str(field): shown}
