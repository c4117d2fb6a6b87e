"""What a sandbox endpoint answers: status, JSON body and extra headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def oauth_error(
    status: int,
    error: str,
    description: Optional[str] = None,
    headers: Optional[dict[str, str]] = None,
) -> Reply:
    """An RFC 6749 §5.2 error reply such as ``400 {"error": "invalid_grant"}``."""
    body: dict[str, Any] = {"error": error}
    if description:
        body["error_description"] = description
    return Reply(status, body, dict(headers or {}))
