"""Talking to an OAuth 2.0 token endpoint: client authentication, retries, replies.

:class:`TokenEndpoint` posts a grant, authenticates the client (``client_secret_basic``,
``client_secret_post`` or not at all), retries 429, 5xx and connection failures with
backoff, and turns the reply into a :class:`~sources.kit.auth.tokens.Token` or an
:class:`~sources.kit.errors.AuthenticationError` whose one-line message names the
setting to fix.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union
from urllib.parse import quote_plus

import requests
from requests import Response

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    RateLimitedError,
    ServerError,
    TransientNetworkError,
)
from ..redact import global_redactor
from ..retry import BackoffSchedule, Jitter, is_transient_exception
from .messages import OAuthRejection, ProviderLabel, shorten
from .tokens import Token

logger = logging.getLogger("sluice.auth")

ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
TOO_MANY_REQUESTS = 429
DEFAULT_TIMEOUT = (10.0, 30.0)

Explain = Callable[[OAuthRejection], str]
"""Turns a refusal into the one-line message the user sees."""

Timeout = Union[float, tuple[float, float]]


@dataclass
class TokenRetry:
    """How token requests are retried on 429, 5xx and connection failures.

    Attributes:
        max_attempts: Attempts per token request, the first included.
        schedule: Exponential backoff (and ``Retry-After`` hints).
        jitter: Randomises the waits (inject a seeded ``random.Random`` in tests).
        sleep: Waits between attempts (inject a fake in tests).
    """

    max_attempts: int = 4
    schedule: BackoffSchedule = field(default_factory=lambda: BackoffSchedule(base=0.5, cap=8.0))
    jitter: Jitter = field(default_factory=Jitter)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, attempt: int, response: Optional[Response]) -> float:
        """Seconds to wait after ``attempt`` failed: the server's hint or jittered backoff."""
        hint = self.schedule.server_hint(response)
        if hint is not None:
            return self.jitter.apply_to_hint(hint)
        return self.jitter.apply(self.schedule.exponential(attempt))


