"""Stripe's embedded lists: every entry, loaded as child tables of their own.

An invoice's ``lines`` and a subscription's ``items`` carry at most 10 entries, with
``has_more`` and a ``url`` to page the rest (``/v1/invoices/<id>/lines``,
``/v1/subscription_items?subscription=<id>``; docs.stripe.com/api/invoice-line-item/
retrieve, ../shared/stripe/README.md). The kit's child tables
(:mod:`sources.kit.connector.children`) load them; this module is the hook that pages
what the parent left out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

from sources.kit.connector import ChildSpec, CompleteList, child_items
from sources.kit.errors import FatalError

from .client import StripeClient
from .fields import unix_time_fields
from .settings import LISTED_ELSEWHERE, NESTED_OBJECT_LISTS
from .spec import SPEC

logger = logging.getLogger("sluice.stripe")

__all__ = ["complete_list", "split_sub_lists"]


def complete_list(client: Optional[StripeClient]) -> CompleteList:
    """The hook returning every entry of an embedded list, paging from its ``url``.

    Args:
        client: Pages the rest of a truncated list. Without one (a webhook drain given
            none) a truncated list is left unknown: the children already loaded stay, and
            the poller, which reads the same change from the events feed, pages them.
    """

    def complete(parent: Mapping[str, Any], child: ChildSpec) -> Optional[list[dict[str, Any]]]:
        embedded = parent[child.field]
        entries = [e for e in embedded.get("data") or [] if isinstance(e, dict)]
        if not embedded.get("has_more") or not entries:
            return entries
        url = str(embedded.get("url") or "")
        if not url:
            raise FatalError(
                f"stripe {child.name}: {parent.get('id')} has more {child.field} than it "
                "embeds and no url to page them; not a Stripe list"
            )
        if client is None:
            logger.warning(
                "stripe %s: %s has more %s than it embeds and no client to page them; "
                "the loaded ones stay until the next poll",
                child.name,
                parent.get("id"),
                child.field,
            )
            return None
        parts = urlsplit(url)
        params = {**dict(parse_qsl(parts.query)), "starting_after": entries[-1]["id"]}
        for page in client.list_pages(parts.path, label=child.name, params=params):
            entries.extend(page)
        logger.debug(
            "stripe %s: %s has %d %s", child.name, parent.get("id"), len(entries), child.field
        )
        return entries

    return complete


def split_sub_lists(
    resource_name: str,
    records: Sequence[Any],
    client: Optional[StripeClient],
    table_format: Optional[str] = None,
) -> Iterator[Any]:
    """Yields the child-table items of ``records`` and strips the lists off them.

    Lists another table holds whole (a charge's refunds) are dropped from the parent. A
    deleted parent keeps the children already loaded: its snapshot's list can no longer
    be paged (Stripe answers 404 for a deleted invoice's lines).
    """
    type_nested_times(resource_name, records)
    children = SPEC.resource(resource_name).children
    stripped = (*LISTED_ELSEWHERE.get(resource_name, ()), *(c.field for c in children))
    for record in records:
        if not isinstance(record, dict):
            continue
        for name in LISTED_ELSEWHERE.get(resource_name, ()):
            record.pop(name, None)
        if record.get("deleted"):
            for name in stripped:
                record.pop(name, None)
    if children:
        yield from child_items(records, children, complete_list(client), table_format=table_format)


def type_nested_times(resource_name: str, records: Sequence[Any]) -> None:
    """Turns the unix times inside lists left to dlt's nested tables into datetimes.

    Column hints of a resource reach its root table only, so a dispute's embedded
    balance transactions would load ``created`` as BIGINT; a datetime value makes dlt
    (and the columnar path, which hands such records to dlt) type the column timestamp.
    """
    lists = NESTED_OBJECT_LISTS.get(resource_name, {})
    for record in records:
        if not isinstance(record, dict):
            continue
        for field, object_type in lists.items():
            entries = record.get(field)
            if isinstance(entries, list):
                for entry in entries:
                    if isinstance(entry, dict):
                        as_datetimes(entry, unix_time_fields(object_type))


def as_datetimes(entry: dict[str, Any], fields: Sequence[str]) -> None:
    """Replaces the entry's top-level integer ``fields`` by UTC datetimes, in place."""
    for name in fields:
        value = entry.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            entry[name] = datetime.fromtimestamp(value, tz=timezone.utc)
