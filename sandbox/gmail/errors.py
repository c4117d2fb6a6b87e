"""Google's JSON error replies, as the Gmail API and Google front ends write them.

Shape: https://developers.google.com/gmail/api/guides/handle-errors ("A JSON object in the
response body": ``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}],
"status"}}``); the ``status`` strings are google.rpc.Code names
(https://cloud.google.com/apis/design/errors#handling_errors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

JSON_TYPE = "application/json; charset=UTF-8"


@dataclass
class Reply:
    """One HTTP answer: status, body bytes, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    stall_s: float = 0.0

    @classmethod
    def json(cls, status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> Reply:
        """A JSON answer."""
        body = json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8")
        return cls(status, body, JSON_TYPE, dict(headers or {}))


def google_error(
    status: int,
    message: str,
    reason: str,
    *,
    domain: str = "global",
    headers: Optional[dict[str, str]] = None,
    **extra: str,
) -> Reply:
    """``{"error": {...}}`` with one entry in ``errors`` (``extra``: location, locationType)."""
    detail: dict[str, str] = {"message": message, "domain": domain, "reason": reason, **extra}
    payload = {
        "error": {
            "code": status,
            "message": message,
            "errors": [detail],
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }
    return Reply.json(status, payload, headers)


def not_found() -> Reply:
    """404 as Gmail answers an unknown id or an expired ``startHistoryId``."""
    return google_error(404, "Requested entity was not found.", "notFound")


def bad_request(message: str, location: Optional[str] = None) -> Reply:
    """400 ``badRequest`` / ``invalidArgument`` naming the parameter when known."""
    if location is None:
        return google_error(400, message, "badRequest")
    return google_error(
        400, message, "invalidArgument", location=location, locationType="parameter"
    )


def unauthenticated() -> Reply:
    """401 for a missing, unknown or expired Bearer token.

    Body from the "Resolve errors" guide (401 ``authError``, location ``Authorization``);
    ``WWW-Authenticate`` as RFC 6750 §3 has protected resources send it.
    """
    return google_error(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential.",
        "authError",
        location="Authorization",
        locationType="header",
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        },
    )


def server_error(status: int = 503) -> Reply:
    """5xx ``backendError``, the reason the guide tells clients to retry with backoff."""
    message = "The service is currently unavailable." if status != 500 else "Backend Error"
    return google_error(status, message, "backendError")


def quota_error(status: int, reason: str, retry_after: Optional[int] = None) -> Reply:
    """A usage-limit answer: 429 ``rateLimitExceeded`` or 403 ``userRateLimitExceeded``.

    "Resolve errors" guide: 403 ``userRateLimitExceeded`` ("User Rate Limit Exceeded") and
    ``rateLimitExceeded`` (domain ``usageLimits``), 429 ``rateLimitExceeded`` ("Too many
    concurrent requests for user"); all retried with exponential backoff.
    """
    messages = {
        (403, "userRateLimitExceeded"): "User Rate Limit Exceeded",
        (403, "rateLimitExceeded"): "Rate Limit Exceeded",
        (429, "rateLimitExceeded"): "Too many concurrent requests for user",
    }
    message = messages.get((status, reason), "Quota exceeded")
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return google_error(status, message, reason, domain="usageLimits", headers=headers)
