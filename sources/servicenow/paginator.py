"""Link-header pagination with the kit's loop guard (the kit has the JSON-link variant only)."""

from __future__ import annotations

from typing import Any, Optional

from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator
from requests import Request, Response

from sources.kit.pagination import LoopGuard, resource_path


class LoopSafeHeaderLinkPaginator(HeaderLinkPaginator):
    """Follows ``Link: <...>; rel="next"`` and raises instead of requesting a URL twice."""

    def __init__(self) -> None:
        """Creates the paginator."""
        super().__init__(links_next_key="next")
        self.guard = LoopGuard()

    def init_request(self, request: Request) -> None:
        """Starts a fresh pagination."""
        super().init_request(request)
        self.guard.start(resource_path(request))

    def update_state(self, response: Response, data: Optional[list[Any]] = None) -> None:
        """Reads the next URL from ``Link``, then checks it was not requested before.

        Raises:
            PaginationLoopError: The next URL repeats.
        """
        super().update_state(response, data)
        if self.has_next_page:
            self.guard.check(self._next_reference)
