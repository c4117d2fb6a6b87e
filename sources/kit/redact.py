"""Keeps secrets out of logs, exception messages and reprs.

A :class:`Redactor` holds the secret values a source registered (API keys, tokens)
and masks them anywhere in text. It also masks secret-looking material it was never
told about: ``Bearer``/``Basic`` credentials, sensitive headers, sensitive URL query
parameters and URL userinfo. :class:`RedactingFilter` applies it to log records and
:func:`install_redaction` wires that filter onto loggers and their handlers.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Optional
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
"""What replaces a secret (or its non-secret prefix is followed by ``****``)."""

MIN_SECRET_LENGTH = 4
"""Shorter values are not registered: masking them would garble ordinary text."""

KNOWN_PREFIX = re.compile(r"^(?:sk|rk|pk)_(?:test|live)_")
"""Key prefixes that say only which kind of key it is, never the key itself."""

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
SENSITIVE_HEADER_PARTS = ("token", "secret", "key", "signature", "password", "auth")
NON_SECRET_HEADERS = frozenset({"idempotency-key"})

SENSITIVE_QUERY_PARAMS = frozenset(
    {
        "api_key",
        "apikey",
        "key",
        "token",
        "access_token",
        "refresh_token",
        "client_secret",
        "secret",
        "password",
        "signature",
        "sig",
        "code",
    }
)

_BEARER = re.compile(
    r"(?P<scheme>\bBearer\s+)(?P<token>[A-Za-z0-9._~+/-]{8,}=*)(?![A-Za-z0-9._~+/=*-])",
    re.IGNORECASE,
)
_BASIC = re.compile(r"(?P<scheme>\bBasic\s+)(?P<token>[A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=*])")
_QUERY_PARAM = re.compile(
    r"(?P<lead>[?&;](?:" + "|".join(sorted(SENSITIVE_QUERY_PARAMS)) + r")=)(?P<value>[^&#\s;\"']+)",
    re.IGNORECASE,
)
# Userinfo never contains quotes, brackets or braces: without excluding them the pattern
# would run across JSON fields ({"u":"http://host","email":"me@x.com"}) and eat them.
_USERINFO = re.compile(
    r"(?P<lead>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s?#\"'<>{}\[\]\\|^`]+)@"
)

DEFAULT_LOGGERS: tuple[str, ...] = ("", "dlt", "sluice", "urllib3", "requests")


def mask(value: str) -> str:
    """Masks one secret value, keeping a known non-secret prefix such as ``sk_test_``.

    Args:
        value: The secret.

    Returns:
        ``sk_test_****`` for keys with a known prefix, ``***`` otherwise.
    """
    prefix = KNOWN_PREFIX.match(value)
    if prefix and len(value) > prefix.end():
        return f"{prefix.group(0)}****"
    return MASK


def is_sensitive_header(name: str) -> bool:
    """Tells whether a header's value must never be shown.

    Args:
        name: Header name, any case.

    Returns:
        True for credential headers and any name containing token/secret/key/
        signature/password/auth, except ``Idempotency-Key``.
    """
    lowered = name.strip().lower()
    if lowered in NON_SECRET_HEADERS:
        return False
    return lowered in SENSITIVE_HEADERS or any(part in lowered for part in SENSITIVE_HEADER_PARTS)


def is_sensitive_query_param(name: str) -> bool:
    """Tells whether a URL query parameter carries a secret (``api_key``, ``token``...)."""
    return unquote(name).strip().lower() in SENSITIVE_QUERY_PARAMS


def looks_like_basic_credentials(token: str) -> bool:
    """Tells whether ``token`` is base64 of ``user:password``."""
    padded = token + "=" * (-len(token) % 4)
    try:
        decoded = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def looks_like_bearer_token(token: str) -> bool:
    """Tells a credential from an English word following "Bearer" (needs a digit or symbol)."""
    return not token.isalpha()


class Redactor:
    """Registry of secret values and the masking rules applied to text, headers and URLs.

    Thread-safe: secrets may be registered while other threads log.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Creates a redactor.

        Args:
            secrets: Secret values to register right away.
        """
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: Optional[re.Pattern[str]] = None
        for secret in secrets:
            self.add_secret(secret)

    def __repr__(self) -> str:
        return f"Redactor(secrets={len(self._secrets)})"

    def add_secret(self, value: Optional[str]) -> None:
        """Registers a secret so it is masked wherever it appears.

        Args:
            value: The secret; ``None`` and values shorter than 4 characters are ignored.
        """
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._secrets:
                return
            self._secrets.add(value)
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    @property
    def secret_count(self) -> int:
        """How many secrets are registered."""
        return len(self._secrets)

    def redact_text(self, text: str) -> str:
        """Masks registered secrets and secret-looking material in free text.

        Args:
            text: Any text (log line, exception message, URL).

        Returns:
            The text with registered secrets, Bearer/Basic credentials, sensitive
            query parameters and URL userinfo masked.
        """
        if not text:
            return text
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(lambda m: mask(m.group(0)), text)
        text = _BEARER.sub(_mask_bearer, text)
        text = _BASIC.sub(_mask_basic, text)
        text = _QUERY_PARAM.sub(lambda m: m.group("lead") + MASK, text)
        return _USERINFO.sub(lambda m: m.group("lead") + MASK + "@", text)

    def redact_url(self, url: str) -> str:
        """Masks userinfo and sensitive query parameters of a URL, then registered secrets.

        Args:
            url: Absolute or relative URL.

        Returns:
            The URL with ``user:password@`` and values of ``api_key``, ``token``,
            ``code``... replaced by ``***``.
        """
        if not url:
            return url
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.redact_text(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
        query = "&".join(_redact_query_pair(pair) for pair in parts.query.split("&"))
        rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
        return self.redact_text(rebuilt)

    def redact_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Returns a copy of ``headers`` safe to log.

        Args:
            headers: Request or response headers.

        Returns:
            Credential headers masked (keeping an auth scheme such as ``Bearer``);
            registered secrets masked in all other values.
        """
        return {
            name: self._redact_header_value(value)
            if is_sensitive_header(name)
            else self.redact_text(str(value))
            for name, value in headers.items()
        }

    def _redact_header_value(self, value: str) -> str:
        text = str(value)
        scheme, _, credential = text.partition(" ")
        if credential and scheme.lower() in ("bearer", "basic", "token", "digest"):
            return f"{scheme} {mask(credential.strip())}"
        return mask(text)