def basic_client_credentials(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` value for ``client_secret_basic`` (RFC 6749 §2.3.1).

    Both parts are form-urlencoded before joining, as the RFC requires.
    """
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def rejection_of(response: Response) -> OAuthRejection:
    """Reads the OAuth error code and description from a refusal, if the body has them."""
    try:
        payload = json.loads(response.content or b"")
    except (ValueError, TypeError):
        payload = None
    if not isinstance(payload, dict):
        return OAuthRejection(status=response.status_code)
    error = payload.get("error")
    description = payload.get("error_description")
    return OAuthRejection(
        status=response.status_code,
        error=shorten(str(error)) if isinstance(error, str) else "",
        description=shorten(str(description)) if description else "",
    )


def is_retriable_status(status: int) -> bool:
    """429 and 5xx are worth another attempt."""
    return status == TOO_MANY_REQUESTS or status >= 500


class TokenEndpoint:
    """Posts grants to one token URL on behalf of one client. Thread-safe."""

    def __init__(
        self,
        token_url: str,
        *,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        auth_method: ClientAuthMethod = "client_secret_basic",
        session: Optional[requests.Session] = None,
        clock: Callable[[], float] = time.time,
        retry: Optional[TokenRetry] = None,
        label: Optional[ProviderLabel] = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        """Creates the endpoint client.

        Args:
            token_url: The token endpoint.
            client_id: The OAuth client id (not a secret).
            client_secret: The client secret (registered with the global redactor).
            auth_method: ``client_secret_basic``, ``client_secret_post`` or ``none``.
            session: Session to post with; a new one by default.
            clock: Unix-time clock, to compute ``expires_at``.
            retry: Retry behaviour; four attempts with backoff by default.
            label: Provider name and config path for messages.
            timeout: requests timeout for token calls.

        Raises:
            ConfigurationError: Missing token URL, unknown auth method, or a method
                that needs a client id and secret without them.
        """
        self.label = label or ProviderLabel()
        _check_configuration(token_url, client_id, client_secret, auth_method, self.label)
        global_redactor().add_secret(client_secret)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.auth_method = auth_method
        self._session = session or requests.Session()
        self._clock = clock
        self.retry = retry or TokenRetry()
        self.timeout = timeout
        self.requests_sent = 0

    def __repr__(self) -> str:
        return (
            f"TokenEndpoint({self.token_url!r}, client_id={self.client_id!r}, "
            f"auth_method={self.auth_method!r})"
        )

    def request_token(self, form: Mapping[str, str], explain: Explain) -> Token:
        """Posts one grant and returns the token it yields.

        Args:
            form: Grant parameters (``grant_type`` and the grant's own fields).
            explain: Builds the message for a refusal (4xx other than 429).

        Returns:
            The token.

        Raises:
            AuthenticationError: The endpoint refused the grant or the client.
            ServerError: 5xx on every attempt.
            RateLimitedError: 429 on every attempt.
            TransientNetworkError: The connection failed on every attempt.
            ConfigurationError: The URL is unusable or the reply is not a token.
        """
        body, headers = self._prepare(form)
        grant = form.get("grant_type", "?")
        attempts = max(1, self.retry.max_attempts)
        for attempt in range(1, attempts + 1):
            response = self._post(body, headers, attempt, attempts, grant)
            if response is None:
                continue
            if 200 <= response.status_code < 300:
                return self._token_from(response, explain)
            if not is_retriable_status(response.status_code):
                raise AuthenticationError(explain(rejection_of(response)), response=response)
            if attempt >= attempts:
                error = (
                    RateLimitedError if response.status_code == TOO_MANY_REQUESTS else ServerError
                )
                raise error(
                    f"{self.label.provider} token endpoint {self.token_url} answered HTTP "
                    f"{response.status_code} {attempts} times; try again later",
                    response=response,
                )
            self._wait(attempt, attempts, response, f"HTTP {response.status_code}")
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _prepare(self, form: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        body = dict(form)
        headers = {"Accept": "application/json"}
        if self.auth_method == "client_secret_basic":
            value = basic_client_credentials(self.client_id or "", self._client_secret or "")
            global_redactor().add_secret(value.split(" ", 1)[1])
            headers["Authorization"] = value
        elif self.auth_method == "client_secret_post":
            body["client_id"] = self.client_id or ""
            body["client_secret"] = self._client_secret or ""
        elif self.client_id:
            body.setdefault("client_id", self.client_id)
        return body, headers

    def _post(
        self,
        body: dict[str, str],
        headers: dict[str, str],
        attempt: int,
        attempts: int,
        grant: str,
    ) -> Optional[Response]:
        """One attempt; None after a transient failure that leaves attempts to retry."""
        logger.debug("requesting %s token from %s (attempt %d)", grant, self.token_url, attempt)
        self.requests_sent += 1
        try:
            return self._session.post(
                self.token_url,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            if not is_transient_exception(exc):
                raise ConfigurationError(
                    f"{self.label.provider} token endpoint {self.token_url} is unusable "
                    f"({type(exc).__name__}): check {self.label.setting('token_url')}"
                ) from exc
            if attempt >= attempts:
                raise TransientNetworkError(
                    f"{self.label.provider} token endpoint {self.token_url} unreachable after "
                    f"{attempts} attempts ({type(exc).__name__}); try again later"
                ) from exc
            self._wait(attempt, attempts, None, type(exc).__name__)
            return None

    def _wait(self, attempt: int, attempts: int, response: Optional[Response], why: str) -> None:
        delay = self.retry.delay(attempt, response)
        if response is not None:
            response.close()
        logger.info(
            "%s token endpoint failed (%s), attempt %d of %d; retrying in %.2fs",
            self.label.provider,
            why,
            attempt,
            attempts,
            delay,
        )
        self.retry.sleep(delay)

    def _token_from(self, response: Response, explain: Explain) -> Token:
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise ConfigurationError(
                f"{self.label.provider} token endpoint {self.token_url} answered "
                f"HTTP {response.status_code} without a JSON token: check "
                f"{self.label.setting('token_url')}",
                response=response,
            )
        if "access_token" not in payload and isinstance(payload.get("error"), str):
            # Slack and a few others refuse with HTTP 200 and {"ok": false, "error": ...}.
            raise AuthenticationError(explain(rejection_of(response)), response=response)
        try:
            return Token.from_response(payload, self._clock())
        except ValueError as exc:
            raise ConfigurationError(
                f"{self.label.provider} token endpoint {self.token_url}: {exc}: check "
                f"{self.label.setting('token_url')}",
                response=response,
            ) from None


def _check_configuration(
    token_url: str,
    client_id: Optional[str],
    client_secret: Optional[str],
    auth_method: str,
    label: ProviderLabel,
) -> None:
    if not token_url:
        raise ConfigurationError(f"token URL is empty: set {label.setting('token_url')}")
    if auth_method not in CLIENT_AUTH_METHODS:
        raise ConfigurationError(
            f"unknown client auth method {auth_method!r}: use one of "
            f"{', '.join(CLIENT_AUTH_METHODS)}"
        )
    if auth_method != "none" and not client_id:
        raise ConfigurationError(f"client id is empty: set {label.setting('client_id')}")
    if auth_method != "none" and not client_secret:
        raise ConfigurationError(f"client secret is empty: set {label.setting('client_secret')}")
