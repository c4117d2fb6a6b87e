"""API key authentication: Bearer or Basic credentials, key modes and masking."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Iterable

from . import errors

_MODE_PREFIX = re.compile(r"^(?:sk|rk)_(test|live)_")
_SHOWN_PREFIX = re.compile(r"^(?:sk|rk|pk)_(?:test|live)_")


def is_live_key(key: str) -> bool:
    """Return whether ``key`` is a live-mode key (``sk_live_``/``rk_live_``)."""
    match = _MODE_PREFIX.match(key)
    return match is not None and match.group(1) == "live"


def mask_key(key: str) -> str:
    """Mask a key as Stripe does in messages: keep its mode prefix and last four characters.

    ``sk_test_51Habcdef1234`` becomes ``sk_test_********1234``; keys too short to hide
    anything by showing four characters are masked completely.
    """
    match = _SHOWN_PREFIX.match(key)
    prefix = match.group(0) if match else ""
    secret = key[len(prefix) :]
    if len(secret) < 8:
        return prefix + "*" * len(secret)
    return prefix + "*" * (len(secret) - 4) + secret[-4:]


def credentials(authorization: str | None) -> str | None:
    """Extract the API key from an ``Authorization`` header.

    Accepts ``Bearer <key>`` and ``Basic base64(<key>:)``. Returns ``None`` when no key is
    present or the scheme is neither.
    """
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value or None
        return decoded.partition(":")[0] or None
    return None


class Authenticator:
    """Checks request credentials against the accepted keys."""

    def __init__(self, keys: Iterable[str]) -> None:
        """Accept ``keys`` (at least one).

        Raises:
            ValueError: If no key is given.
        """
        self._keys = frozenset(keys)
        if not self._keys:
            raise ValueError("at least one API key is required")

    def authenticate(self, authorization: str | None, expired: Collection[str] = ()) -> str:
        """Return the key of a request.

        Args:
            authorization: The ``Authorization`` header.
            expired: Keys that now answer ``api_key_expired``.

        Raises:
            StripeError: 401 for a missing, unknown or expired key (the key masked).
        """
        key = credentials(authorization)
        if key is None:
            raise errors.missing_api_key()
        if key in expired:
            raise errors.expired_api_key(mask_key(key))
        if key not in self._keys:
            raise errors.invalid_api_key(mask_key(key))
        return key

    def __repr__(self) -> str:
        return f"Authenticator({len(self._keys)} keys)"