def _mask_bearer(match: re.Match[str]) -> str:
    token = match.group("token")
    if not looks_like_bearer_token(token):
        return match.group(0)
    return match.group("scheme") + mask(token)


def _mask_basic(match: re.Match[str]) -> str:
    if not looks_like_basic_credentials(match.group("token")):
        return match.group(0)
    return match.group("scheme") + MASK


def _redact_query_pair(pair: str) -> str:
    name, sep, _ = pair.partition("=")
    if sep and is_sensitive_query_param(name):
        return f"{name}={MASK}"
    return pair


class RedactingFilter(logging.Filter):
    """Logging filter that formats a record's message and masks secrets in it.

    The message is formatted first (``msg % args``) so secrets passed as arguments
    are caught too; exception and stack text are redacted as well. The record is
    never dropped.
    """

    def __init__(self, redactor: Redactor) -> None:
        """Creates the filter.

        Args:
            redactor: Where the secrets are registered.
        """
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrites ``record`` in place with secrets masked; always keeps it."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must still be logged safely
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self.redactor.redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact_text(record.stack_info)
        return True


_global_lock = threading.Lock()
_global_redactor: Optional[Redactor] = None


def global_redactor() -> Redactor:
    """Returns the process-wide redactor (created on first use)."""
    global _global_redactor
    with _global_lock:
        if _global_redactor is None:
            _global_redactor = Redactor()
        return _global_redactor


def _has_filter_for(filterer: logging.Filterer, redactor: Redactor) -> bool:
    return any(
        isinstance(existing, RedactingFilter) and existing.redactor is redactor
        for existing in filterer.filters
    )


def _attach(filterer: logging.Filterer, redactor: Redactor) -> None:
    if not _has_filter_for(filterer, redactor):
        filterer.addFilter(RedactingFilter(redactor))


def install_redaction(
    redactor: Optional[Redactor] = None,
    loggers: Iterable[str] = DEFAULT_LOGGERS,
) -> Redactor:
    """Installs a :class:`RedactingFilter` on the named loggers and their handlers.

    Idempotent: calling it again adds no second filter for the same redactor. Logger
    filters only see records logged on that very logger, handler filters see
    everything that propagates to the handler, so both are installed. Handlers added
    after this call are not covered; call it again after configuring logging.

    Args:
        redactor: The redactor to apply; the process-wide one by default.
        loggers: Logger names (``""`` is the root logger).

    Returns:
        The redactor that was installed.
    """
    redactor = redactor or global_redactor()
    for name in loggers:
        logger = logging.getLogger(name)
        _attach(logger, redactor)
        for handler in logger.handlers:
            _attach(handler, redactor)
    return redactor
