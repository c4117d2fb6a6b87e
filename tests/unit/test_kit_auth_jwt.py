"""JWT bearer assertions: claims, header, key handling."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sources.kit.auth import OAuth2JwtBearer, ProviderLabel
from sources.kit.errors import ConfigurationError

TOKEN_URL = "https://login.example.com/services/oauth2/token"
AUDIENCE = "https://login.example.com"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_assertion_carries_the_claims_and_is_signed_rs256(rsa_key: rsa.RSAPrivateKey) -> None:
    auth = OAuth2JwtBearer(
        TOKEN_URL,
        issuer="consumer-key-1",
        subject="integration@example.com",
        audience=AUDIENCE,
        private_key_pem=pem(rsa_key),
        key_id="kid-1",
        lifetime_s=180,
        clock=lambda: 1_700_000_000.5,
        jti_factory=lambda: "jti-1",
    )

    assertion = auth.assertion()

    header = jwt.get_unverified_header(assertion)
    claims = jwt.decode(
        assertion,
        public_pem(rsa_key),
        algorithms=["RS256"],
        audience=AUDIENCE,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert (header["alg"], header["kid"]) == ("RS256", "kid-1")
    assert claims == {
        "iss": "consumer-key-1",
        "sub": "integration@example.com",
        "aud": AUDIENCE,
        "iat": 1_700_000_000,
        "exp": 1_700_000_180,
        "jti": "jti-1",
    }


def test_assertion_without_key_id_has_no_kid(rsa_key: rsa.RSAPrivateKey) -> None:
    auth = OAuth2JwtBearer(TOKEN_URL, "iss", "sub", AUDIENCE, pem(rsa_key).encode())

    assert "kid" not in jwt.get_unverified_header(auth.assertion())


@pytest.mark.parametrize(
    "key_text",
    ["not a key", pem(ec.generate_private_key(ec.SECP256R1()))],
    ids=["garbage", "ec-key"],
)
def test_unusable_private_key_names_the_setting_without_the_key(key_text: str) -> None:
    label = ProviderLabel("Salesforce", "sources.salesforce.credentials")

    with pytest.raises(ConfigurationError) as caught:
        OAuth2JwtBearer(TOKEN_URL, "iss", "sub", AUDIENCE, key_text, label=label)

    assert "sources.salesforce.credentials.private_key" in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)


@pytest.mark.parametrize("missing", ["issuer", "subject", "audience"], ids=["iss", "sub", "aud"])
def test_empty_claims_are_refused(rsa_key: rsa.RSAPrivateKey, missing: str) -> None:
    arguments = {"issuer": "i", "subject": "s", "audience": AUDIENCE, missing: ""}

    with pytest.raises(ConfigurationError, match=missing):
        OAuth2JwtBearer(TOKEN_URL, private_key_pem=pem(rsa_key), **arguments)


def test_repr_holds_no_key_material(rsa_key: rsa.RSAPrivateKey) -> None:
    key_text = pem(rsa_key)
    auth = OAuth2JwtBearer(TOKEN_URL, "iss", "sub", AUDIENCE, key_text)

    text = repr(auth)

    assert "iss" in text
    assert all(line not in text for line in key_text.splitlines()[1:-1])
