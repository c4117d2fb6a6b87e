"""Paginators for dlt's ``RESTClient`` that refuse to loop forever.

* :class:`StartingAfterPaginator` - Stripe-style lists (``starting_after=<last id>``
  while ``has_more`` is true).
* :class:`LoopGuard` - remembers the cursors of one pagination and raises
  :class:`~sources.kit.errors.PaginationLoopError` when one comes back.
* :class:`LoopSafeJSONResponseCursorPaginator` and :class:`LoopSafeJSONLinkPaginator`
  - dlt's cursor and next-link paginators with the guard built in.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlsplit

from dlt.common import jsonpath
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    BaseReferencePaginator,
    HeaderLinkPaginator,
    JSONLinkPaginator,
    JSONResponseCursorPaginator,
)
from requests import Request, Response

from .errors import MissingCursorError, PaginationLoopError
from .redact import global_redactor

MAX_CURSOR_IN_MESSAGE = 120
TRUE_STRINGS = frozenset({"true", "1", "yes"})


def resource_path(request: Request) -> str:
    """The path of the paginated endpoint, for messages."""
    try:
        return urlsplit(request.url or "").path or str(request.url)
    except ValueError:
        return str(request.url)


def shorten(text: str, limit: int = MAX_CURSOR_IN_MESSAGE) -> str:
    """Cuts long cursors for one-line messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_true(value: Any) -> bool:
    """Reads a JSON ``has_more`` flag (bool, or a ``"true"`` string)."""
    if isinstance(value, str):
        return value.strip().lower() in TRUE_STRINGS
    return value is True


class LoopGuard:
    """Detects a cursor or next-page URL that repeats within one pagination."""

    def __init__(self, resource: str = "") -> None:
        """Creates a guard.

        Args:
            resource: The paginated endpoint, named in the error.
        """
        self.resource = resource
        self._seen: set[str] = set()

    def __repr__(self) -> str:
        return f"LoopGuard(resource={self.resource!r}, seen={len(self._seen)})"

    def start(self, resource: str) -> None:
        """Begins a new pagination: forgets earlier cursors."""
        self.resource = resource
        self._seen.clear()

    def check(self, reference: Optional[str]) -> None:
        """Records the next cursor or URL.

        Args:
            reference: The cursor or URL about to be requested; None is ignored.

        Raises:
            PaginationLoopError: ``reference`` was already requested in this pagination.
        """
        if reference is None:
            return
        key = str(reference)
        if key in self._seen:
            shown = shorten(global_redactor().redact_url(key))
            raise PaginationLoopError(
                f"pagination of {self.resource or 'the resource'} returned the cursor "
                f"{shown!r} a second time after {len(self._seen)} page(s); "
                "stopping instead of looping forever"
            )
        self._seen.add(key)


