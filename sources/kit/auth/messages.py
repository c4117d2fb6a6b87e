"""One-line messages for rejected credentials, each naming the setting to fix."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import one_line

MAX_DESCRIPTION = 200
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


@dataclass(frozen=True)
class OAuthRejection:
    """A token endpoint's refusal (RFC 6749 §5.2).

    Attributes:
        status: HTTP status of the reply.
        error: The OAuth error code (``invalid_grant``...); empty when the body had none.
        description: ``error_description``, one line and shortened; may be empty.
    """

    status: int
    error: str = ""
    description: str = ""

    def summary(self) -> str:
        """``invalid_grant: description`` or ``HTTP 400`` when there is no error code."""
        head = self.error or f"HTTP {self.status}"
        return f"{head}: {self.description}" if self.description else head


def shorten(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """One line of at most ``limit`` characters."""
    line = one_line(text)
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass(frozen=True)
class ProviderLabel:
    """Names the provider and where its credentials are configured, for messages.

    Attributes:
        provider: Shown to the user, e.g. ``Salesforce``.
        config_path: Config section of the credentials, e.g.
            ``sources.salesforce.credentials``.
    """

    provider: str = "OAuth2"
    config_path: str = "credentials"

    def setting(self, name: str) -> str:
        """The full config key of one credential, e.g. ``sources.x.credentials.client_id``."""
        return f"{self.config_path}.{name}" if self.config_path else name

    def client_rejected(self, rejection: OAuthRejection) -> str:
        """Message for rejected client credentials (``invalid_client``)."""
        return (
            f"{self.provider} rejected the client credentials ({rejection.summary()}): check "
            f"{self.setting('client_id')} and {self.setting('client_secret')}"
        )

    def refresh_token_revoked(self) -> str:
        """Message for a revoked or expired refresh token (``invalid_grant``)."""
        return (
            f"{self.provider} refresh token was revoked or expired: re-authorize and set "
            f"{self.setting('refresh_token')}"
        )

    def scope_rejected(self, rejection: OAuthRejection) -> str:
        """Message for a refused scope (``invalid_scope``)."""
        return (
            f"{self.provider} refused the requested scope ({rejection.summary()}): "
            f"check {self.setting('scope')}"
        )

    def assertion_rejected(self, rejection: OAuthRejection) -> str:
        """Message for a refused JWT bearer assertion."""
        return (
            f"{self.provider} rejected the JWT bearer assertion ({rejection.summary()}): check "
            f"{self.setting('private_key')}, {self.setting('issuer')}, "
            f"{self.setting('subject')} and {self.setting('audience')}"
        )

    def endpoint_refused(self, rejection: OAuthRejection, token_url: str) -> str:
        """Message for any other refusal by the token endpoint."""
        return (
            f"{self.provider} token endpoint {token_url} refused the request "
            f"({rejection.summary()}): check {self.setting('token_url')} and the credentials "
            f"under {self.config_path}"
        )
