"""The HTTP side every connector shares: one dlt RESTClient per resource on one session."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.client import PageData
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Response
from requests.auth import AuthBase

from sources.kit.http import ResilientSession

from .spec import ConnectorSpec

logger = logging.getLogger("sluice.connector")

ResponseHook = Callable[..., Any]


@dataclass
class ConnectorClient:
    """Requests to one provider through dlt's RESTClient on the run's resilient session.

    Each resource (label) gets its own RESTClient on ``session.for_label(label)`` so its
    requests are counted apart while sharing the limiter, breakers and retry budget.
    A connector subclasses it, sets :attr:`spec`, and adds the calls only it makes.

    Attributes:
        spec: The connector's declaration (class attribute).
        base_url: API root.
        session: Root resilient session.
        auth: How credentials are sent (a kit or dlt auth); None for none.
    """

    spec: ClassVar[ConnectorSpec]
    base_url: str
    session: ResilientSession
    auth: Optional[AuthBase]
    _clients: dict[str, RESTClient] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def headers(self) -> Mapping[str, str]:
        """Headers every request carries (never credentials: those go through ``auth``)."""
        return {}

    def response_hooks(self) -> list[ResponseHook]:
        """Hooks run on every response: the spec's error raiser first."""
        spec = self.spec
        return [lambda response, *args, **kwargs: spec.raise_for_error(response)]

    def rest_client(self, label: str) -> RESTClient:
        """The RESTClient of one resource, with its own request counters."""
        with self._lock:
            if label not in self._clients:
                self._clients[label] = RESTClient(
                    base_url=self.base_url.rstrip("/"),
                    headers=dict(self.headers()),
                    auth=self.auth,
                    paginator=self.spec.paginator(),
                    data_selector=self.spec.data_selector,
                    session=self.session.for_label(label),
                )
            return self._clients[label]

    def paginate(
        self,
        path: str,
        *,
        label: str,
        params: Optional[Mapping[str, Any]] = None,
        paginator: Optional[BasePaginator] = None,
    ) -> Iterator[PageData[Any]]:
        """Pages through a list endpoint; every answer goes through the error raiser.

        Args:
            path: Path relative to the base URL.
            label: Name the requests are counted under (the resource name).
            params: Query parameters of the first request.
            paginator: Another paginator than the spec's (a fresh one per listing).

        Yields:
            dlt's pages (lists of records with the ``response`` they came in).
        """
        yield from self.rest_client(label).paginate(
            path,
            params=dict(params or {}),
            paginator=paginator or self.spec.paginator(),
            hooks={"response": self.response_hooks()},
        )

    def get(self, path: str, *, label: str, params: Optional[Mapping[str, Any]] = None) -> Response:
        """One GET whose answer went through the error raiser (and the other hooks)."""
        return self.rest_client(label).get(
            path, params=dict(params or {}), hooks={"response": self.response_hooks()}
        )
