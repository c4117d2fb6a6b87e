"""How Salesforce's error answers become the kit's exceptions, and which ones are retried.

The spec's error raiser and retry decider (``spec.py``). Salesforce never answers 429:
too many concurrent long requests get ``403 REQUEST_LIMIT_EXCEEDED`` (retry with
backoff); a spent daily limit gets the same code with ``TotalRequests`` (retrying
cannot help until the 24-hour window frees requests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from requests import Response

from sources.kit.errors import (
    AuthenticationError,
    FatalError,
    error_from_response,
    provider_message,
)
from sources.kit.redact import global_redactor
from sources.kit.retry import RetryDecider
from sources.kit.settings import HttpSettings

from .codes import raise_for_code
from .settings import DAILY_LIMIT_MESSAGE, REQUEST_LIMIT_EXCEEDED


def limit_exceeded(response: Response) -> Optional[str]:
    """The message of a 403 ``REQUEST_LIMIT_EXCEEDED`` answer, else None."""
    if response.status_code != 403:
        return None
    message = provider_message(response) or ""
    return message if REQUEST_LIMIT_EXCEEDED in message else None


def is_daily_limit(response: Response) -> bool:
    """Whether a response says the org's daily request limit is spent."""
    message = limit_exceeded(response)
    return message is not None and DAILY_LIMIT_MESSAGE in message


@dataclass(frozen=True)
class SalesforceRetryDecider(RetryDecider):
    """The kit's decider, plus Salesforce's transient over-limit answer."""

    def should_retry(
        self,
        method: str,
        response: Optional[Response],
        exception: Optional[BaseException],
        has_idempotency_key: bool,
    ) -> bool:
        """Retries what the kit retries, and the transient 403 ``REQUEST_LIMIT_EXCEEDED``."""
        if response is not None and limit_exceeded(response) and not is_daily_limit(response):
            return True
        return super().should_retry(method, response, exception, has_idempotency_key)


def retry_decider(settings: HttpSettings) -> SalesforceRetryDecider:
    """The decider of a session with ``settings`` (the spec's ``retry_decider``)."""
    return SalesforceRetryDecider(
        idempotency_header=settings.idempotency_header,
        should_retry_header=settings.should_retry_header,
    )


def raise_for_salesforce(response: Response, *args: Any, **kwargs: Any) -> None:
    """An error response becomes the kit's exception; a success returns.

    Raises:
        FatalError: The daily request limit is spent.
        AuthenticationError: 401 even with a fresh token.
        QueryLocatorInvalid: A dead query locator (``codes.py``).
        ReplicationDateInvalid: ``/deleted/`` refused the window (``codes.py``).
        SluiceError: Any other status of 400 or more.
    """
    if response.status_code < 400:
        return
    if is_daily_limit(response):
        raise FatalError(
            "Salesforce org's daily API request limit is spent (403 REQUEST_LIMIT_EXCEEDED "
            "TotalRequests); nothing more can be read until the 24-hour window frees requests",
            response=response,
        )
    if response.status_code == 401:
        raise AuthenticationError(
            "Salesforce rejected the session (401 INVALID_SESSION_ID) even with a freshly "
            "issued token: check the connected app's permissions and "
            "sources.salesforce.credentials",
            response=response,
        )
    raise_for_code(response)  # codes the connector recovers from (codes.py)
    raise error_from_response(response, global_redactor())
