"""Provider-neutral webhook intake: signature verifiers, a durable inbox, an ASGI receiver."""

from .signatures import (
    MalformedSignatureHeaderError,
    MissingSignatureHeaderError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
    require_header,
    verify_github_signature,
    verify_shopify_hmac,
    verify_slack_signature,
    verify_standard_webhook,
    verify_stripe_signature,
)

__all__ = [
    "MalformedSignatureHeaderError",
    "MissingSignatureHeaderError",
    "SignatureMismatchError",
    "TimestampOutOfToleranceError",
    "WebhookVerificationError",
    "require_header",
    "verify_github_signature",
    "verify_shopify_hmac",
    "verify_slack_signature",
    "verify_standard_webhook",
    "verify_stripe_signature",
]
