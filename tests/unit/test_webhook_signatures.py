"""Signature verifiers against each provider's documented example, and the ways requests fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from sources.kit.errors import ConfigurationError, FatalError
from sources.kit.webhooks.signatures import (
    MalformedSignatureHeaderError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
    verify_github_signature,
    verify_shopify_hmac,
    verify_slack_signature,
    verify_standard_webhook,
    verify_stripe_signature,
)

# --- documented examples -------------------------------------------------------------

# GitHub, "Validating webhook deliveries" (docs.github.com).
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# Slack, "Verifying requests from Slack" (api.slack.com).
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
    b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

# Standard Webhooks specification test vector.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = "1614265330"
SW_PAYLOAD = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# Shopify publishes no vector: base64 HMAC-SHA256 of the body, computed here independently.
SHOPIFY_SECRET = "hush"
SHOPIFY_PAYLOAD = b'{"id":820982911946154508,"email":"jon@example.com"}'
SHOPIFY_HMAC = base64.b64encode(
    hmac.new(SHOPIFY_SECRET.encode(), SHOPIFY_PAYLOAD, hashlib.sha256).digest()
).decode()

STRIPE_SECRET = "whsec_test_secret_current"
STRIPE_OLD_SECRET = "whsec_test_secret_previous"
STRIPE_PAYLOAD = b'{"id":"evt_1","object":"event","type":"customer.created","created":1700000000}'
NOW = 1_700_000_000


def stripe_header(payload: bytes, secret: str, timestamp: int = NOW) -> str:
    """A header built by Stripe's own SDK, an implementation independent of ours."""
    return str(
        stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, timestamp)
    )


def v1_of(header: str) -> str:
    return header.split("v1=", 1)[1]


# --- Stripe ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, secrets",
    [
        (stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET), [STRIPE_SECRET]),
        (stripe_header(STRIPE_PAYLOAD, STRIPE_OLD_SECRET), [STRIPE_SECRET, STRIPE_OLD_SECRET]),
        (
            f"t={NOW},v1={'0' * 64},v1={v1_of(stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET))}",
            [STRIPE_SECRET],
        ),
        (
            f"t={NOW},v1={v1_of(stripe_header(STRIPE_PAYLOAD, STRIPE_OLD_SECRET))},"
            f"v1={v1_of(stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET))}",
            [STRIPE_SECRET],
        ),
        (stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET) + ",v0=deadbeef", [STRIPE_SECRET]),
        (
            " " + stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET).replace(",", " , "),
            [STRIPE_SECRET],
        ),
    ],
    ids=[
        "sdk-signed",
        "rotation-old-secret",
        "second-v1-matches",
        "two-v1-during-roll",
        "extra-v0-ignored",
        "whitespace-tolerated",
    ],
)
def test_stripe_accepts(header: str, secrets: list[str]) -> None:
    assert verify_stripe_signature(STRIPE_PAYLOAD, header, secrets, now=NOW) == NOW


