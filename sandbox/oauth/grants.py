"""The sandbox token endpoint: client authentication and the three grants it serves.

``client_credentials`` and ``refresh_token`` need client authentication, by HTTP Basic
(``client_secret_basic``, id and secret form-urlencoded before base64) or in the form
(``client_secret_post``). The jwt-bearer grant authenticates with the signed assertion.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union
from urllib.parse import unquote_plus

from .jwt_assertion import MAX_ASSERTION_LIFETIME_S, AssertionRejected, verify_assertion
from .replies import Reply, oauth_error
from .state import SandboxState

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="oauth-sandbox"'}


@dataclass(frozen=True)
class Client:
    """An authenticated client and how it authenticated."""

    client_id: str
    method: str


def basic_credentials(authorization: Optional[str]) -> Optional[tuple[str, str]]:
    """``(client_id, secret)`` from an ``Authorization: Basic`` header, if well formed."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


@dataclass
class JwtRules:
    """What a provider adds to RFC 7523's checks of a JWT bearer assertion.

    Attributes:
        max_lifetime_s: How far in the future ``exp`` may be.
        subject_known: Whether ``sub`` names a user of the provider (None: any).
        descriptions: ``error_description`` per rejection reason (``audience``,
            ``expired``, ``lifetime``, ``subject``...), in the provider's words.
    """

    max_lifetime_s: float = MAX_ASSERTION_LIFETIME_S
    subject_known: Optional[Callable[[str], bool]] = None
    descriptions: Mapping[str, str] = field(default_factory=dict)


class TokenGrants:
    """Answers ``POST /oauth/token``."""

    def __init__(
        self,
        state: SandboxState,
        jwt_public_keys: Mapping[str, str],
        jwt_audience: Union[str, Collection[str]],
        jwt_rules: Optional[JwtRules] = None,
    ):
        """Creates the endpoint.

        Args:
            state: Shared sandbox state.
            jwt_public_keys: PEM public keys by JWT issuer.
            jwt_audience: The ``aud`` JWT assertions must carry (or one of several).
            jwt_rules: Lifetime, known subjects and wording of JWT rejections.
        """
        self.state = state
        self.jwt_public_keys = dict(jwt_public_keys)
        self.jwt_audience = jwt_audience
        self.jwt_rules = jwt_rules or JwtRules()

    def handle(
        self, form: Mapping[str, str], authorization: Optional[str], log: dict[str, Any]
    ) -> Reply:
        """Answers one token request; fills ``log`` with non-secret details."""
        grant_type = form.get("grant_type", "")
        log["grant_type"] = grant_type
        injected = self.state.take_injected_failure()
        if injected is not None:
            return oauth_error(injected, "temporarily_unavailable", "injected failure")
        if grant_type == JWT_BEARER_GRANT:
            return self._jwt_bearer(form, log)
        client = self._authenticate(form, authorization)
        if isinstance(client, Reply):
            return client
        log["client_id"] = client.client_id
        log["client_auth"] = client.method
        if grant_type == "client_credentials":
            return self._client_credentials(client, form)
        if grant_type == "refresh_token":
            return self._refresh(client, form)
        return oauth_error(400, "unsupported_grant_type", f"grant {grant_type!r} not served")

    def _authenticate(
        self, form: Mapping[str, str], authorization: Optional[str]
    ) -> Union[Client, Reply]:
        basic = basic_credentials(authorization)
        posted = form.get("client_secret")
        if basic is not None and posted is not None:
            return oauth_error(400, "invalid_request", "more than one client authentication method")
        if basic is not None:
            client_id, secret = basic
            method = "client_secret_basic"
        elif posted is not None:
            client_id, secret = form.get("client_id", ""), posted
            method = "client_secret_post"
        else:
            return oauth_error(
                401, "invalid_client", "client authentication missing", BASIC_CHALLENGE
            )
        if not self.state.client_secret_matches(client_id, secret):
            return oauth_error(
                401, "invalid_client", "client authentication failed", BASIC_CHALLENGE
            )
        return Client(client_id, method)

    def _client_credentials(self, client: Client, form: Mapping[str, str]) -> Reply:
        scope = form.get("scope") or None
        token = self.state.issue_access_token(
            client.client_id, client.client_id, scope, "client_credentials"
        )
        return self._token_reply(token, scope)

    def _refresh(self, client: Client, form: Mapping[str, str]) -> Reply:
        used = form.get("refresh_token", "")
        grant = self.state.use_refresh_token(used, client.client_id)
        if grant is None:
            return oauth_error(400, "invalid_grant", "refresh token is invalid, used or revoked")
        token = self.state.issue_access_token(
            client.client_id, client.client_id, grant.scope, "refresh_token"
        )
        reply = self._token_reply(token, grant.scope)
        if self.state.rotate_refresh_tokens:
            reply.body["refresh_token"] = self.state.issue_refresh_token(
                client.client_id, grant.scope
            )
        return reply

    def _jwt_bearer(self, form: Mapping[str, str], log: dict[str, Any]) -> Reply:
        try:
            verified = verify_assertion(
                form.get("assertion", ""),
                self.jwt_public_keys,
                self.jwt_audience,
                self.state.clock(),
                self.jwt_rules.max_lifetime_s,
            )
            known = self.jwt_rules.subject_known
            if known is not None and not known(verified.subject):
                raise AssertionRejected("unknown subject", "subject")
        except AssertionRejected as exc:
            description = self.jwt_rules.descriptions.get(exc.reason, str(exc))
            return oauth_error(400, "invalid_grant", description)
        log["client_id"] = verified.issuer
        log["client_auth"] = "jwt_assertion"
        scope = form.get("scope") or None
        token = self.state.issue_access_token(
            verified.issuer, verified.subject, scope, "jwt_bearer"
        )
        return self._token_reply(token, scope)

    def _token_reply(self, access_token: str, scope: Optional[str]) -> Reply:
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": int(self.state.access_token_ttl),
        }
        if scope:
            body["scope"] = scope
        return Reply(200, body, {"Cache-Control": "no-store"})
