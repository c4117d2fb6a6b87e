"""How Gmail's error answers become the kit's exceptions, and which ones are retried.

Google's error body is ``{"error": {"code", "message", "errors": [{"reason", "domain"}],
"status"}}``. The per-user and per-project limits answer 429 ``rateLimitExceeded`` or 403
``userRateLimitExceeded`` / ``rateLimitExceeded`` (domain ``usageLimits``); both are
retried with backoff ("Resolve errors": https://developers.google.com/gmail/api/guides/
handle-errors). Any other 403 (a missing scope, delegation denied) is fatal, in one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from requests import Response

from sources.kit.errors import (
    AuthenticationError,
    FatalError,
    RateLimitedError,
    SluiceError,
    error_from_response,
)
from sources.kit.redact import global_redactor
from sources.kit.retry import RetryDecider
from sources.kit.settings import HttpSettings

from .settings import CREDENTIALS_PATH, RATE_LIMIT_REASONS


class HistoryExpired(SluiceError):
    """history.list answered 404: the saved ``startHistoryId`` is older than Gmail keeps."""


def error_reasons(payload: Any) -> set[str]:
    """The ``reason`` of every entry in a Google error body."""
    error = payload.get("error") if isinstance(payload, dict) else None
    entries = error.get("errors") if isinstance(error, dict) else None
    if not isinstance(entries, list):
        return set()
    return {str(e.get("reason")) for e in entries if isinstance(e, dict) and e.get("reason")}


def response_reasons(response: Response) -> set[str]:
    """The error reasons of a response (empty when the body is not Google's error JSON)."""
    try:
        return error_reasons(json.loads(response.content or b""))
    except (ValueError, TypeError, RuntimeError):
        return set()


def is_rate_limited(status: int, reasons: set[str]) -> bool:
    """A quota answer: 429, or 403 with a rate-limit reason."""
    return status == 429 or (status == 403 and bool(reasons & RATE_LIMIT_REASONS))


@dataclass(frozen=True)
class GmailRetryDecider(RetryDecider):
    """The kit's decider, plus Gmail's 403 ``rateLimitExceeded`` / ``userRateLimitExceeded``."""

    def should_retry(
        self,
        method: str,
        response: Optional[Response],
        exception: Optional[BaseException],
        has_idempotency_key: bool,
    ) -> bool:
        """Retries what the kit retries and the 403 quota answers."""
        if response is not None and response.status_code == 403:
            return is_rate_limited(403, response_reasons(response))
        return super().should_retry(method, response, exception, has_idempotency_key)


def retry_decider(settings: HttpSettings) -> GmailRetryDecider:
    """The decider of a session with ``settings`` (the spec's ``retry_decider``)."""
    return GmailRetryDecider(
        idempotency_header=settings.idempotency_header,
        should_retry_header=settings.should_retry_header,
    )


def raise_for_gmail(response: Response, *args: Any, **kwargs: Any) -> None:
    """An error response becomes the kit's exception; a success returns.

    Raises:
        AuthenticationError: 401 even with a freshly fetched token.
        FatalError: 403 other than a rate limit (a scope the grant lacks).
        RateLimitedError: Quota answers still refused after the retries.
        SluiceError: Any other status of 400 or more.
    """
    status = response.status_code
    if status < 400:
        return
    error = error_from_response(response, global_redactor())
    if status == 401:
        raise AuthenticationError(
            f"Gmail refused the access token even freshly refreshed ({error}): check the "
            f"grant's scopes (gmail.readonly) and {CREDENTIALS_PATH}",
            response=response,
        )
    if is_rate_limited(status, response_reasons(response)):
        raise RateLimitedError(
            f"Gmail quota still exceeded after retries: {error}", response=response
        )
    if status == 403:
        raise FatalError(
            f"Gmail refused the request ({error}): the authorised account or its grant may "
            f"not read this mailbox; re-authorise with the gmail.readonly scope and set "
            f"{CREDENTIALS_PATH}.refresh_token",
            response=response,
        )
    raise error
