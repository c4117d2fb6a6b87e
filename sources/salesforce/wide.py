"""Queries of objects too wide for one URL: split the field list, join pages by Id.

REST ``query`` is GET only, and Salesforce refuses a request whose URI and headers pass
16,384 bytes (414 URI Too Long / 431 Request Header Fields Too Large), recommending URIs
of about 2,000 characters
(https://help.salesforce.com/s/articleView?id=000386264&type=1). An Account with
hundreds of custom fields passes that with ``SELECT <every field>``. The first group of
fields keeps the query's WHERE and ORDER BY (so paging and locator re-issue work as
before); for each page, the other groups are read with ``WHERE Id IN (...)`` and merged
into the page's records.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote_plus

logger = logging.getLogger("sluice.salesforce")

MAX_QUERY_URL_BYTES = 8_000
"""Longest query URL sent: half the 16,384-byte limit leaves room for the headers."""

_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)(?P<rest>.*)$", re.I | re.S
)
KEEP_FIRST = ("Id", "SystemModstamp", "CreatedDate", "IsDeleted")
"""Fields the first group always holds: the key, the cursor and the delete flag."""

Page = list[dict[str, Any]]
Query = Callable[[str], Iterator[Page]]


def encoded_length(soql: str) -> int:
    """Bytes the query takes in ``?q=`` (form-encoded)."""
    return len(quote_plus(soql))


def too_long(soql: str, base: int) -> bool:
    """Whether ``base`` bytes of URL plus the encoded query pass the limit."""
    return base + encoded_length(soql) > MAX_QUERY_URL_BYTES


def field_groups(fields: Sequence[str], budget: int) -> list[list[str]]:
    """Fields split so that each group's encoded select list stays under ``budget``;
    the first group starts with :data:`KEEP_FIRST`, every other one with ``Id``."""
    first = [f for f in KEEP_FIRST if f in fields]
    groups: list[list[str]] = [first]
    for name in fields:
        if name in first:
            continue
        group = groups[-1]
        if group and encoded_length(", ".join([*group, name])) > budget:
            group = ["Id"]
            groups.append(group)
        group.append(name)
    return groups


def id_chunks(ids: Sequence[str], budget: int) -> Iterator[list[str]]:
    """Ids in runs whose encoded ``'a', 'b'`` list stays under ``budget`` bytes."""
    chunk: list[str] = []
    size = 0
    for rid in ids:
        cost = encoded_length(f"'{rid}', ")
        if chunk and size + cost > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(rid)
        size += cost
    if chunk:
        yield chunk


def split_pages(soql: str, base: int, run: Query) -> Iterator[Page]:
    """Pages of a query too long for one URL, as if it had been sent whole.

    Args:
        soql: ``SELECT <fields> FROM <object> [WHERE ...] [ORDER BY ...]``.
        base: URL bytes before the query text (host, path, ``?q=``).
        run: Sends one (short enough) query and yields its pages.

    Yields:
        Pages of the first group's query, each record with every field.
    """
    match = _SELECT.match(soql)
    if match is None:  # not a query this module builds: send it as is
        yield from run(soql)
        return
    fields = [f.strip() for f in match.group("fields").split(",")]
    object_name = match.group("object")
    budget = (MAX_QUERY_URL_BYTES - base) // 2
    groups = field_groups(fields, budget)
    logger.info(
        "salesforce %s: %d fields split into %d queries", object_name, len(fields), len(groups)
    )
    head = f"SELECT {', '.join(groups[0])} FROM {object_name}{match.group('rest')}"  # noqa: S608 - names from describe
    for page in run(head):
        by_id = {str(r.get("Id")): r for r in page}
        for group in groups[1:]:
            select = f"SELECT {', '.join(group)} FROM {object_name} WHERE Id IN ()"  # noqa: S608
            room = MAX_QUERY_URL_BYTES - base - encoded_length(select)
            for ids in id_chunks(list(by_id), room):
                listed = ", ".join(f"'{i}'" for i in ids)
                part = f"SELECT {', '.join(group)} FROM {object_name} WHERE Id IN ({listed})"  # noqa: S608
                for extra in run(part):
                    for record in extra:
                        target = by_id.get(str(record.get("Id")))
                        if target is not None:
                            target.update({k: v for k, v in record.items() if k != "attributes"})
        yield page