@pytest.mark.parametrize(
    "payload, header, now, error",
    [
        (
            STRIPE_PAYLOAD + b" ",
            stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET),
            NOW,
            SignatureMismatchError,
        ),
        (STRIPE_PAYLOAD, stripe_header(STRIPE_PAYLOAD, "whsec_other"), NOW, SignatureMismatchError),
        (
            STRIPE_PAYLOAD,
            stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET).replace(f"t={NOW}", f"t={NOW + 1}"),
            NOW,
            SignatureMismatchError,
        ),
        (
            STRIPE_PAYLOAD,
            stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET),
            NOW + 301,
            TimestampOutOfToleranceError,
        ),
        (
            STRIPE_PAYLOAD,
            stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET),
            NOW - 301,
            TimestampOutOfToleranceError,
        ),
        (STRIPE_PAYLOAD, "", NOW, MalformedSignatureHeaderError),
        (STRIPE_PAYLOAD, f"v1={'a' * 64}", NOW, MalformedSignatureHeaderError),
        (STRIPE_PAYLOAD, f"t={NOW}", NOW, MalformedSignatureHeaderError),
        (STRIPE_PAYLOAD, f"t={NOW},v0={'a' * 64}", NOW, MalformedSignatureHeaderError),
        (STRIPE_PAYLOAD, f"t=abc,v1={'a' * 64}", NOW, MalformedSignatureHeaderError),
        (STRIPE_PAYLOAD, f"t={NOW},t={NOW},v1={'a' * 64}", NOW, MalformedSignatureHeaderError),
        (STRIPE_PAYLOAD, f"t={NOW},v1=é{'a' * 63}", NOW, SignatureMismatchError),
    ],
    ids=[
        "tampered-body",
        "wrong-secret",
        "tampered-timestamp",
        "stale",
        "future",
        "empty-header",
        "no-timestamp",
        "no-v1",
        "only-v0",
        "non-integer-timestamp",
        "two-timestamps",
        "non-ascii-signature",
    ],
)
def test_stripe_rejects(payload: bytes, header: str, now: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify_stripe_signature(payload, header, [STRIPE_SECRET], now=now)


@pytest.mark.parametrize(
    "offset", [-300, 0, 300], ids=["oldest-accepted", "exact", "newest-accepted"]
)
def test_stripe_tolerance_edges_are_inclusive(offset: int) -> None:
    header = stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET, NOW + offset)
    assert verify_stripe_signature(STRIPE_PAYLOAD, header, [STRIPE_SECRET], now=NOW) == NOW + offset


def test_stripe_custom_tolerance() -> None:
    header = stripe_header(STRIPE_PAYLOAD, STRIPE_SECRET, NOW - 20)
    with pytest.raises(TimestampOutOfToleranceError):
        verify_stripe_signature(STRIPE_PAYLOAD, header, [STRIPE_SECRET], tolerance_s=10, now=NOW)


@pytest.mark.parametrize("secrets", [[], [""]], ids=["none", "empty-string"])
def test_stripe_without_secret_is_a_configuration_error(secrets: list[str]) -> None:
    with pytest.raises(ConfigurationError):
        verify_stripe_signature(
            STRIPE_PAYLOAD, stripe_header(STRIPE_PAYLOAD, "x"), secrets, now=NOW
        )


# --- GitHub / Shopify --------------------------------------------------------------------


def test_github_documented_example() -> None:
    verify_github_signature(GITHUB_PAYLOAD, GITHUB_SIGNATURE, GITHUB_SECRET)


def test_github_uppercase_hex_accepted() -> None:
    upper = "sha256=" + GITHUB_SIGNATURE.split("=", 1)[1].upper()
    verify_github_signature(GITHUB_PAYLOAD, upper, GITHUB_SECRET)


