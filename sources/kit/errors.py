"""The exception hierarchy every sluice connector raises.

Exceptions are named for what the caller should do:

* :class:`FatalError` - stop the run; retrying cannot help.
* :class:`RetriableError` - transient; the same call may succeed later.
* :class:`SkippableError` - one record is bad; dead-letter it and go on.

Messages are redacted when the exception is created and always render as one line.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from requests import Response

from .redact import Redactor, global_redactor

REQUEST_ID_HEADERS = ("Request-Id", "X-Request-Id")
MAX_PROVIDER_MESSAGE = 300


def request_id_of(response: Optional[Response]) -> Optional[str]:
    """Returns the provider's request id from ``Request-Id``/``X-Request-Id``, if any."""
    if response is None:
        return None
    for header in REQUEST_ID_HEADERS:
        value = response.headers.get(header)
        if value:
            return str(value)
    return None


def one_line(text: str) -> str:
    """Collapses whitespace and line breaks so a message renders on one line."""
    return " ".join(str(text).split())


class SluiceError(Exception):
    """Root of every sluice exception.

    Attributes:
        message: The redacted, one-line message.
        response: The HTTP response that caused it, if any.
        request_id: The provider's request id (for support tickets), if known.
        status: HTTP status of ``response``, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        response: Optional[Response] = None,
        request_id: Optional[str] = None,
    ) -> None:
        """Creates the error.

        Args:
            message: What went wrong and what to do; redacted with the global redactor.
            response: The response that caused the error.
            request_id: Provider request id; read from ``response`` headers when omitted.
        """
        self.message = one_line(global_redactor().redact_text(message))
        self.response = response
        self.status: Optional[int] = response.status_code if response is not None else None
        self.request_id = request_id or request_id_of(response)
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.request_id and self.request_id not in self.message:
            return f"{self.message} (request id {self.request_id})"
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, "
            f"request_id={self.request_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.request_id))


def _rebuild(cls: type[SluiceError], message: str, request_id: Optional[str]) -> SluiceError:
    """Unpickles an error (the response is not carried across processes)."""
    return cls(message, request_id=request_id)


class FatalError(SluiceError):
    """Stop: retrying will not help (bad credentials, bad configuration, a bug)."""


class AuthenticationError(FatalError):
    """The provider rejected the credentials (401/403)."""


class ConfigurationError(FatalError):
    """The source is configured wrongly (missing setting, wrong base URL...)."""


class ClientError(FatalError):
    """The provider rejected the request (a 4xx other than 401/403/429)."""


class CircuitOpenError(FatalError):
    """The circuit breaker for a host is open: the API is failing, calls are refused."""

    circuit: str = ""
    """The breaker's name, ``<integration> <host>``."""


class RetryBudgetExhaustedError(FatalError):
    """The run spent its whole retry budget: the API is too unreliable to continue."""


class UnsafeRedirectError(FatalError):
    """A request or redirect would have sent credentials to a host that is not allowed."""


class TooManyRedirectsError(FatalError):
    """The server kept redirecting past the redirect limit."""


class PaginationError(FatalError):
    """Pagination cannot continue safely."""


class PaginationLoopError(PaginationError):
    """The same cursor or next-page URL came back twice within one pagination."""


class MissingCursorError(PaginationError):
    """A page says there is more data but carries no cursor to fetch it with."""


class RetriableError(SluiceError):
    """A transient failure: the same call may succeed later."""


class RateLimitedError(RetriableError):
    """The provider throttled the request (429)."""


class RateLimitWaitTooLongError(RateLimitedError):
    """The provider asks for a longer wait than the run may spend; try again at ``retry_at``."""

    def __init__(
        self,
        message: str,
        *,
        retry_at: Optional[float] = None,
        response: Optional[Response] = None,
        request_id: Optional[str] = None,
    ) -> None:
        """Creates the error; ``retry_at`` is the unix time the provider names."""
        super().__init__(message, response=response, request_id=request_id)
        self.retry_at = retry_at


class ServerError(RetriableError):
    """The provider failed (5xx)."""


class TransientNetworkError(RetriableError):
    """The connection failed, dropped or timed out."""


class SkippableError(SluiceError):
    """A record-level problem: dead-letter the record and go on."""


def error_class_for_status(status: int) -> type[SluiceError]:
    """Maps an HTTP error status to the exception class the caller should see.

    Args:
        status: HTTP status code (400 or above).

    Returns:
        AuthenticationError for 401/403, RateLimitedError for 429, ServerError for
        5xx, ClientError for any other status.
    """
    if status in (401, 403):
        return AuthenticationError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return ClientError


def _text(value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    return str(value)


def _join(*parts: Optional[str]) -> Optional[str]:
    present = [p for p in parts if p]
    return ": ".join(present) if present else None


def message_from_payload(payload: Any) -> Optional[str]:
    """Extracts the provider's error message from common JSON error shapes.

    Understands Stripe (``{"error": {"message"}}``), ServiceNow (``{"error":
    {"message", "detail"}}``), Salesforce (``[{"message", "errorCode"}]``), Slack
    (``{"ok": false, "error": "..."}``), OAuth (``{"error", "error_description"}``)
    and plain ``{"message"}`` / ``{"errors": [{"message"}]}``.

    Args:
        payload: The decoded JSON body.

    Returns:
        The message, or None when the shape is not recognised.
    """
    if isinstance(payload, list):
        messages = [message_from_payload(item) for item in payload if isinstance(item, dict)]
        return "; ".join(m for m in messages if m) or None
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict):
        return _join(
            _text(error.get("code") or error.get("type")),
            _text(error.get("message")),
            _text(error.get("detail")),
        )
    if isinstance(error, str):
        return _join(error, _text(payload.get("error_description")))
    if "errorCode" in payload or "message" in payload:
        return _join(_text(payload.get("errorCode")), _text(payload.get("message")))
    errors = payload.get("errors")
    if isinstance(errors, list):
        return message_from_payload(errors)
    return None


def provider_message(response: Response) -> Optional[str]:
    """Returns the provider's error message from a response body, if one is readable."""
    try:
        payload = json.loads(response.content or b"")
    except (ValueError, TypeError, RuntimeError):
        return None
    message = message_from_payload(payload)
    if message and len(message) > MAX_PROVIDER_MESSAGE:
        message = message[: MAX_PROVIDER_MESSAGE - 3] + "..."
    return message


def describe_request(response: Response, redactor: Redactor) -> str:
    """``GET https://host/path`` for the request behind a response, redacted."""
    request = response.request
    method = getattr(request, "method", None) or ""
    url = getattr(request, "url", None) or response.url or ""
    return " ".join(part for part in (method, redactor.redact_url(str(url))) if part)


def error_from_response(response: Response, redactor: Optional[Redactor] = None) -> SluiceError:
    """Builds the exception matching an error response, with the provider's message.

    Args:
        response: A response with status 400 or above.
        redactor: Masks secrets in the message; the process-wide one by default.

    Returns:
        An instance of the class chosen by :func:`error_class_for_status`, with a
        one-line message such as ``HTTP 401 from GET https://...: Invalid API Key``.
    """
    redactor = redactor or global_redactor()
    status = response.status_code
    where = describe_request(response, redactor)
    detail = provider_message(response) or (response.reason or "")
    head = f"HTTP {status} from {where}" if where else f"HTTP {status}"
    message = f"{head}: {detail}" if detail else head
    cls = error_class_for_status(status)
    return cls(redactor.redact_text(message), response=response)
