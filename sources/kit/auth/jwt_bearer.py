"""OAuth 2.0 JWT bearer grant (RFC 7523), as Salesforce's server-to-server flow uses.

The client signs a short-lived RS256 assertion (``iss`` client id, ``sub`` user,
``aud`` login host) with its private key and trades it for an access token. No client
secret and no refresh token are involved; a new assertion is signed for every token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Optional, Union

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ..errors import ConfigurationError
from ..redact import global_redactor
from .cached_bearer import CachedBearerAuth
from .messages import CLIENT_ERRORS, OAuthRejection, ProviderLabel
from .oauth2 import Scope, scope_text
from .token_endpoint import TokenEndpoint, TokenRetry
from .tokens import Token

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ALGORITHM = "RS256"


def load_rsa_private_key(private_key_pem: Union[str, bytes], label: ProviderLabel) -> RSAPrivateKey:
    """Parses an unencrypted PEM RSA private key.

    Raises:
        ConfigurationError: Not a PEM RSA private key (the message never holds the key).
    """
    data = private_key_pem.encode("utf-8") if isinstance(private_key_pem, str) else private_key_pem
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigurationError(
            f"{label.provider} private key is not an unencrypted PEM RSA private key: "
            f"check {label.setting('private_key')}"
        )
    return key


def _register_pem(private_key_pem: Union[str, bytes]) -> None:
    """Registers the PEM and each of its base64 lines, so no fragment can leak."""
    text = (
        private_key_pem.decode("utf-8", "replace")
        if isinstance(private_key_pem, bytes)
        else private_key_pem
    )
    redactor = global_redactor()
    redactor.add_secret(text.strip())
    for line in text.splitlines():
        if line.strip() and not line.startswith("-----"):
            redactor.add_secret(line.strip())


class OAuth2JwtBearer(CachedBearerAuth):
    """Access tokens for a signed RS256 JWT assertion (the jwt-bearer grant of RFC 7523)."""

    def __init__(
        self,
        token_url: str,
        issuer: str,
        subject: str,
        audience: str,
        private_key_pem: Union[str, bytes],
        key_id: Optional[str] = None,
        scope: Scope = None,
        lifetime_s: int = 300,
        clock: Callable[[], float] = time.time,
        session: Optional[requests.Session] = None,
        *,
        refresh_margin_s: float = 60.0,
        jti_factory: Callable[[], str] = lambda: uuid.uuid4().hex,
        retry: Optional[TokenRetry] = None,
        label: Optional[ProviderLabel] = None,
    ) -> None:
        """Creates the flow.

        Args:
            token_url: The token endpoint (Salesforce:
                ``https://login.salesforce.com/services/oauth2/token``).
            issuer: ``iss``: the OAuth client id (Salesforce consumer key).
            subject: ``sub``: the user the token acts for (Salesforce username).
            audience: ``aud``: the authorization server (``https://login.salesforce.com``).
            private_key_pem: Unencrypted PEM RSA private key (registered as a secret).
            key_id: ``kid`` header, when the provider holds several public keys.
            scope: Scopes to request, if the provider takes any.
            lifetime_s: Assertion lifetime (``exp - iat``).
            clock: Unix-time clock.
            session: Session for token requests; a new one by default.
            refresh_margin_s: Renew this long before expiry.
            jti_factory: Makes the assertion's unique ``jti``.
            retry: Token request retries (inject ``sleep`` in tests).
            label: Provider name and config path for error messages.

        Raises:
            ConfigurationError: Empty settings or an unreadable private key.
        """
        super().__init__(clock=clock, refresh_margin_s=refresh_margin_s)
        self.label = label or ProviderLabel()
        for name, value in (("issuer", issuer), ("subject", subject), ("audience", audience)):
            if not value:
                raise ConfigurationError(f"JWT {name} is empty: set {self.label.setting(name)}")
        _register_pem(private_key_pem)
        self._key = load_rsa_private_key(private_key_pem, self.label)
        self._endpoint = TokenEndpoint(
            token_url,
            auth_method="none",
            session=session,
            clock=clock,
            retry=retry,
            label=self.label,
        )
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.key_id = key_id
        self.scope = scope_text(scope)
        self.lifetime_s = max(1, int(lifetime_s))
        self._jti_factory = jti_factory

    def __repr__(self) -> str:
        return (
            f"OAuth2JwtBearer({self._endpoint.token_url!r}, issuer={self.issuer!r}, "
            f"subject={self.subject!r}, audience={self.audience!r}, key_id={self.key_id!r})"
        )

    @property
    def endpoint(self) -> TokenEndpoint:
        """The token endpoint client (its ``requests_sent`` counts token calls)."""
        return self._endpoint

    def assertion(self) -> str:
        """Signs a new assertion valid from now for ``lifetime_s`` seconds."""
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.lifetime_s,
            "jti": self._jti_factory(),
        }
        headers = {"kid": self.key_id} if self.key_id else None
        signed = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers=headers)
        global_redactor().add_secret(signed)
        return signed

    def fetch_token(self) -> Token:
        """Trades a freshly signed assertion for an access token."""
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion()}
        if self.scope:
            form["scope"] = self.scope
        return self._endpoint.request_token(form, self._explain)

    def _explain(self, rejection: OAuthRejection) -> str:
        if rejection.error in CLIENT_ERRORS or rejection.error == "invalid_grant":
            return self.label.assertion_rejected(rejection)
        if rejection.error == "invalid_scope":
            return self.label.scope_rejected(rejection)
        return self.label.endpoint_refused(rejection, self._endpoint.token_url)