@pytest.mark.parametrize(
    "payload, header, error",
    [
        (b"Hello, World?", GITHUB_SIGNATURE, SignatureMismatchError),
        (GITHUB_PAYLOAD, GITHUB_SIGNATURE[:-1] + "0", SignatureMismatchError),
        (
            GITHUB_PAYLOAD,
            GITHUB_SIGNATURE.replace("sha256=", "sha1="),
            MalformedSignatureHeaderError,
        ),
        (GITHUB_PAYLOAD, "sha256=", MalformedSignatureHeaderError),
        (GITHUB_PAYLOAD, "", MalformedSignatureHeaderError),
    ],
    ids=["tampered-body", "tampered-digest", "sha1-prefix", "empty-digest", "empty-header"],
)
def test_github_rejects(payload: bytes, header: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify_github_signature(payload, header, GITHUB_SECRET)


def test_shopify_computed_example() -> None:
    verify_shopify_hmac(SHOPIFY_PAYLOAD, SHOPIFY_HMAC, SHOPIFY_SECRET)


@pytest.mark.parametrize(
    "payload, header, error",
    [
        (SHOPIFY_PAYLOAD + b"\n", SHOPIFY_HMAC, SignatureMismatchError),
        (SHOPIFY_PAYLOAD, base64.b64encode(b"\x00" * 32).decode(), SignatureMismatchError),
        (SHOPIFY_PAYLOAD, "not base64!", MalformedSignatureHeaderError),
        (SHOPIFY_PAYLOAD, base64.b64encode(b"short").decode(), MalformedSignatureHeaderError),
        (SHOPIFY_PAYLOAD, SHOPIFY_HMAC.encode().hex(), MalformedSignatureHeaderError),
    ],
    ids=["tampered-body", "wrong-digest", "not-base64", "not-sha256-length", "hex-not-base64"],
)
def test_shopify_rejects(payload: bytes, header: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify_shopify_hmac(payload, header, SHOPIFY_SECRET)


# --- Slack -------------------------------------------------------------------------------

SLACK_NOW = int(SLACK_TIMESTAMP) + 60


def test_slack_documented_example() -> None:
    verify_slack_signature(
        SLACK_BODY, SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_SECRET, now=SLACK_NOW
    )


@pytest.mark.parametrize(
    "payload, timestamp, signature, now, error",
    [
        (SLACK_BODY + b"&x=1", SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_NOW, SignatureMismatchError),
        (SLACK_BODY, "1531420619", SLACK_SIGNATURE, SLACK_NOW, SignatureMismatchError),
        (
            SLACK_BODY,
            SLACK_TIMESTAMP,
            SLACK_SIGNATURE,
            int(SLACK_TIMESTAMP) + 301,
            TimestampOutOfToleranceError,
        ),
        (
            SLACK_BODY,
            SLACK_TIMESTAMP,
            SLACK_SIGNATURE,
            int(SLACK_TIMESTAMP) - 301,
            TimestampOutOfToleranceError,
        ),
        (SLACK_BODY, "", SLACK_SIGNATURE, SLACK_NOW, MalformedSignatureHeaderError),
        (SLACK_BODY, "soon", SLACK_SIGNATURE, SLACK_NOW, MalformedSignatureHeaderError),
        (
            SLACK_BODY,
            SLACK_TIMESTAMP,
            SLACK_SIGNATURE.replace("v0=", "v1="),
            SLACK_NOW,
            MalformedSignatureHeaderError,
        ),
        (SLACK_BODY, SLACK_TIMESTAMP, "v0=", SLACK_NOW, MalformedSignatureHeaderError),
    ],
    ids=[
        "tampered-body",
        "tampered-timestamp",
        "stale",
        "future",
        "missing-timestamp",
        "non-integer-timestamp",
        "wrong-version",
        "empty-digest",
    ],
)
def test_slack_rejects(
    payload: bytes, timestamp: str, signature: str, now: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        verify_slack_signature(payload, timestamp, signature, SLACK_SECRET, now=now)


# --- Standard Webhooks -------------------------------------------------------------------

SW_NOW = int(SW_TIMESTAMP) + 10


@pytest.mark.parametrize(
    "signature_header, secret",
    [
        (SW_SIGNATURE, SW_SECRET),
        (SW_SIGNATURE, SW_SECRET.removeprefix("whsec_")),
        (f"v1,bm9wZQ== {SW_SIGNATURE}", SW_SECRET),
        (f"v1a,c2lnbmF0dXJl {SW_SIGNATURE}", SW_SECRET),
    ],
    ids=["spec-vector", "secret-without-prefix", "rotation-second-signature", "asymmetric-ignored"],
)
def test_standard_webhook_accepts(signature_header: str, secret: str) -> None:
    verify_standard_webhook(SW_PAYLOAD, SW_ID, SW_TIMESTAMP, signature_header, secret, now=SW_NOW)


@pytest.mark.parametrize(
    "payload, webhook_id, timestamp, header, now, error",
    [
        (
            b'{"test": 2432232315}',
            SW_ID,
            SW_TIMESTAMP,
            SW_SIGNATURE,
            SW_NOW,
            SignatureMismatchError,
        ),
        (SW_PAYLOAD, "msg_other", SW_TIMESTAMP, SW_SIGNATURE, SW_NOW, SignatureMismatchError),
        (
            SW_PAYLOAD,
            SW_ID,
            SW_TIMESTAMP,
            SW_SIGNATURE,
            int(SW_TIMESTAMP) + 301,
            TimestampOutOfToleranceError,
        ),
        (
            SW_PAYLOAD,
            SW_ID,
            SW_TIMESTAMP,
            SW_SIGNATURE,
            int(SW_TIMESTAMP) - 301,
            TimestampOutOfToleranceError,
        ),
        (SW_PAYLOAD, "", SW_TIMESTAMP, SW_SIGNATURE, SW_NOW, MalformedSignatureHeaderError),
        (SW_PAYLOAD, SW_ID, "x", SW_SIGNATURE, SW_NOW, MalformedSignatureHeaderError),
        (SW_PAYLOAD, SW_ID, SW_TIMESTAMP, "v1,%%%", SW_NOW, MalformedSignatureHeaderError),
        (SW_PAYLOAD, SW_ID, SW_TIMESTAMP, "", SW_NOW, MalformedSignatureHeaderError),
    ],
    ids=[
        "tampered-body",
        "tampered-id",
        "stale",
        "future",
        "missing-id",
        "non-integer-timestamp",
        "undecodable-signature",
        "empty-signature",
    ],
)
def test_standard_webhook_rejects(
    payload: bytes, webhook_id: str, timestamp: str, header: str, now: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        verify_standard_webhook(payload, webhook_id, timestamp, header, SW_SECRET, now=now)


@pytest.mark.parametrize(
    "secret", ["", "whsec_", "whsec_***"], ids=["empty", "prefix-only", "not-base64"]
)
def test_standard_webhook_bad_secret_is_a_configuration_error(secret: str) -> None:
    with pytest.raises(ConfigurationError):
        verify_standard_webhook(SW_PAYLOAD, SW_ID, SW_TIMESTAMP, SW_SIGNATURE, secret, now=SW_NOW)


# --- the errors themselves --------------------------------------------------------------

SECRET_BEARING_CALLS: list[tuple[str, Callable[[], Any]]] = [
    (
        "stripe",
        lambda: verify_stripe_signature(b"x", f"t={NOW},v1={'a' * 64}", [STRIPE_SECRET], now=NOW),
    ),
    ("github", lambda: verify_github_signature(b"x", "sha256=" + "a" * 64, GITHUB_SECRET)),
    ("shopify", lambda: verify_shopify_hmac(b"x", SHOPIFY_HMAC, SHOPIFY_SECRET)),
    (
        "slack",
        lambda: verify_slack_signature(
            b"x", SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_SECRET, now=SLACK_NOW
        ),
    ),
    (
        "standard",
        lambda: verify_standard_webhook(
            b"x", SW_ID, SW_TIMESTAMP, SW_SIGNATURE, SW_SECRET, now=SW_NOW
        ),
    ),
]


@pytest.mark.parametrize(
    "call", [c for _, c in SECRET_BEARING_CALLS], ids=[n for n, _ in SECRET_BEARING_CALLS]
)
def test_errors_are_fatal_one_line_and_secret_free(call: Callable[[], Any]) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        call()
    error = caught.value
    assert isinstance(error, FatalError)
    rendered = f"{error} {error!r}"
    assert "\n" not in str(error)
    for secret in (STRIPE_SECRET, GITHUB_SECRET, SHOPIFY_SECRET, SLACK_SECRET, SW_SECRET):
        assert secret not in rendered
    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in rendered
