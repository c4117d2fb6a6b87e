"""Checks a JWT bearer assertion (RFC 7523 §3) as an authorization server would."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union

import jwt

MAX_ASSERTION_LIFETIME_S = 600
CLOCK_SKEW_S = 5


@dataclass(frozen=True)
class VerifiedAssertion:
    """The claims the token is issued for."""

    issuer: str
    subject: str


class AssertionRejected(Exception):
    """The assertion is not acceptable; ``str()`` is the error description.

    Attributes:
        reason: Which check failed (``audience``, ``expired``, ``lifetime``...), so a
            provider's sandbox can answer with that provider's wording.
    """

    def __init__(self, description: str, reason: str = "invalid") -> None:
        """Creates the rejection."""
        super().__init__(description)
        self.reason = reason


def verify_assertion(
    assertion: str,
    public_keys: Mapping[str, str],
    audience: Union[str, Collection[str]],
    now: float,
    max_lifetime_s: float = MAX_ASSERTION_LIFETIME_S,
) -> VerifiedAssertion:
    """Verifies signature (RS256, key chosen by ``iss``), ``aud``, ``sub`` and ``exp``.

    Args:
        assertion: The compact JWT.
        public_keys: PEM public keys by issuer.
        audience: The ``aud`` the assertion must name (or one of several).
        now: The sandbox's current unix time (``exp`` is checked against it).
        max_lifetime_s: How far in the future ``exp`` may be.

    Returns:
        Issuer and subject.

    Raises:
        AssertionRejected: Bad signature, unknown issuer, wrong audience, no subject,
            expired or too long-lived.
    """
    issuer = _unverified_issuer(assertion)
    key = public_keys.get(issuer)
    if key is None:
        raise AssertionRejected(f"unknown issuer {issuer!r}")
    claims = _verified_claims(assertion, key, audience)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AssertionRejected("assertion has no subject")
    _check_expiry(claims.get("exp"), now, max_lifetime_s)
    return VerifiedAssertion(issuer=issuer, subject=subject)


def _unverified_issuer(assertion: str) -> str:
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AssertionRejected(f"malformed assertion: {type(exc).__name__}") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise AssertionRejected("assertion has no issuer")
    return issuer


def _verified_claims(
    assertion: str, key: str, audience: Union[str, Collection[str]]
) -> dict[str, Any]:
    try:
        return dict(
            jwt.decode(
                assertion,
                key,
                algorithms=["RS256"],
                audience=audience if isinstance(audience, str) else list(audience),
                options={
                    "require": ["iss", "sub", "aud", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        )
    except jwt.InvalidAudienceError:
        raise AssertionRejected("audience mismatch", "audience") from None
    except jwt.InvalidSignatureError:
        raise AssertionRejected("signature invalid") from None
    except jwt.PyJWTError as exc:
        raise AssertionRejected(f"assertion invalid: {type(exc).__name__}") from None


def _check_expiry(exp: Optional[Any], now: float, max_lifetime_s: float) -> None:
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise AssertionRejected("exp is not a number", "exp")
    if exp < now - CLOCK_SKEW_S:
        raise AssertionRejected("assertion expired", "expired")
    if exp > now + max_lifetime_s + CLOCK_SKEW_S:
        raise AssertionRejected("assertion lives too long", "lifetime")
