"""Stripe error bodies and the exception that carries them through the sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_DOCS = "https://stripe.com/docs"
_SUPPORT = "we can help at https://support.stripe.com/"


class StripeError(Exception):
    """An error answered to the client as ``{"error": {...}}`` with an HTTP status.

    Messages never contain a full API key; callers pass masked keys only.
    """

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Create an error.

        Args:
            status: HTTP status code.
            error_type: Stripe error type (``invalid_request_error``, ``api_error`` ...).
            message: Human readable message.
            code: Stripe error code (``resource_missing``, ``rate_limit`` ...).
            param: The request parameter the error is about.
            headers: Extra response headers (e.g. ``Stripe-Should-Retry``).
        """
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """Return the JSON body Stripe sends for this error."""
        error: dict[str, Any] = {}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{_DOCS}/error-codes/{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param is not None:
            error["param"] = self.param
        error["type"] = self.error_type
        return {"error": error}

    def __repr__(self) -> str:
        return f"StripeError({self.status}, {self.error_type!r}, code={self.code!r})"


def invalid_request(message: str, *, param: str | None = None, status: int = 400) -> StripeError:
    """A generic ``invalid_request_error``."""
    return StripeError(status, "invalid_request_error", message, param=param)


def invalid_value(param: str, message: str) -> StripeError:
    """A parameter with a value of the wrong kind (``parameter_invalid_*``-style)."""
    return StripeError(400, "invalid_request_error", message, param=param)


def missing_parameter(param: str) -> StripeError:
    """Stripe's answer to a request without a parameter it requires (error code
    ``parameter_missing``, docs.stripe.com/error-codes)."""
    return StripeError(
        400,
        "invalid_request_error",
        f"Missing required param: {param}.",
        code="parameter_missing",
        param=param,
    )


def unknown_parameter(param: str) -> StripeError:
    """Stripe's answer to a parameter it does not know."""
    return StripeError(
        400,
        "invalid_request_error",
        f"Received unknown parameter: {param}",
        code="parameter_unknown",
        param=param,
    )


def resource_missing(
    type_name: str, obj_id: str, *, param: str = "id", status: int = 404
) -> StripeError:
    """``No such customer: 'cus_x'`` (404 for the URL id, 400 for a referenced id)."""
    return StripeError(
        status,
        "invalid_request_error",
        f"No such {type_name}: '{obj_id}'",
        code="resource_missing",
        param=param,
    )


def unrecognized_url(method: str, path: str) -> StripeError:
    """404 for a path the API does not serve."""
    return StripeError(
        404,
        "invalid_request_error",
        f"Unrecognized request URL ({method}: {path}). Please see {_DOCS} or {_SUPPORT}.",
    )


def missing_api_key() -> StripeError:
    """401 when no API key was sent."""
    return StripeError(
        401,
        "invalid_request_error",
        "You did not provide an API key. You need to provide your API key in the Authorization "
        "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
        f"{_DOCS}/api#authentication for details, or {_SUPPORT}.",
        headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
    )


def invalid_api_key(masked_key: str) -> StripeError:
    """401 for a key the account does not have (the key is already masked)."""
    return StripeError(
        401,
        "invalid_request_error",
        f"Invalid API Key provided: {masked_key}",
        code="api_key_invalid",
        headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
    )


def expired_api_key(masked_key: str) -> StripeError:
    """401 for an expired key (the key is already masked)."""
    return StripeError(
        401,
        "invalid_request_error",
        f"Expired API Key provided: {masked_key}",
        code="api_key_expired",
        headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
    )


def rate_limited() -> StripeError:
    """429 as Stripe sends it: no ``Retry-After`` header."""
    return StripeError(
        429,
        "invalid_request_error",
        "Too many requests hit the API too quickly. We recommend an exponential backoff of "
        f"your requests. See {_DOCS}/rate-limits for details.",
        code="rate_limit",
    )


def lock_timeout() -> StripeError:
    """409 lock timeout that asks the client to retry."""
    return StripeError(
        409,
        "invalid_request_error",
        "This object cannot be accessed right now because another API request or Stripe "
        "process is currently accessing it. If you see this error intermittently, retry the "
        "request. If you see this error frequently and are making multiple concurrent requests "
        "to a single object, make your requests serially or at a lower rate.",
        code="lock_timeout",
        headers={"Stripe-Should-Retry": "true"},
    )


def api_error(status: int, *, should_retry: bool | None = None) -> StripeError:
    """A 5xx ``api_error``, optionally with a ``Stripe-Should-Retry`` header."""
    headers = {} if should_retry is None else {"Stripe-Should-Retry": str(should_retry).lower()}
    return StripeError(
        status,
        "api_error",
        "An unknown error occurred while processing your request. Please retry, or "
        f"{_SUPPORT} if the problem persists.",
        headers=headers,
    )


def idempotency_mismatch(idempotency_key: str) -> StripeError:
    """400 when an idempotency key is reused with different parameters."""
    return StripeError(
        400,
        "idempotency_error",
        "Keys for idempotent requests can only be used with the same parameters they were "
        f"first used with. Try using a key other than '{idempotency_key}' if you meant to "
        "execute a different request.",
    )


def idempotency_in_progress() -> StripeError:
    """409 when another request with the same idempotency key is still running."""
    return StripeError(
        409,
        "idempotency_error",
        "There is currently another in-progress request using this Stripe-Idempotency-Key. "
        "Please try again later.",
    )
