"""Reads the server's pacing hints from response headers.

``Retry-After`` (delta seconds or HTTP date) and the rate-limit header families:
``X-RateLimit-Limit/Remaining/Reset``, IETF ``RateLimit-Limit/Remaining/Reset`` and
the combined ``RateLimit`` + ``RateLimit-Policy`` fields (both the ``limit=,
remaining=, reset=`` draft and the ``r=;t=`` / ``q=;w=`` structured-field drafts).
Reset values may be delta seconds, epoch seconds or epoch milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Optional

EPOCH_SECONDS_THRESHOLD = 1_000_000_000.0
"""Reset values at least this large are epoch seconds (2001-09-09), not a delay."""

EPOCH_MILLIS_THRESHOLD = 1_000_000_000_000.0
"""Reset values at least this large are epoch milliseconds."""

HEADER_PREFIXES = ("X-RateLimit-", "RateLimit-")


@dataclass(frozen=True)
class RateLimitInfo:
    """What the server said about the current rate-limit window.

    Attributes:
        limit: Requests allowed in the window, if stated.
        remaining: Requests left in the window, if stated.
        reset_s: Seconds until the window resets, if stated.
    """

    limit: Optional[float] = None
    remaining: Optional[float] = None
    reset_s: Optional[float] = None

    @property
    def is_empty(self) -> bool:
        """True when no field was present."""
        return self.limit is None and self.remaining is None and self.reset_s is None

    @property
    def exhausted(self) -> bool:
        """True when the window is spent and says when it resets."""
        return self.remaining is not None and self.remaining <= 0 and self.reset_s is not None


def parse_number(value: Optional[str]) -> Optional[float]:
    """Parses a header value as a finite number; None when absent or malformed."""
    if value is None:
        return None
    try:
        number = float(str(value).strip().strip('"'))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_retry_after(value: Optional[str], now_wall: float) -> Optional[float]:
    """Parses ``Retry-After`` into seconds from now.

    Args:
        value: Header value: delta seconds or an HTTP date.
        now_wall: Current wall-clock time (epoch seconds).

    Returns:
        Non-negative seconds, or None when absent or unparseable.
    """
    if value is None or not str(value).strip():
        return None
    seconds = parse_number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(str(value).strip())
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now_wall)


def parse_reset(value: Optional[str], now_wall: float) -> Optional[float]:
    """Parses a rate-limit reset value into seconds from now.

    Args:
        value: Delta seconds, epoch seconds or epoch milliseconds.
        now_wall: Current wall-clock time (epoch seconds).

    Returns:
        Non-negative seconds, or None when absent or unparseable.
    """
    number = parse_number(value)
    if number is None:
        return None
    if number >= EPOCH_MILLIS_THRESHOLD:
        number = number / 1000.0 - now_wall
    elif number >= EPOCH_SECONDS_THRESHOLD:
        number = number - now_wall
    return max(0.0, number)


def parse_parameters(value: str) -> dict[str, str]:
    """Splits ``limit=10, remaining=3`` or ``"default";r=3;t=10`` into a dict.

    A bare leading number (``100;w=60``) is returned under the key ``""``.
    """
    params: dict[str, str] = {}
    for token in value.replace(";", ",").split(","):
        key, sep, raw = token.partition("=")
        if sep:
            params[key.strip().lower()] = raw.strip().strip('"')
        elif parse_number(token) is not None and "" not in params:
            params[""] = token.strip()
    return params


def _first(params: Mapping[str, str], *keys: str) -> Optional[str]:
    for key in keys:
        if key in params:
            return params[key]
    return None


def _combined_info(headers: Mapping[str, str], now_wall: float) -> RateLimitInfo:
    combined = parse_parameters(headers.get("RateLimit") or "")
    policy = parse_parameters(headers.get("RateLimit-Policy") or "")
    limit = parse_number(_first(combined, "limit", "")) or parse_number(_first(policy, "q", ""))
    return RateLimitInfo(
        limit=limit,
        remaining=parse_number(_first(combined, "remaining", "r")),
        reset_s=parse_reset(_first(combined, "reset", "t"), now_wall),
    )


def _prefixed_info(headers: Mapping[str, str], prefix: str, now_wall: float) -> RateLimitInfo:
    return RateLimitInfo(
        limit=parse_number(headers.get(prefix + "Limit")),
        remaining=parse_number(headers.get(prefix + "Remaining")),
        reset_s=parse_reset(headers.get(prefix + "Reset"), now_wall),
    )


def rate_limit_info(headers: Mapping[str, str], now_wall: float) -> Optional[RateLimitInfo]:
    """Reads the rate-limit window from any supported header family.

    Args:
        headers: Response headers (case-insensitive mapping).
        now_wall: Current wall-clock time (epoch seconds).

    Returns:
        The first family that is present, or None when there is none.
    """
    candidates = [_prefixed_info(headers, prefix, now_wall) for prefix in HEADER_PREFIXES]
    if "RateLimit" in headers:
        candidates.append(_combined_info(headers, now_wall))
    for info in candidates:
        if not info.is_empty:
            return info
    return None


def retry_after_seconds(headers: Mapping[str, str], now_wall: float) -> Optional[float]:
    """Returns the ``Retry-After`` delay in seconds, if the header is present and valid."""
    return parse_retry_after(headers.get("Retry-After"), now_wall)
