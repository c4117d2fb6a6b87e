"""Slack's error answers as the kit's exceptions (the spec's error raiser).

Slack answers most errors with HTTP 200 and ``{"ok": false, "error": "<code>"}``
(https://api.slack.com/web#evaluating_responses); rate limits are HTTP 429 with
``Retry-After`` (https://api.slack.com/apis/rate-limits), which the kit retries before
this raiser ever sees the answer.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from requests import Response

from sources.kit.errors import (
    AuthenticationError,
    ClientError,
    RateLimitedError,
    error_from_response,
)
from sources.kit.redact import global_redactor

from .settings import AUTH_ERRORS, CHANNEL_ERRORS, SCOPE_FOR, TOKEN_KEY

__all__ = [
    "InvalidCursorError",
    "SlackAccessError",
    "method_of",
    "raise_for_slack",
    "slack_error",
]


class SlackAccessError(ClientError):
    """The token may not read one channel or method: skip it, load the rest.

    Attributes:
        code: Slack's error code (``missing_scope``, ``not_in_channel``...).
        method: The Web API method that refused.
        needed: The scope(s) Slack says are missing, for ``missing_scope``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        method: str,
        needed: Optional[str] = None,
        response: Optional[Response] = None,
    ) -> None:
        super().__init__(message, response=response)
        self.code = code
        self.method = method
        self.needed = needed


class InvalidCursorError(ClientError):
    """A saved cursor is no longer accepted (``invalid_cursor``)."""


def method_of(response: Response) -> str:
    """The Web API method a response answers (last path segment of its URL)."""
    url = getattr(response.request, "url", None) or response.url or ""
    return str(url).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def body_of(response: Response) -> Optional[dict[str, Any]]:
    """The decoded JSON object of a response, or None when it is not one."""
    try:
        payload = json.loads(response.content or b"")
    except (ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None


def slack_error(method: str, body: dict[str, Any], response: Optional[Response] = None) -> Any:
    """The kit exception for one ``ok: false`` body.

    Args:
        method: The method called (named in the message).
        body: The decoded answer.
        response: The response it came in, if any.

    Returns:
        AuthenticationError for an unusable token, SlackAccessError for a missing scope or
        an unreadable channel, InvalidCursorError, RateLimitedError, else ClientError.
    """
    code = str(body.get("error") or "unknown_error")
    if code in AUTH_ERRORS:
        return AuthenticationError(
            f"Slack refused the bot token ({code}) on {method}: check {TOKEN_KEY}",
            response=response,
        )
    if code == "missing_scope":
        # Slack names the missing scope in "needed" (https://api.slack.com/methods/...
        # "missing_scope"); fall back to what the method is documented to need.
        needed = str(body.get("needed") or SCOPE_FOR.get(method, "?"))
        return SlackAccessError(
            f"Slack {method}: missing_scope, the bot token lacks the scope {needed}; add it "
            "to the app and reinstall it",
            code=code,
            method=method,
            needed=needed,
            response=response,
        )
    if code in CHANNEL_ERRORS:
        return SlackAccessError(
            f"Slack {method}: {code}", code=code, method=method, response=response
        )
    if code == "invalid_cursor":
        return InvalidCursorError(f"Slack {method}: invalid_cursor", response=response)
    if code == "ratelimited":
        return RateLimitedError(f"Slack {method}: ratelimited", response=response)
    return ClientError(f"Slack {method}: {code}", response=response)


def raise_for_slack(response: Response, *args: Any, **kwargs: Any) -> None:
    """An error answer (HTTP or ``ok: false``) becomes the kit's exception.

    Raises:
        SluiceError: The matching kit exception (see :func:`slack_error`).
    """
    if response.status_code >= 400:
        body = body_of(response)
        if response.status_code != 429 and body is not None and body.get("ok") is False:
            raise slack_error(method_of(response), body, response)
        raise error_from_response(response, global_redactor())
    body = body_of(response)
    if body is None:
        raise ClientError(
            f"Slack {method_of(response)} answered no JSON object: check sources.slack.base_url",
            response=response,
        )
    if body.get("ok") is not True:
        raise slack_error(method_of(response), body, response)
