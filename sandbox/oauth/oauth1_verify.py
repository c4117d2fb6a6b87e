"""Server-side OAuth 1.0a check (RFC 5849 §3.2), written apart from the client signer.

The sandbox recomputes each signature from what arrived on the wire with its own
percent-encoder and parameter parser, so a mistake in the client's base string shows
up as a 401 instead of being mirrored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote, unquote_plus

from .state import SandboxState

UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
HASHES = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}
MAX_CLOCK_SKEW_S = 300
_HEADER_PARAM = re.compile(r'([A-Za-z0-9_]+)="([^"]*)"')
REQUIRED = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
)


@dataclass(frozen=True)
class WireRequest:
    """A request as the server received it."""

    method: str
    host: str
    target: str
    body: bytes
    content_type: str
    authorization: str


class OAuth1Rejected(Exception):
    """The request's OAuth 1.0a credentials are not acceptable; ``str()`` is the reason."""


def rfc3986(text: str) -> str:
    """Percent-encodes every byte outside the unreserved set, upper-case hex."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        out.append(char if char in UNRESERVED else f"%{byte:02X}")
    return "".join(out)


def header_parameters(authorization: str) -> dict[str, str]:
    """The ``key="value"`` pairs of an ``Authorization: OAuth`` header, decoded."""
    if not authorization.startswith("OAuth "):
        raise OAuth1Rejected("not an OAuth authorization header")
    return {name: unquote(value) for name, value in _HEADER_PARAM.findall(authorization[6:])}


def form_pairs(text: str) -> list[tuple[str, str]]:
    """Decodes ``a=1&b`` style text into pairs (``+`` is a space)."""
    pairs = []
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


def base_string(request: WireRequest, oauth: Mapping[str, str]) -> str:
    """The base string the client should have signed."""
    path, _, query = request.target.partition("?")
    pairs = form_pairs(query)
    if request.content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        pairs += form_pairs(request.body.decode("utf-8"))
    pairs += [(k, v) for k, v in oauth.items() if k not in ("realm", "oauth_signature")]
    encoded = sorted((rfc3986(k), rfc3986(v)) for k, v in pairs)
    normalized = "&".join(k + "=" + v for k, v in encoded)
    uri = "http://" + request.host.lower() + path
    return request.method.upper() + "&" + rfc3986(uri) + "&" + rfc3986(normalized)


class OAuth1Verifier:
    """Checks consumer, token, timestamp, nonce and signature of signed requests."""

    def __init__(
        self, state: SandboxState, consumers: Mapping[str, str], tokens: Mapping[str, str]
    ):
        """Creates the verifier.

        Args:
            state: Shared state (clock, nonce memory).
            consumers: Consumer secrets by consumer key.
            tokens: Token secrets by token.
        """
        self.state = state
        self.consumers = dict(consumers)
        self.tokens = dict(tokens)

    def verify(self, request: WireRequest) -> dict[str, str]:
        """Returns the OAuth parameters of a correctly signed, fresh request.

        Raises:
            OAuth1Rejected: Unknown consumer or token, unsupported method, stale
                timestamp, reused nonce or wrong signature.
        """
        oauth = header_parameters(request.authorization)
        missing = [name for name in REQUIRED if name not in oauth]
        if missing:
            raise OAuth1Rejected(f"missing {', '.join(missing)}")
        consumer_secret = self._secret(self.consumers, oauth["oauth_consumer_key"], "consumer")
        token_secret = self._secret(self.tokens, oauth["oauth_token"], "token")
        digest = HASHES.get(oauth["oauth_signature_method"])
        if digest is None:
            raise OAuth1Rejected("unsupported signature method")
        self._check_timestamp(oauth["oauth_timestamp"])
        key = (rfc3986(consumer_secret) + "&" + rfc3986(token_secret)).encode("utf-8")
        mac = hmac.new(key, base_string(request, oauth).encode("utf-8"), digest).digest()
        if not hmac.compare_digest(base64.b64encode(mac).decode("ascii"), oauth["oauth_signature"]):
            raise OAuth1Rejected("signature invalid")
        if not self.state.remember_nonce(oauth["oauth_consumer_key"], oauth["oauth_nonce"]):
            raise OAuth1Rejected("nonce reused")
        return oauth

    @staticmethod
    def _secret(secrets: Mapping[str, str], key: str, what: str) -> str:
        secret: Optional[str] = secrets.get(key)
        if secret is None:
            raise OAuth1Rejected(f"unknown {what}")
        return secret

    def _check_timestamp(self, value: str) -> None:
        if not value.isdigit():
            raise OAuth1Rejected("timestamp is not a number")
        if abs(int(value) - self.state.clock()) > MAX_CLOCK_SKEW_S:
            raise OAuth1Rejected("timestamp stale")
