"""Idempotency keys: replay stored results of POST requests, reject reuse with other params."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import errors

MAX_KEY_LENGTH = 255
KEY_LIFETIME_S = 24 * 3600
"""How long a key is kept: "You can remove keys from the system automatically after
they're at least 24 hours old. We generate a new request if a key is reused after the
original is pruned" (https://docs.stripe.com/api/idempotent_requests)."""


@dataclass(frozen=True)
class StoredResponse:
    """A response kept for replay."""

    status: int
    body: bytes
    request_id: str


@dataclass
class _Record:
    fingerprint: str
    created: float
    response: StoredResponse | None = None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Return a digest identifying a request's method, path and parameters."""
    digest = hashlib.sha256()
    for part in (method.encode(), b" ", path.encode(), b"\n", body):
        digest.update(part)
    return digest.hexdigest()


def _scope(api_key: str, idempotency_key: str) -> tuple[str, str]:
    # Keys are scoped per API key; only a digest of the API key is kept.
    return hashlib.sha256(api_key.encode()).hexdigest(), idempotency_key


class IdempotencyCache:
    """Results of requests sent with an ``Idempotency-Key`` (thread-safe, kept in memory)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        """Create an empty cache whose keys age on the ``now`` clock (unix seconds)."""
        self._now = now
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], _Record] = {}

    def begin(
        self, api_key: str, idempotency_key: str, request_print: str
    ) -> StoredResponse | None:
        """Start a request; return the stored response if it is a replay.

        Raises:
            StripeError: 400 for an over-long key or a key reused with other parameters; 409
                while another request with the key is still running.
        """
        if len(idempotency_key) > MAX_KEY_LENGTH:
            raise errors.invalid_request(
                f"Idempotency keys may be at most {MAX_KEY_LENGTH} characters long.",
                param="Idempotency-Key",
            )
        scope = _scope(api_key, idempotency_key)
        with self._lock:
            now = self._now()
            record = self._records.get(scope)
            if record is not None and now - record.created >= KEY_LIFETIME_S:
                record = None  # pruned: the key starts a new request
            if record is None:
                self._records[scope] = _Record(request_print, now)
                return None
            if record.fingerprint != request_print:
                raise errors.idempotency_mismatch(idempotency_key)
            if record.response is None:
                raise errors.idempotency_in_progress()
            return record.response

    def finish(self, api_key: str, idempotency_key: str, response: StoredResponse | None) -> None:
        """Store ``response`` for replay, or forget the key when ``response`` is ``None``."""
        scope = _scope(api_key, idempotency_key)
        with self._lock:
            if response is None:
                self._records.pop(scope, None)
            elif scope in self._records:
                self._records[scope].response = response
