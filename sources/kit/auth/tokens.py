"""OAuth tokens and where rotated refresh tokens are kept between runs.

A :class:`Token` is what a token endpoint returned. A :class:`TokenStore` persists the
refresh token a provider rotated, so the next run starts from the newest one. Tokens
are never kept in dlt pipeline state: that state is loaded into the destination.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol, Union

from ..redact import global_redactor

logger = logging.getLogger("sluice.auth")

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Token:
    """An access token (and maybe a refresh token) from a token endpoint.

    Both tokens are registered with the global redactor on creation, and neither shows
    in ``repr()``.

    Attributes:
        access_token: Sent as ``Authorization: Bearer <access_token>``.
        token_type: Usually ``Bearer``.
        expires_at: Unix time the access token expires; None when the server did not say.
        refresh_token: The refresh token returned with it, if any.
        scope: Granted scope, if the server said.
        obtained_at: Unix time the token was received; None when unknown.
    """

    access_token: str = field(repr=False)
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_at: Optional[float] = None
    refresh_token: Optional[str] = field(default=None, repr=False)
    scope: Optional[str] = None
    obtained_at: Optional[float] = None

    def __post_init__(self) -> None:
        redactor = global_redactor()
        redactor.add_secret(self.access_token)
        redactor.add_secret(self.refresh_token)

    @classmethod
    def from_response(cls, payload: Mapping[str, Any], now: float) -> Token:
        """Builds a token from a token endpoint's JSON reply (RFC 6749 §5.1).

        Args:
            payload: The decoded JSON body; must hold ``access_token``.
            now: Current unix time, to turn ``expires_in`` into ``expires_at``.

        Returns:
            The token.

        Raises:
            ValueError: No usable ``access_token`` (the message never holds the body).
        """
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("token endpoint reply has no access_token")
        refresh_token = payload.get("refresh_token")
        scope = payload.get("scope")
        return cls(
            access_token=access_token,
            token_type=str(payload.get("token_type") or "Bearer"),
            expires_at=_expires_at(payload.get("expires_in"), now),
            refresh_token=refresh_token
            if isinstance(refresh_token, str) and refresh_token
            else None,
            scope=str(scope) if scope else None,
            obtained_at=now,
        )

    def expires_within(self, seconds: float, now: float) -> bool:
        """Tells whether the access token expires within ``seconds`` from ``now``.

        Args:
            seconds: Safety margin.
            now: Current unix time.

        Returns:
            True when it expires at or before ``now + seconds``; False when the expiry
            is unknown.
        """
        if self.expires_at is None:
            return False
        return self.expires_at - now <= seconds

    def lifetime(self) -> Optional[float]:
        """Seconds between receipt and expiry, when both are known."""
        if self.expires_at is None or self.obtained_at is None:
            return None
        return self.expires_at - self.obtained_at


def _expires_at(expires_in: Any, now: float) -> Optional[float]:
    if isinstance(expires_in, bool) or expires_in in (None, ""):
        return None
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        return None
    return now + max(0.0, seconds)


class TokenStore(Protocol):
    """Somewhere small records survive between runs (rotated refresh tokens)."""

    def load(self, key: str) -> Optional[dict[str, Any]]:
        """Returns the record saved under ``key``, or None."""
        ...

    def save(self, key: str, data: Mapping[str, Any]) -> None:
        """Saves ``data`` under ``key``, replacing what was there; durable on return."""
        ...


class MemoryTokenStore:
    """A :class:`TokenStore` in memory (tests, single-run use). Thread-safe."""

    def __init__(self, initial: Optional[Mapping[str, Mapping[str, Any]]] = None) -> None:
        """Creates the store.

        Args:
            initial: Records to start with, by key.
        """
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {
            key: copy.deepcopy(dict(value)) for key, value in (initial or {}).items()
        }
        self.saves = 0

    def __repr__(self) -> str:
        return f"MemoryTokenStore(keys={sorted(self._records)!r})"

    def load(self, key: str) -> Optional[dict[str, Any]]:
        """Returns a copy of the record under ``key``, or None."""
        with self._lock:
            record = self._records.get(key)
            return copy.deepcopy(record) if record is not None else None

    def save(self, key: str, data: Mapping[str, Any]) -> None:
        """Stores a copy of ``data`` under ``key``."""
        with self._lock:
            self._records[key] = copy.deepcopy(dict(data))
            self.saves += 1


class FileTokenStore:
    """A :class:`TokenStore` keeping one JSON file per key in a directory.

    Writes are atomic (temporary file, fsync, ``os.replace``) so a crash leaves the old
    or the new record, never half of one. Files are created with mode 0o600 and the
    directory with 0o700. Thread-safe within a process; two processes rotating the same
    refresh token at once would race regardless of the store.
    """

    def __init__(self, directory: Union[str, os.PathLike[str]]) -> None:
        """Creates the store (the directory is made on first save).

        Args:
            directory: Where the JSON files go, e.g. ``~/.sluice/tokens``.
        """
        self.directory = Path(directory).expanduser()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.directory)!r})"

    def path_for(self, key: str) -> Path:
        """The file a key is saved in (readable name plus a hash against collisions)."""
        readable = _UNSAFE_FILENAME_CHARS.sub("_", key).strip("._")[:64] or "token"
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
        return self.directory / f"{readable}-{digest}.json"

    def load(self, key: str) -> Optional[dict[str, Any]]:
        """Returns the record saved under ``key``; None when absent or unreadable."""
        path = self.path_for(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            record = json.loads(text)
        except ValueError:
            logger.warning("ignoring unreadable token file %s (not JSON)", path)
            return None
        if not isinstance(record, dict):
            logger.warning("ignoring token file %s: not a JSON object", path)
            return None
        return record

    def save(self, key: str, data: Mapping[str, Any]) -> None:
        """Writes ``data`` under ``key`` atomically and durably.

        Raises:
            OSError: The directory or file could not be written.
        """
        path = self.path_for(key)
        payload = json.dumps(dict(data), sort_keys=True).encode("utf-8")
        with self._lock:
            self._ensure_directory()
            _write_atomically(path, payload)
        logger.debug("saved token record %s", path.name)

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)


def _write_atomically(path: Path, payload: bytes) -> None:
    """Writes ``payload`` to ``path`` through a fsynced temporary file and a rename."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove_quietly(temporary)
        raise
    _fsync_directory(path.parent)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_directory(directory: Path) -> None:
    """Makes the rename durable (best effort: not every platform can open a directory)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