class StartingAfterPaginator(BaseReferencePaginator):
    """Stripe-style cursor pagination: the next cursor is the id of the page's last item.

    Example::

        RESTClient(base_url, paginator=StartingAfterPaginator(), data_selector="data")
    """

    def __init__(
        self,
        cursor_param: str = "starting_after",
        id_field: str = "id",
        has_more_path: jsonpath.TJsonPath = "has_more",
    ) -> None:
        """Creates the paginator.

        Args:
            cursor_param: Query parameter carrying the cursor.
            id_field: Field of each item whose value is the cursor.
            has_more_path: JSON path of the flag saying another page exists.
        """
        super().__init__()
        self.cursor_param = cursor_param
        self.id_field = id_field
        self.has_more_path = jsonpath.compile_path(has_more_path)
        self.guard = LoopGuard()

    def init_request(self, request: Request) -> None:
        """Starts a fresh pagination (a cursor already in the params counts as seen)."""
        self.guard.start(resource_path(request))
        initial = (request.params or {}).get(self.cursor_param)
        if initial:
            self.guard.check(str(initial))

    def update_state(self, response: Response, data: Optional[list[Any]] = None) -> None:
        """Reads ``has_more`` and takes the last item's id as the next cursor.

        Raises:
            MissingCursorError: ``has_more`` is true but the last item has no id.
            PaginationLoopError: The cursor was already used in this pagination.
        """
        body = response.json()
        flags = jsonpath.find_values(self.has_more_path, body)
        if not (flags and is_true(flags[0])):
            self._next_reference = None
            return
        items = data if data is not None else (body.get("data") if isinstance(body, dict) else None)
        cursor = self._last_id(items)
        self.guard.check(cursor)
        self._next_reference = cursor

    def _last_id(self, items: Any) -> str:
        # A malformed last item (no id) must not end the listing: continue after the
        # last item that has one; the malformed one is seen again and dead-lettered once.
        for item in reversed(items if isinstance(items, list) else []):
            cursor = item.get(self.id_field) if isinstance(item, dict) else None
            if cursor not in (None, ""):
                break
        else:
            cursor = None
        if cursor is None:
            raise MissingCursorError(
                f"pagination of {self.guard.resource or 'the resource'}: the page says "
                f"has_more=true but none of its items has an {self.id_field!r} to continue from"
            )
        return str(cursor)

    def update_request(self, request: Request) -> None:
        """Puts the cursor in the query parameters."""
        if request.params is None:
            request.params = {}
        request.params[self.cursor_param] = self._next_reference

    def __str__(self) -> str:
        return (
            super().__str__()
            + f": cursor_param: {self.cursor_param} id_field: {self.id_field}"
            + f" has_more_path: {self.has_more_path}"
        )


class LoopSafe(BasePaginator):
    """Any of dlt's next-reference paginators (a next URL or a cursor), raising instead of
    requesting the same page twice: the one loop guard every connector's paging uses.

    Args:
        inner: The dlt paginator that reads the next reference (``JSONLinkPaginator``,
            ``JSONResponseCursorPaginator``, ``HeaderLinkPaginator``...).
    """

    def __init__(self, inner: BaseReferencePaginator) -> None:
        super().__init__()
        self.inner = inner
        self.guard = LoopGuard()

    def init_request(self, request: Request) -> None:
        """Starts a fresh pagination."""
        self.inner.init_request(request)
        self.guard.start(resource_path(request))

    def update_state(self, response: Response, data: Optional[list[Any]] = None) -> None:
        """Reads the next reference as the inner paginator does, then checks it is new.

        Raises:
            PaginationLoopError: The next reference repeats.
        """
        self.inner.update_state(response, data)
        self._has_next_page = self.inner.has_next_page
        if self.has_next_page:
            self.guard.check(self.inner._next_reference)

    def update_request(self, request: Request) -> None:
        """Points the request at the next page, as the inner paginator does."""
        self.inner.update_request(request)

    def __str__(self) -> str:
        return f"loop-safe {self.inner}"


class LoopSafeJSONResponseCursorPaginator(LoopSafe):
    """dlt's ``JSONResponseCursorPaginator`` in :class:`LoopSafe`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes the same arguments as ``JSONResponseCursorPaginator``."""
        super().__init__(JSONResponseCursorPaginator(*args, **kwargs))


class LoopSafeJSONLinkPaginator(LoopSafe):
    """dlt's ``JSONLinkPaginator`` in :class:`LoopSafe`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes the same arguments as ``JSONLinkPaginator``."""
        super().__init__(JSONLinkPaginator(*args, **kwargs))


class LoopSafeHeaderLinkPaginator(LoopSafe):
    """dlt's ``HeaderLinkPaginator`` (``Link: <...>; rel="next"``) in :class:`LoopSafe`."""

    def __init__(self, links_next_key: str = "next") -> None:
        """Follows the ``rel`` given (``next``)."""
        super().__init__(HeaderLinkPaginator(links_next_key=links_next_key))
