"""Webhook signature verifiers for Stripe, GitHub, Shopify, Slack and Standard Webhooks.

Every verifier recomputes the provider's HMAC-SHA256 over the raw request body,
compares it in constant time and raises a :class:`WebhookVerificationError` subclass
when the request is not authentic. Messages say what is wrong with the request and
never include a secret or an expected signature.

Timestamped schemes (Stripe, Slack, Standard Webhooks) reject timestamps further than
the tolerance from ``now`` in either direction: an old timestamp is a replay, a future
one a forged or badly skewed clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Optional

from sources.kit.errors import ConfigurationError, FatalError

DEFAULT_TOLERANCE_S = 300.0
"""Five minutes, the window Stripe, Slack and Standard Webhooks document."""

STRIPE_SCHEME = "v1"
SLACK_VERSION = "v0"
GITHUB_PREFIX = "sha256="
STANDARD_WEBHOOKS_SCHEME = "v1"
STANDARD_WEBHOOKS_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


class WebhookVerificationError(FatalError):
    """A webhook request failed verification; it must be refused and change nothing."""


class MalformedSignatureHeaderError(WebhookVerificationError):
    """The signature or timestamp header is missing parts or cannot be parsed."""


class MissingSignatureHeaderError(MalformedSignatureHeaderError):
    """A header the provider always sends (signature, timestamp, id) is absent."""


class SignatureMismatchError(WebhookVerificationError):
    """No signature in the request matches the body under any configured secret."""


class TimestampOutOfToleranceError(WebhookVerificationError):
    """The signed timestamp is too far in the past (a replay) or in the future."""


def require_header(headers: Mapping[str, str], name: str) -> str:
    """Returns a header's value from a (case-insensitive) header mapping.

    Raises:
        MissingSignatureHeaderError: The header is absent or empty.
    """
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if not value:
        raise MissingSignatureHeaderError(f"missing {name} header")
    return value


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """Returns the raw HMAC-SHA256 digest of ``message`` under ``key``."""
    return hmac.new(key, message, hashlib.sha256).digest()


def matches_any(expected: Sequence[bytes], candidates: Sequence[bytes]) -> bool:
    """Constant-time check whether any candidate equals any expected value.

    Every pair is compared so the time taken does not depend on which one matched.
    """
    found = False
    for want in expected:
        for got in candidates:
            found = hmac.compare_digest(want, got) | found
    return found


def ascii_bytes(value: str) -> bytes:
    """Encodes header text for comparison; non-ASCII characters can never match."""
    return value.encode("ascii", errors="replace")


def require_secrets(secrets: Sequence[str], setting: str = "webhook secret") -> list[bytes]:
    """Returns the non-empty secrets as bytes.

    Raises:
        ConfigurationError: No usable secret was configured.
    """
    usable = [s.encode("utf-8") for s in secrets if s]
    if not usable:
        raise ConfigurationError(f"no {setting} configured: cannot verify webhook signatures")
    return usable


def parse_timestamp(value: str, header: str) -> int:
    """Parses a unix-seconds timestamp from a header.

    Raises:
        MalformedSignatureHeaderError: The value is not an integer.
    """
    text = value.strip()
    if not text or not text.lstrip("-").isdigit() or not text.isascii():
        raise MalformedSignatureHeaderError(f"{header}: timestamp is not an integer")
    return int(text)


def check_tolerance(timestamp: int, now: Optional[float], tolerance_s: float) -> None:
    """Refuses timestamps more than ``tolerance_s`` seconds away from ``now``.

    Raises:
        TimestampOutOfToleranceError: The timestamp is too old or too far ahead.
    """
    current = time.time() if now is None else now
    skew = current - timestamp
    if skew > tolerance_s:
        raise TimestampOutOfToleranceError(
            f"signature timestamp is {skew:.0f}s old, beyond the {tolerance_s:.0f}s tolerance"
        )
    if -skew > tolerance_s:
        raise TimestampOutOfToleranceError(
            f"signature timestamp is {-skew:.0f}s in the future, beyond the "
            f"{tolerance_s:.0f}s tolerance"
        )


def parse_stripe_header(header: str) -> tuple[str, list[str]]:
    """Splits ``t=...,v1=...,v1=...`` into the timestamp text and the ``v1`` signatures.

    Other schemes (``v0``, test-mode extras) are ignored, as Stripe's libraries do.

    Raises:
        MalformedSignatureHeaderError: No single timestamp or no ``v1`` signature.
    """
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamps.append(value)
        elif key == STRIPE_SCHEME and value:
            signatures.append(value.strip())
    if len(timestamps) != 1:
        raise MalformedSignatureHeaderError("Stripe-Signature: expected exactly one t= timestamp")
    if not signatures:
        raise MalformedSignatureHeaderError("Stripe-Signature: no v1 signature")
    return timestamps[0].strip(), signatures


def verify_stripe_signature(
    payload: bytes,
    header: str,
    secrets: Sequence[str],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: Optional[float] = None,
) -> int:
    """Verifies a ``Stripe-Signature`` header as Stripe's libraries do.

    Any ``v1`` value in the header may match under any of the secrets, so an endpoint
    keeps working while its signing secret is rolled (Stripe signs with both the old
    and the new secret during the overlap).

    Args:
        payload: The raw request body, exactly as received.
        header: The ``Stripe-Signature`` header value.
        secrets: Accepted signing secrets (``whsec_...``), current one first.
        tolerance_s: Largest accepted distance between the signed timestamp and now.
        now: Current unix time; the wall clock when omitted.

    Returns:
        The verified signature timestamp (unix seconds).

    Raises:
        MalformedSignatureHeaderError: The header cannot be parsed.
        TimestampOutOfToleranceError: The timestamp is stale or in the future.
        SignatureMismatchError: No ``v1`` value matches under any secret.
        ConfigurationError: ``secrets`` holds no usable secret.
    """
    keys = require_secrets(secrets, "Stripe webhook signing secret")
    signed_at, candidates = parse_stripe_header(header)
    timestamp = parse_timestamp(signed_at, "Stripe-Signature")
    check_tolerance(timestamp, now, tolerance_s)
    message = signed_at.encode("ascii") + b"." + payload
    expected = [hmac_sha256(key, message).hex().encode("ascii") for key in keys]
    if not matches_any(expected, [ascii_bytes(c) for c in candidates]):
        raise SignatureMismatchError(
            "Stripe-Signature: no v1 signature matches the payload under the configured secrets"
        )
    return timestamp


def verify_github_signature(payload: bytes, header: str, secret: str) -> None:
    """Verifies GitHub's ``X-Hub-Signature-256: sha256=<hex>`` header.

    Args:
        payload: The raw request body.
        header: The ``X-Hub-Signature-256`` header value.
        secret: The webhook's secret token.

    Raises:
        MalformedSignatureHeaderError: The header does not start with ``sha256=``.
        SignatureMismatchError: The digest does not match.
        ConfigurationError: ``secret`` is empty.
    """
    (key,) = require_secrets([secret], "GitHub webhook secret")
    value = header.strip()
    if not value.startswith(GITHUB_PREFIX) or len(value) == len(GITHUB_PREFIX):
        raise MalformedSignatureHeaderError("X-Hub-Signature-256: expected sha256=<hex digest>")
    expected = hmac_sha256(key, payload).hex().encode("ascii")
    candidate = ascii_bytes(value[len(GITHUB_PREFIX) :].lower())
    if not matches_any([expected], [candidate]):
        raise SignatureMismatchError("X-Hub-Signature-256: signature does not match the payload")


def verify_shopify_hmac(payload: bytes, header: str, secret: str) -> None:
    """Verifies Shopify's ``X-Shopify-Hmac-Sha256`` header (base64 HMAC-SHA256 of the body).

    Args:
        payload: The raw request body.
        header: The ``X-Shopify-Hmac-Sha256`` header value.
        secret: The app's client secret.

    Raises:
        MalformedSignatureHeaderError: The header is not base64 of a SHA-256 digest.
        SignatureMismatchError: The digest does not match.
        ConfigurationError: ``secret`` is empty.
    """
    (key,) = require_secrets([secret], "Shopify webhook secret")
    candidate = decode_base64_digest(header, "X-Shopify-Hmac-Sha256")
    if not matches_any([hmac_sha256(key, payload)], [candidate]):
        raise SignatureMismatchError("X-Shopify-Hmac-Sha256: HMAC does not match the payload")


def decode_base64_digest(value: str, header: str) -> bytes:
    """Decodes a base64 SHA-256 digest from a header.

    Raises:
        MalformedSignatureHeaderError: Not valid base64 or not 32 bytes long.
    """
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedSignatureHeaderError(f"{header}: not valid base64") from exc
    if len(digest) != hashlib.sha256().digest_size:
        raise MalformedSignatureHeaderError(f"{header}: not a SHA-256 digest")
    return digest


def verify_slack_signature(
    payload: bytes,
    timestamp: str,
    signature: str,
    secret: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: Optional[float] = None,
) -> None:
    """Verifies Slack's ``X-Slack-Signature`` (``v0=<hex>`` over ``"v0:{ts}:{body}"``).

    Args:
        payload: The raw request body.
        timestamp: The ``X-Slack-Request-Timestamp`` header value.
        signature: The ``X-Slack-Signature`` header value.
        secret: The app's signing secret.
        tolerance_s: Largest accepted distance between the timestamp and now.
        now: Current unix time; the wall clock when omitted.

    Raises:
        MalformedSignatureHeaderError: Bad timestamp or a signature without ``v0=``.
        TimestampOutOfToleranceError: The timestamp is stale or in the future.
        SignatureMismatchError: The digest does not match.
        ConfigurationError: ``secret`` is empty.
    """
    (key,) = require_secrets([secret], "Slack signing secret")
    signed_at = timestamp.strip()
    ts = parse_timestamp(signed_at, "X-Slack-Request-Timestamp")
    version, sep, digest = signature.strip().partition("=")
    if version != SLACK_VERSION or not sep or not digest:
        raise MalformedSignatureHeaderError("X-Slack-Signature: expected v0=<hex digest>")
    check_tolerance(ts, now, tolerance_s)
    message = f"{SLACK_VERSION}:{signed_at}:".encode("ascii") + payload
    expected = hmac_sha256(key, message).hex().encode("ascii")
    if not matches_any([expected], [ascii_bytes(digest.lower())]):
        raise SignatureMismatchError("X-Slack-Signature: signature does not match the payload")


def standard_webhook_key(secret: str) -> bytes:
    """Decodes a Standard Webhooks secret (``whsec_`` + base64) into the HMAC key.

    Raises:
        ConfigurationError: The secret is empty or not base64.
    """
    text = secret.strip()
    if text.startswith(STANDARD_WEBHOOKS_SECRET_PREFIX):
        text = text[len(STANDARD_WEBHOOKS_SECRET_PREFIX) :]
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(
            "Standard Webhooks secret is not whsec_ followed by base64"
        ) from exc
    if not key:
        raise ConfigurationError("no Standard Webhooks secret configured")
    return key


def parse_standard_signatures(header: str) -> list[bytes]:
    """Decodes the ``v1,<base64>`` entries of a space-delimited ``webhook-signature``.

    Entries of other versions (``v1a`` asymmetric signatures) are ignored.

    Raises:
        MalformedSignatureHeaderError: No decodable ``v1`` entry.
    """
    signatures: list[bytes] = []
    for entry in header.split():
        version, sep, value = entry.partition(",")
        if version != STANDARD_WEBHOOKS_SCHEME or not sep:
            continue
        try:
            signatures.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not signatures:
        raise MalformedSignatureHeaderError("webhook-signature: no v1,<base64> signature")
    return signatures


def verify_standard_webhook(
    payload: bytes,
    webhook_id: str,
    timestamp: str,
    signature_header: str,
    secret: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: Optional[float] = None,
) -> None:
    """Verifies a Standard Webhooks request (``webhook-id``/``-timestamp``/``-signature``).

    The signed content is ``"{id}.{timestamp}.{body}"``; the header may list several
    space-delimited ``v1,<base64>`` signatures (key rotation), any of which may match.

    Args:
        payload: The raw request body.
        webhook_id: The ``webhook-id`` header value.
        timestamp: The ``webhook-timestamp`` header value (unix seconds).
        signature_header: The ``webhook-signature`` header value.
        secret: The endpoint secret, ``whsec_`` followed by the base64 key.
        tolerance_s: Largest accepted distance between the timestamp and now.
        now: Current unix time; the wall clock when omitted.

    Raises:
        MalformedSignatureHeaderError: Missing id, bad timestamp or no ``v1`` signature.
        TimestampOutOfToleranceError: The timestamp is stale or in the future.
        SignatureMismatchError: No signature matches.
        ConfigurationError: The secret is empty or not base64.
    """
    key = standard_webhook_key(secret)
    if not webhook_id.strip():
        raise MalformedSignatureHeaderError("webhook-id: missing")
    signed_at = timestamp.strip()
    ts = parse_timestamp(signed_at, "webhook-timestamp")
    candidates = parse_standard_signatures(signature_header)
    check_tolerance(ts, now, tolerance_s)
    message = f"{webhook_id}.{signed_at}.".encode() + payload
    if not matches_any([hmac_sha256(key, message)], candidates):
        raise SignatureMismatchError("webhook-signature: no signature matches the payload")
