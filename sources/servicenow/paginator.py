"""Table API paginators: ``Link`` headers with the kit's loop guard, and keyset paging."""

from __future__ import annotations

from typing import Any, Optional

from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from sources.kit.errors import MissingCursorError, PaginationLoopError
from sources.kit.pagination import LoopSafeHeaderLinkPaginator

from .records import is_glide
from .settings import CURSOR_FIELD, PRIMARY_KEY

__all__ = ["KeysetPaginator", "LoopSafeHeaderLinkPaginator", "keyset_query", "record_key"]

Key = tuple[str, str]
"""``(sys_updated_on, sys_id)`` of the last record a page returned."""


def keyset_query(since: Optional[str], key: Optional[Key]) -> str:
    """``sysparm_query`` for the records after ``key`` (or changed at/after ``since``).

    ``^OR`` binds only the two conditions around it (ServiceNow SDK encoded-query guide,
    https://servicenow.github.io/sdk/guides/encoded-query-guide), so
    ``u>T^ORsys_id>I^u>=T`` reads ``(u > T OR sys_id > I) AND u >= T``, which is
    ``u > T OR (u = T AND sys_id > I)``: the rows after ``(T, I)`` in the listing order.
    """
    order = f"ORDERBY{CURSOR_FIELD}^ORDERBY{PRIMARY_KEY}"
    if key is not None:
        stamp, sys_id = key
        after = f"{CURSOR_FIELD}>{stamp}^OR{PRIMARY_KEY}>{sys_id}^{CURSOR_FIELD}>={stamp}"
        return f"{after}^{order}"
    return f"{CURSOR_FIELD}>={since}^{order}" if since else order


def record_key(record: Any) -> Optional[Key]:
    """A record's ``(sys_updated_on, sys_id)`` when both are readable, else None."""
    if not isinstance(record, dict):
        return None
    stamp, sys_id = record.get(CURSOR_FIELD), record.get(PRIMARY_KEY)
    if not isinstance(stamp, str) or not is_glide(stamp):
        return None
    return (stamp, sys_id) if isinstance(sys_id, str) and sys_id else None


def hidden_field_error(table: str, records: list[Any]) -> MissingCursorError:
    """The one line for a page whose records all lack the cursor or the key."""
    present = [r for r in records if isinstance(r, dict)]
    missing = CURSOR_FIELD if not any(CURSOR_FIELD in r for r in present) else PRIMARY_KEY
    if all(missing not in r for r in present):
        return MissingCursorError(
            f"ServiceNow returned no {missing} on {table}: a field-level ACL hides it; "
            f"grant read on {table}.{missing} to the integration user"
        )
    return MissingCursorError(
        f"ServiceNow returned no readable {CURSOR_FIELD} on any record of a {table} page; "
        f"check {table}.{CURSOR_FIELD} values and the integration user's field ACLs"
    )


class KeysetPaginator(BasePaginator):
    """Pages in ``sys_updated_on, sys_id`` order by the last record's key, not by offset.

    A record updated during the run moves behind the key and is read again (its newer
    version); a delete cannot shift the rows still to come; and every request starts
    near offset 0, clear of the transaction quota deep offsets hit. Row-level ACLs
    filter after ``sysparm_limit`` (KB3047115), so a short page is not the end: the
    listing ends when ``X-Total-Count`` (rows after the key, hidden ones included) fits
    in the page just read, or on an empty page. An empty page with rows still counted
    held hidden rows only: the next request steps over it by ``sysparm_offset``.

    The pattern is the one ServiceNow replication write-ups describe (sort by
    ``sys_updated_on``, ask for the next window above the previous maximum; Daniel
    Draes's ServiceNow community article, quoted in "ServiceNow Data Replication done
    right"); ``sys_id`` breaks ties within a second.
    """

    def __init__(self, table: str, since: Optional[str], page_size: int) -> None:
        """Starts before the first record changed at or after ``since``."""
        super().__init__()
        self.table = table
        self.since = since
        self.page_size = page_size
        self.key: Optional[Key] = None
        self.offset = 0

    def init_request(self, request: Request) -> None:
        """The first page's query."""
        self.update_request(request)

    def update_state(self, response: Response, data: Optional[list[Any]] = None) -> None:
        """Moves the key to the page's last record (or the offset past a hidden page).

        Raises:
            MissingCursorError: Records came without a readable cursor or key.
            PaginationLoopError: The key did not move forward.
        """
        records = list(data or [])
        value = response.headers.get("X-Total-Count", "")
        total = int(value) if value.isdigit() else None
        keys = [k for k in (record_key(r) for r in records) if k is not None]
        if records and not keys:
            raise hidden_field_error(self.table, records)
        if not keys:
            self.offset += self.page_size
            self._has_next_page = total is not None and self.offset < total
            return
        last = keys[-1]
        if self.key is not None and last <= self.key:
            raise PaginationLoopError(
                f"ServiceNow {self.table}: the listing did not move past {self.key}; "
                "the instance ignored the keyset query"
            )
        self.key, self.offset = last, 0
        self._has_next_page = total is None or total > self.page_size

    def update_request(self, request: Request) -> None:
        """Puts the current key and offset into the request."""
        params = dict(request.params or {})
        params["sysparm_query"] = keyset_query(self.since, self.key)
        params["sysparm_limit"] = self.page_size
        params["sysparm_offset"] = self.offset
        request.params = params
