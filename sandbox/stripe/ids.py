"""Stripe-like object ids, generated deterministically from a seeded ``random.Random``."""

from __future__ import annotations

import functools
import random
import string
import threading
import uuid

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
"""Base62 alphabet in ASCII order, so fixed-width encodings sort like the numbers they encode."""

_TIME_WIDTH = 6
_SEQ_WIDTH = 3
_TAIL_WIDTH = 4

# Object kinds whose real ids start with a version digit, a time component and the account tag,
# e.g. ``ch_3PgafuB7WZ01zgkW0XYmPNZs``. Charges and payment intents use version ``3``.
_VERSION_BY_PREFIX = {"ch": "3", "pi": "3", "py": "3"}


def to_base62(value: int, width: int) -> str:
    """Encode ``value`` as a fixed-width base62 string (most significant digit first).

    Args:
        value: A non-negative integer; it wraps modulo ``62 ** width``.
        width: Number of characters to produce.

    Returns:
        The encoded string, left-padded with ``0``.
    """
    value %= 62**width
    digits: list[str] = []
    for _ in range(width):
        value, remainder = divmod(value, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


@functools.cache
def _byte_table(alphabet: str) -> bytes:
    # Maps each byte value onto the alphabet (modulo bias is irrelevant for a sandbox).
    return bytes(ord(alphabet[value % len(alphabet)]) for value in range(256))


class IdFactory:
    """Makes Stripe-looking ids from a seeded random source (thread-safe).

    Time-based ids (``timed``) sort by creation time, then by generation order within a second,
    like Stripe's own ids do.
    """

    def __init__(self, rng: random.Random, account_tag: str | None = None) -> None:
        """Create a factory.

        Args:
            rng: The random source; the same seed gives the same ids in the same call order.
            account_tag: 10 base62 characters shared by every time-based id of the account;
                drawn from ``rng`` when not given.
        """
        self._rng = rng
        self._lock = threading.Lock()
        self._sequence = 0
        self.account_tag = account_tag or self.random_chars(10)

    def random_chars(self, length: int, alphabet: str = BASE62) -> str:
        """Return ``length`` random characters from ``alphabet`` (at most 256 characters)."""
        with self._lock:
            raw = self._rng.randbytes(length)
        return raw.translate(_byte_table(alphabet)).decode("ascii")

    def short(self, prefix: str, length: int = 14) -> str:
        """Return an id like ``cus_QXg1o8vcGmoR32`` (prefix plus random base62 characters)."""
        return f"{prefix}_{self.random_chars(length)}"

    def timed(self, prefix: str, created: int) -> str:
        """Return an id like ``in_1PgafuB7WZ01zgkWu9fdqL6I`` that sorts by ``created``.

        Args:
            prefix: The object prefix without underscore (``ch``, ``in``, ``evt`` ...).
            created: Unix seconds the object was created at.
        """
        version = _VERSION_BY_PREFIX.get(prefix, "1")
        with self._lock:
            self._sequence += 1
            sequence = self._sequence
        tail = self.random_chars(_TAIL_WIDTH)
        return (
            f"{prefix}_{version}{to_base62(created, _TIME_WIDTH)}{self.account_tag}"
            f"{to_base62(sequence, _SEQ_WIDTH)}{tail}"
        )

    def uuid4(self) -> str:
        """Return a random (seeded) UUID4 string, as the official SDK uses for idempotency keys."""
        with self._lock:
            bits = self._rng.getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    def digits(self, length: int) -> str:
        """Return ``length`` random decimal digits."""
        return self.random_chars(length, string.digits)
