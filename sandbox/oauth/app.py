"""Routes of the OAuth sandbox, independent of the HTTP server that carries them.

* ``POST /oauth/token`` - the token endpoint (:mod:`sandbox.oauth.grants`).
* ``GET /api/me`` - a resource needing a valid ``Authorization: Bearer`` token.
* ``GET|POST /netsuite/record`` - a resource needing an OAuth 1.0a signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .grants import TokenGrants
from .oauth1_verify import OAuth1Rejected, OAuth1Verifier, WireRequest
from .replies import Reply, oauth_error
from .state import SandboxState

TOKEN_PATH = "/oauth/token"
RESOURCE_PATH = "/api/me"
NETSUITE_PATH = "/netsuite/record"
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class SandboxApp:
    """Answers requests and logs each (method, path, status and non-secret details)."""

    def __init__(self, state: SandboxState, grants: TokenGrants, oauth1: OAuth1Verifier) -> None:
        """Creates the routes."""
        self.state = state
        self.grants = grants
        self.oauth1 = oauth1

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answers one request.

        Args:
            method: HTTP method.
            target: Request target as received (path and query).
            headers: Request headers (case-insensitive mapping).
            body: Request body.

        Returns:
            The reply to send.
        """
        path = urlsplit(target).path
        log: dict[str, Any] = {"method": method, "path": path}
        reply = self._route(method, path, target, headers, body, log)
        log["status"] = reply.status
        self.state.log_request(log)
        return reply

    def _route(
        self,
        method: str,
        path: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        log: dict[str, Any],
    ) -> Reply:
        if path == TOKEN_PATH and method == "POST":
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            return self.grants.handle(form, headers.get("Authorization"), log)
        if path == RESOURCE_PATH and method == "GET":
            return self._me(headers.get("Authorization", ""), log)
        if path == NETSUITE_PATH and method in ("GET", "POST"):
            return self._netsuite(method, target, headers, body, log)
        if path in (TOKEN_PATH, RESOURCE_PATH, NETSUITE_PATH):
            return Reply(405, {"error": "method_not_allowed"})
        return Reply(404, {"error": "not_found"})

    def _me(self, authorization: str, log: dict[str, Any]) -> Reply:
        scheme, _, token = authorization.partition(" ")
        grant = self.state.access_grant(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            return oauth_error(401, "invalid_token", headers=BEARER_CHALLENGE)
        log["client_id"] = grant.client_id
        return Reply(
            200, {"client_id": grant.client_id, "subject": grant.subject, "scope": grant.scope}
        )

    def _netsuite(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        log: dict[str, Any],
    ) -> Reply:
        wire = WireRequest(
            method=method,
            host=headers.get("Host", ""),
            target=target,
            body=body,
            content_type=headers.get("Content-Type", ""),
            authorization=headers.get("Authorization", ""),
        )
        try:
            oauth = self.oauth1.verify(wire)
        except OAuth1Rejected as exc:
            log["rejected"] = str(exc)
            return Reply(401, {"error": "invalid_signature", "error_description": str(exc)})
        log["realm"] = oauth.get("realm")
        return Reply(
            200,
            {"id": "1", "recordType": "customer", "method": method, "realm": oauth.get("realm")},
        )
