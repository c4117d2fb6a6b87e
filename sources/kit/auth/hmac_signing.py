"""Request signing with a shared secret: a generic HMAC signer and OAuth 1.0a.

Both sign each request as it is sent, with a fresh timestamp and nonce; neither can
be replayed by re-sending the same prepared request (servers reject a reused nonce),
so a retrying session must call :meth:`sign` again for every attempt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from typing import Literal, Optional, Union
from urllib.parse import urlsplit

from requests import PreparedRequest
from requests.auth import AuthBase

from ..errors import ConfigurationError
from ..redact import global_redactor
from .oauth1_base_string import (
    decode_form,
    percent_encode,
    signature_base_string,
)

HMAC_ALGORITHMS = ("sha256", "sha384", "sha512")
OAUTH1_METHODS = {"HMAC-SHA256": "sha256", "HMAC-SHA1": "sha1"}

Clock = Callable[[], float]
NonceFactory = Callable[[], str]
OAuth1Method = Literal["HMAC-SHA256", "HMAC-SHA1"]


def random_nonce() -> str:
    """A 128-bit random hex nonce."""
    return uuid.uuid4().hex


def body_bytes(body: Union[str, bytes, None]) -> bytes:
    """The bytes of a prepared body (text is UTF-8 encoded; no body is empty).

    Raises:
        ConfigurationError: A streamed body, which cannot be hashed before sending.
    """
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    raise ConfigurationError("cannot sign a streamed request body: send bytes or text")


def hmac_base64(key: bytes, message: str, algorithm: str) -> str:
    """Base64 of ``HMAC(key, message)`` with the named hashlib algorithm."""
    digest = hmac.new(key, message.encode("utf-8"), getattr(hashlib, algorithm)).digest()
    return base64.b64encode(digest).decode("ascii")


def canonical_query(query: str) -> str:
    """A query with its parameters decoded, re-encoded per RFC 3986 and sorted."""
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in decode_form(query))
    return "&".join(f"{k}={v}" for k, v in pairs)


class HmacRequestSigner(AuthBase):
    """Signs requests with HMAC over method, path and query, timestamp, nonce and body.

    The canonical string is five lines joined by ``\\n`` (no trailing newline)::

        METHOD              upper case, e.g. POST
        PATH[?QUERY]        path as sent; query parameters decoded, percent-encoded
                            per RFC 3986, sorted by name then value, joined by &
                            ("?" and query omitted when there are none)
        TIMESTAMP           integer unix seconds
        NONCE               the request's nonce
        BODY_HASH           lower-case hex digest of the body bytes (of b"" if none),
                            with the same algorithm as the HMAC

    The header (``Authorization`` by default) is set to::

        HMAC-SHA256 keyId="<key_id>", timestamp="<ts>", nonce="<nonce>", signature="<b64>"

    where the signature is base64 of ``HMAC(secret, canonical string)``.
    """

    def __init__(
        self,
        key_id: str,
        secret: str,
        header: str = "Authorization",
        algorithm: str = "sha256",
        clock: Clock = time.time,
        nonce_factory: NonceFactory = random_nonce,
    ) -> None:
        """Creates the signer.

        Args:
            key_id: Identifies the secret to the server (not a secret).
            secret: Shared secret (registered with the global redactor).
            header: Header carrying the signature.
            algorithm: ``sha256``, ``sha384`` or ``sha512``.
            clock: Unix-time clock.
            nonce_factory: Makes a unique nonce per request.

        Raises:
            ConfigurationError: Empty key id or secret, or an unknown algorithm.
        """
        if not key_id or not secret:
            raise ConfigurationError("HMAC signing needs a key id and a secret")
        if algorithm not in HMAC_ALGORITHMS:
            raise ConfigurationError(
                f"unknown HMAC algorithm {algorithm!r}: use one of {', '.join(HMAC_ALGORITHMS)}"
            )
        global_redactor().add_secret(secret)
        self.key_id = key_id
        self._secret = secret
        self.header = header
        self.algorithm = algorithm
        self._clock = clock
        self._nonce_factory = nonce_factory

    def __repr__(self) -> str:
        return (
            f"HmacRequestSigner(key_id={self.key_id!r}, header={self.header!r}, "
            f"algorithm={self.algorithm!r})"
        )

    @property
    def scheme(self) -> str:
        """The header's scheme word, e.g. ``HMAC-SHA256``."""
        return f"HMAC-{self.algorithm.upper()}"

    def canonical_string(self, request: PreparedRequest, timestamp: int, nonce: str) -> str:
        """The string that is signed (see the class docstring)."""
        parts = urlsplit(request.url or "")
        target = parts.path or "/"
        query = canonical_query(parts.query)
        if query:
            target = f"{target}?{query}"
        body_hash = hashlib.new(self.algorithm, body_bytes(request.body)).hexdigest()
        method = (request.method or "GET").upper()
        return "\n".join((method, target, str(timestamp), nonce, body_hash))

    def sign(self, request: PreparedRequest) -> PreparedRequest:
        """Signs ``request`` with a new timestamp and nonce (call again per attempt)."""
        timestamp = int(self._clock())
        nonce = self._nonce_factory()
        message = self.canonical_string(request, timestamp, nonce)
        signature = hmac_base64(self._secret.encode("utf-8"), message, self.algorithm)
        request.headers[self.header] = (
            f'{self.scheme} keyId="{self.key_id}", timestamp="{timestamp}", '
            f'nonce="{nonce}", signature="{signature}"'
        )
        return request

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Signs the request."""
        return self.sign(request)


class OAuth1HmacSha256(AuthBase):
    """OAuth 1.0a request signing (RFC 5849), HMAC-SHA256 by default.

    NetSuite token-based authentication is this with ``realm`` set to the account id
    (``1234567`` or ``1234567_SB1``). The signature covers the method, the base string
    URI, query parameters, form body parameters and the ``oauth_*`` parameters; the
    key is ``enc(consumer_secret)&enc(token_secret)``. HMAC-SHA1 is available for older
    providers.
    """

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        token: str,
        token_secret: str,
        realm: Optional[str] = None,
        clock: Clock = time.time,
        nonce_factory: NonceFactory = random_nonce,
        *,
        signature_method: OAuth1Method = "HMAC-SHA256",
        version: Optional[str] = "1.0",
    ) -> None:
        """Creates the signer.

        Args:
            consumer_key: Identifies the integration (sent in clear; still registered as
                a secret, as NetSuite treats it as a credential).
            consumer_secret: Integration secret (registered as a secret).
            token: Access token id (sent in clear, registered as a secret).
            token_secret: Access token secret (registered as a secret).
            realm: ``realm`` of the ``Authorization`` header (NetSuite: account id).
            clock: Unix-time clock.
            nonce_factory: Makes a unique nonce per request.
            signature_method: ``HMAC-SHA256`` or ``HMAC-SHA1``.
            version: ``oauth_version`` to send; None leaves it out (it is optional).

        Raises:
            ConfigurationError: An empty credential or an unknown signature method.
        """
        if not all((consumer_key, consumer_secret, token, token_secret)):
            raise ConfigurationError(
                "OAuth 1.0a needs consumer_key, consumer_secret, token_id and token_secret"
            )
        if signature_method not in OAUTH1_METHODS:
            raise ConfigurationError(
                f"unknown OAuth 1.0a signature method {signature_method!r}: use one of "
                f"{', '.join(OAUTH1_METHODS)}"
            )
        redactor = global_redactor()
        for secret in (consumer_key, consumer_secret, token, token_secret):
            redactor.add_secret(secret)
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self._token = token
        self._token_secret = token_secret
        self.realm = realm
        self.signature_method = signature_method
        self.version = version
        self._clock = clock
        self._nonce_factory = nonce_factory

    def __repr__(self) -> str:
        return f"OAuth1HmacSha256(realm={self.realm!r}, signature_method={self.signature_method!r})"

    def oauth_parameters(self, timestamp: int, nonce: str) -> list[tuple[str, str]]:
        """The ``oauth_*`` protocol parameters, without the signature."""
        parameters = [
            ("oauth_consumer_key", self._consumer_key),
            ("oauth_nonce", nonce),
            ("oauth_signature_method", self.signature_method),
            ("oauth_timestamp", str(timestamp)),
            ("oauth_token", self._token),
        ]
        if self.version:
            parameters.append(("oauth_version", self.version))
        return parameters

    def base_string(self, request: PreparedRequest, timestamp: int, nonce: str) -> str:
        """The RFC 5849 signature base string of ``request``."""
        body = request.body if isinstance(request.body, (str, bytes)) else None
        return signature_base_string(
            request.method or "GET",
            request.url or "",
            self.oauth_parameters(timestamp, nonce),
            body=body,
            content_type=request.headers.get("Content-Type"),
        )

    def signing_key(self) -> bytes:
        """``enc(consumer_secret)&enc(token_secret)`` (RFC 5849 §3.4.2)."""
        return (
            f"{percent_encode(self._consumer_secret)}&{percent_encode(self._token_secret)}".encode()
        )

    def signature(self, request: PreparedRequest, timestamp: int, nonce: str) -> str:
        """Base64 ``oauth_signature`` of ``request`` for this timestamp and nonce."""
        algorithm = OAUTH1_METHODS[self.signature_method]
        return hmac_base64(
            self.signing_key(), self.base_string(request, timestamp, nonce), algorithm
        )

    def sign(self, request: PreparedRequest) -> PreparedRequest:
        """Sets ``Authorization: OAuth ...`` with a new timestamp and nonce (call per attempt)."""
        timestamp = int(self._clock())
        nonce = self._nonce_factory()
        parameters = self.oauth_parameters(timestamp, nonce)
        parameters.append(("oauth_signature", self.signature(request, timestamp, nonce)))
        fields = [f'{percent_encode(k)}="{percent_encode(v)}"' for k, v in parameters]
        if self.realm is not None:
            fields.insert(0, f'realm="{percent_encode(self.realm)}"')
        request.headers["Authorization"] = "OAuth " + ", ".join(fields)
        return request

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Signs the request."""
        return self.sign(request)
