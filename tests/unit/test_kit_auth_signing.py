"""OAuth 1.0a (RFC 5849) and generic HMAC request signing against known vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools

import pytest
import requests
from requests import PreparedRequest

from sources.kit.auth import HmacRequestSigner, OAuth1HmacSha256, percent_encode
from sources.kit.auth.oauth1_base_string import base_string_uri, normalize_parameters
from sources.kit.errors import ConfigurationError

# RFC 5849 §3.4.1.1: the request and its signature base string, verbatim (line breaks removed).
RFC_3_4_1_URL = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"
RFC_3_4_1_BODY = "c2&a3=2+q"
RFC_3_4_1_BASE_STRING = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q"
    "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_"
    "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m"
    "ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk"
    "9d7dh3k39sjv7"
)
# RFC 5849 §3.4.1.3.2: the normalized parameters of that request.
RFC_3_4_1_NORMALIZED = (
    "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9dj"
    "dj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1"
    "&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7"
)

# RFC 5849 §1.2: the photos example, with its credentials, base string and HMAC-SHA1 key.
PHOTOS_URL = "http://photos.example.net/photos?file=vacation.jpg&size=original"
PHOTOS_BASE_STRING = (
    "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26"
    "oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26"
    "oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26"
    "oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
)
PHOTOS_KEY = b"kd94hf93k423kf44&pfkkdhi9sl3r4s00"
# The RFC prints MdpQcU8iPSUjWoN5UDK7u6X3a2M=; only its first 15 characters are right
# (a reported erratum). This is HMAC-SHA1(PHOTOS_KEY, PHOTOS_BASE_STRING).
PHOTOS_SHA1_SIGNATURE = "MdpQcU8iPSUjWoN/UDMsK2sui9I="


def rfc_request() -> PreparedRequest:
    return requests.Request(
        "POST",
        RFC_3_4_1_URL,
        data=RFC_3_4_1_BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).prepare()


def photos_signer(method: str = "HMAC-SHA1", nonce: str = "chapoH") -> OAuth1HmacSha256:
    return OAuth1HmacSha256(
        "dpf43f3p2l4k3l03",
        "kd94hf93k423kf44",
        "nnch734d00sl2jdk",
        "pfkkdhi9sl3r4s00",
        realm="Photos",
        clock=lambda: 137131202.9,
        nonce_factory=lambda: nonce,
        signature_method=method,  # type: ignore[arg-type]
        version=None,
    )


def header_params(value: str) -> dict[str, str]:
    assert value.startswith("OAuth ")
    pairs = [part.split("=", 1) for part in value[len("OAuth ") :].split(", ")]
    return {name: quoted.strip('"') for name, quoted in pairs}


def test_base_string_reproduces_rfc_5849_section_3_4_1() -> None:
    signer = OAuth1HmacSha256(
        "9djdj82h48djs9d2",
        "consumer-secret-x",
        "kkk9d7dh3k39sjv7",
        "token-secret-x",
        realm="Example",
        signature_method="HMAC-SHA1",
        version=None,
    )

    assert signer.base_string(rfc_request(), 137131201, "7d8f3e4a") == RFC_3_4_1_BASE_STRING


def test_normalized_parameters_reproduce_rfc_5849_section_3_4_1_3_2() -> None:
    parameters = [
        ("b5", "=%3D"),
        ("a3", "a"),
        ("c@", ""),
        ("a2", "r b"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
        ("c2", ""),
        ("a3", "2 q"),
        ("realm", "Example"),
        ("oauth_signature", "ignored"),
    ]

    assert normalize_parameters(parameters) == RFC_3_4_1_NORMALIZED


def test_hmac_sha1_signature_matches_the_rfc_photos_example() -> None:
    request = requests.Request("GET", PHOTOS_URL).prepare()
    signer = photos_signer()

    signer(request)

    params = header_params(request.headers["Authorization"])
    assert signer.base_string(request, 137131202, "chapoH") == PHOTOS_BASE_STRING
    assert params["oauth_signature"] == percent_encode(PHOTOS_SHA1_SIGNATURE)
    assert PHOTOS_SHA1_SIGNATURE.startswith("MdpQcU8iPSUjWoN")


def test_hmac_sha256_signature_matches_an_independent_computation() -> None:
    request = requests.Request("GET", PHOTOS_URL).prepare()
    base_string = PHOTOS_BASE_STRING.replace("HMAC-SHA1", "HMAC-SHA256")
    expected = base64.b64encode(
        hmac.new(PHOTOS_KEY, base_string.encode(), hashlib.sha256).digest()
    ).decode()

    photos_signer("HMAC-SHA256")(request)

    assert header_params(request.headers["Authorization"])["oauth_signature"] == percent_encode(
        expected
    )


def test_authorization_header_lists_realm_first_and_encoded_oauth_params() -> None:
    request = requests.Request("GET", PHOTOS_URL).prepare()

    photos_signer("HMAC-SHA256", nonce="a b/c")(request)

    header = request.headers["Authorization"]
    assert header.startswith('OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", ')
    params = header_params(header)
    assert params["oauth_nonce"] == "a%20b%2Fc"
    assert params["oauth_timestamp"] == "137131202"
    assert params["oauth_signature_method"] == "HMAC-SHA256"
    assert "oauth_version" not in params


def test_default_signer_sends_version_and_a_new_nonce_per_request() -> None:
    nonces = itertools.count()
    signer = OAuth1HmacSha256(
        "ck-0001",
        "cs-0001",
        "tk-0001",
        "ts-0001",
        realm="1234567_SB1",
        clock=lambda: 1_700_000_000,
        nonce_factory=lambda: f"n{next(nonces)}",
    )
    first = requests.Request("GET", "https://x.example/r").prepare()
    second = first.copy()

    signer(first)
    signer(second)

    params = [header_params(r.headers["Authorization"]) for r in (first, second)]
    assert [p["oauth_nonce"] for p in params] == ["n0", "n1"]
    assert params[0]["oauth_version"] == "1.0"
    assert params[0]["oauth_signature"] != params[1]["oauth_signature"]


def test_json_body_is_not_signed_as_parameters() -> None:
    signer = photos_signer("HMAC-SHA256")
    plain = requests.Request("POST", PHOTOS_URL).prepare()
    with_json = requests.Request("POST", PHOTOS_URL, json={"file": "x"}).prepare()

    assert signer.base_string(plain, 1, "n") == signer.base_string(with_json, 1, "n")


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("abcXYZ019-._~", "abcXYZ019-._~"),
        (" ", "%20"),
        ("+", "%2B"),
        ("/", "%2F"),
        ("*", "%2A"),
        ("%", "%25"),
        ("é", "%C3%A9"),
        ("=&", "%3D%26"),
    ],
    ids=["unreserved", "space", "plus", "slash", "star", "percent", "utf8", "delimiters"],
)
def test_percent_encoding_follows_rfc_3986(text: str, encoded: str) -> None:
    assert percent_encode(text) == encoded


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://EXAMPLE.COM:80/r%20v/X?id=123", "http://example.com/r%20v/X"),
        ("https://www.example.net:8080/?q=1", "https://www.example.net:8080/"),
        ("https://Api.Example.com:443", "https://api.example.com/"),
    ],
    ids=["rfc-default-port", "rfc-other-port", "no-path"],
)
def test_base_string_uri_follows_rfc_5849_section_3_4_1_2(url: str, expected: str) -> None:
    assert base_string_uri(url) == expected


@pytest.mark.parametrize(
    "kwargs",
    [{"consumer_secret": ""}, {"signature_method": "RSA-SHA1"}],
    ids=["empty-secret", "unknown-method"],
)
def test_oauth1_rejects_bad_configuration(kwargs: dict[str, str]) -> None:
    arguments = {
        "consumer_key": "ck",
        "consumer_secret": "cs-0001",
        "token": "tk",
        "token_secret": "ts-0001",
        **kwargs,
    }

    with pytest.raises(ConfigurationError):
        OAuth1HmacSha256(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"], ids=["sha256", "sha512"])
def test_hmac_signer_signs_the_documented_canonical_string(algorithm: str) -> None:
    body = b'{"name": "widget"}'
    request = requests.Request(
        "post", "https://api.example.com/v1/items?b=2&a=1%202", data=body
    ).prepare()
    signer = HmacRequestSigner(
        "key-1",
        "hmac-secret-0001",
        algorithm=algorithm,
        clock=lambda: 1_700_000_000.7,
        nonce_factory=lambda: "nonce-1",
    )
    digest = getattr(hashlib, algorithm)
    canonical = "\n".join(
        ["POST", "/v1/items?a=1%202&b=2", "1700000000", "nonce-1", digest(body).hexdigest()]
    )
    signature = base64.b64encode(
        hmac.new(b"hmac-secret-0001", canonical.encode(), digest).digest()
    ).decode()

    signer(request)

    assert request.headers["Authorization"] == (
        f'HMAC-{algorithm.upper()} keyId="key-1", timestamp="1700000000", '
        f'nonce="nonce-1", signature="{signature}"'
    )


def test_hmac_signer_uses_the_configured_header_and_hashes_an_empty_body() -> None:
    request = requests.Request("GET", "https://api.example.com/v1").prepare()
    signer = HmacRequestSigner("k", "hmac-secret-0001", header="X-Signature", clock=lambda: 5)

    signer(request)

    assert "X-Signature" in request.headers
    assert "Authorization" not in request.headers
    canonical = signer.canonical_string(request, 5, "n")
    assert canonical.endswith(hashlib.sha256(b"").hexdigest())
    assert canonical.split("\n")[1] == "/v1"


def test_hmac_signer_refuses_a_streamed_body() -> None:
    request = requests.Request("POST", "https://x.example/", data=iter([b"a"])).prepare()

    with pytest.raises(ConfigurationError, match="streamed"):
        HmacRequestSigner("k", "hmac-secret-0001")(request)


@pytest.mark.parametrize(
    "signer",
    [
        HmacRequestSigner("key-1", "hmac-secret-0001"),
        OAuth1HmacSha256("ck-0001", "cs-secret-0001", "tk-0001", "ts-secret-0001", realm="1"),
    ],
    ids=["hmac", "oauth1"],
)
def test_signer_repr_holds_no_secret(signer: requests.auth.AuthBase) -> None:
    text = repr(signer) + str(signer)

    assert "secret-0001" not in text
