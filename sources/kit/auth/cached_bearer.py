"""The part every OAuth 2.0 flow shares: a cached bearer token, renewed in time.

:class:`CachedBearerAuth` keeps one access token for all threads, fetches a new one
(one fetch at a time) when it is missing or about to expire, and, when the API answers
401 anyway, drops the token, fetches a fresh one and sends the request once more.
Subclasses only say how to obtain a token.

The 401 retry is a response hook, as in ``requests.auth.HTTPDigestAuth``: the request
is re-sent on the connection adapter that carried the first one, so it does not pass
through session-level retries, rate limiting or redirects again. Its response is
returned as is, whatever its status. A token that was fetched because of a 401 and is
rejected with 401 at once is remembered, and further 401s with it are returned
without fetching again (the API rejects the token for a reason other than expiry, and
hammering the token endpoint would not help).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Optional

from requests import PreparedRequest, Response
from requests.auth import AuthBase
from requests.utils import rewind_body

from .tokens import Token

logger = logging.getLogger("sluice.auth")

UNAUTHORIZED = 401
ADAPTER_SEND_OPTIONS = ("stream", "timeout", "verify", "cert", "proxies")


def bearer_of(request: Optional[PreparedRequest]) -> Optional[str]:
    """The bearer token a request carried, if any."""
    if request is None:
        return None
    value = request.headers.get("Authorization", "")
    scheme, _, credential = value.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


def can_resend_body(request: PreparedRequest) -> bool:
    """Tells whether a request's body can be sent again (none, bytes, text or seekable)."""
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    position = getattr(request, "_body_position", None)
    return isinstance(position, int) and hasattr(body, "seek")


class CachedBearerAuth(AuthBase):
    """Base of the OAuth 2.0 flows: caching, timely renewal, one retry after a 401.

    Thread-safe: however many threads ask at once, one fetch happens and all of them
    use its token.

    Attributes:
        tokens_fetched: Tokens obtained so far (for tests and run summaries).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        refresh_margin_s: float = 60.0,
    ) -> None:
        """Creates the cache.

        Args:
            clock: Unix-time clock (inject a fake in tests).
            refresh_margin_s: Renew this long before expiry (at most half the token's
                lifetime, so short-lived tokens are not renewed on every request).
        """
        self._clock = clock
        self.refresh_margin_s = max(0.0, refresh_margin_s)
        self._lock = threading.Lock()
        self._token: Optional[Token] = None
        self._rejected_fresh_token: Optional[str] = None
        self._local = threading.local()
        self.tokens_fetched = 0

    def fetch_token(self) -> Token:
        """Obtains a brand-new token from the provider (subclasses implement this).

        Called with the cache lock held, so never concurrently.
        """
        raise NotImplementedError

    def token(self) -> Token:
        """Returns a token valid for at least the refresh margin, fetching one if needed.

        Raises:
            AuthenticationError: The provider refused the credentials.
        """
        with self._lock:
            if self._token is None or self._needs_renewal(self._token):
                self._token = self.fetch_token()
                self.tokens_fetched += 1
            return self._token

    def invalidate(self, access_token: Optional[str] = None) -> bool:
        """Drops the cached token so the next request fetches a new one.

        Args:
            access_token: Only drop the cached token if it is this one (a token another
                thread already replaced stays).

        Returns:
            True when a token was dropped.
        """
        with self._lock:
            if self._token is None:
                return False
            if access_token is not None and self._token.access_token != access_token:
                return False
            self._token = None
            return True

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Sets ``Authorization: Bearer`` and arms the one-time retry after a 401."""
        request.headers["Authorization"] = f"Bearer {self.token().access_token}"
        request.register_hook("response", self.handle_401)
        return request

    def handle_401(self, response: Response, **kwargs: Any) -> Response:
        """Response hook: after a 401, renews the token and re-sends the request once.

        Args:
            response: The API's response.
            **kwargs: The send options (timeout, verify...) of the first request.

        Returns:
            The re-sent request's response, or ``response`` when no retry applies.
        """
        if response.status_code != UNAUTHORIZED or getattr(self._local, "resending", False):
            return response
        used = bearer_of(response.request)
        if used is None or not self._renew_after_401(used):
            return response
        fresh = self.token()
        if fresh.access_token == used or not can_resend_body(response.request):
            return response
        resent = self._resend(response, fresh.access_token, kwargs)
        if resent.status_code == UNAUTHORIZED:
            self._remember_rejected(fresh.access_token)
        return resent

    def _needs_renewal(self, token: Token) -> bool:
        margin = self.refresh_margin_s
        lifetime = token.lifetime()
        if lifetime is not None:
            margin = min(margin, lifetime / 2.0)
        return token.expires_within(margin, self._clock())

    def _renew_after_401(self, used: str) -> bool:
        """Drops the token the API refused; False when retrying cannot help."""
        with self._lock:
            if used == self._rejected_fresh_token:
                return False
            if self._token is not None and self._token.access_token == used:
                logger.info("API answered 401: fetching a new access token")
                self._token = None
            return True

    def _remember_rejected(self, access_token: str) -> None:
        logger.warning(
            "API answered 401 to a freshly fetched access token: the credentials lack "
            "access to this resource; not renewing again for this token"
        )
        with self._lock:
            self._rejected_fresh_token = access_token

    def _resend(self, response: Response, access_token: str, kwargs: dict[str, Any]) -> Response:
        connection = getattr(response, "connection", None)
        original = response.request
        if connection is None or original is None:
            return response
        _ = response.content
        response.close()
        retry = original.copy()
        if retry.body is not None and not isinstance(retry.body, (bytes, str)):
            rewind_body(retry)
        retry.headers["Authorization"] = f"Bearer {access_token}"
        options = {k: v for k, v in kwargs.items() if k in ADAPTER_SEND_OPTIONS}
        self._local.resending = True
        try:
            resent: Response = connection.send(retry, **options)
        finally:
            self._local.resending = False
        resent.history.append(response)
        resent.request = retry
        return resent
