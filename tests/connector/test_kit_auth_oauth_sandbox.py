"""Auth flows over real HTTP against the local OAuth sandbox."""

from __future__ import annotations

import logging
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dlt.sources.helpers.rest_client import RESTClient

from sandbox.oauth import OAuthSandbox
from sources.kit.auth import (
    FileTokenStore,
    MemoryTokenStore,
    OAuth1HmacSha256,
    OAuth2ClientCredentials,
    OAuth2JwtBearer,
    OAuth2RefreshToken,
    ProviderLabel,
    TokenRetry,
)
from sources.kit.errors import AuthenticationError, ServerError
from sources.kit.http import HttpSettings, ResilientSession
from sources.kit.retry import Jitter

CLIENT_ID = "sluice-client"
CLIENT_SECRET = "cs-sandbox-secret-0001"
CONSUMER_KEY = "ns-consumer-key-0001"
CONSUMER_SECRET = "ns-consumer-secret-0001"
TOKEN_ID = "ns-token-id-0001"
TOKEN_SECRET = "ns-token-secret-0001"
ISSUER = "sf-consumer-key-0001"
SALESFORCE = ProviderLabel("Salesforce", "sources.salesforce.credentials")


class ManualClock:
    """Unix time that moves only when told to; shared by the sandbox and the client."""

    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
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


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock, rsa_key: rsa.RSAPrivateKey) -> Iterator[OAuthSandbox]:
    with OAuthSandbox(
        clients={CLIENT_ID: CLIENT_SECRET},
        access_token_ttl=3600,
        clock=clock,
        jwt_public_keys={ISSUER: public_pem(rsa_key)},
        oauth1_consumers={CONSUMER_KEY: CONSUMER_SECRET},
        oauth1_tokens={TOKEN_ID: TOKEN_SECRET},
    ) as server:
        yield server


def retry(sleeps: list[float], attempts: int = 4) -> TokenRetry:
    return TokenRetry(max_attempts=attempts, jitter=Jitter(strategy="none"), sleep=sleeps.append)


def client_credentials(
    sandbox: OAuthSandbox, clock: ManualClock, **kwargs: Any
) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        sandbox.token_url, CLIENT_ID, CLIENT_SECRET, clock=clock, retry=retry([]), **kwargs
    )


def refresh_flow(
    sandbox: OAuthSandbox, clock: ManualClock, refresh_token: str, store: Any
) -> OAuth2RefreshToken:
    return OAuth2RefreshToken(
        sandbox.token_url,
        CLIENT_ID,
        CLIENT_SECRET,
        refresh_token,
        store,
        "salesforce:prod",
        clock=clock,
        retry=retry([]),
        label=SALESFORCE,
    )


def token_requests(sandbox: OAuthSandbox) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests if r["path"] == "/oauth/token"]


@pytest.mark.parametrize(
    "auth_method", ["client_secret_basic", "client_secret_post"], ids=["basic", "post"]
)
def test_client_credentials_reach_the_resource(
    sandbox: OAuthSandbox, clock: ManualClock, auth_method: str
) -> None:
    auth = client_credentials(sandbox, clock, auth_method=auth_method, scope="read")

    response = requests.get(sandbox.resource_url, auth=auth, timeout=5)

    assert response.status_code == 200
    assert response.json() == {"client_id": CLIENT_ID, "subject": CLIENT_ID, "scope": "read"}
    assert token_requests(sandbox)[0]["client_auth"] == auth_method


def test_wrong_client_secret_names_the_settings(sandbox: OAuthSandbox, clock: ManualClock) -> None:
    auth = OAuth2ClientCredentials(
        sandbox.token_url, CLIENT_ID, "cs-wrong-secret-0001", clock=clock, label=SALESFORCE
    )

    with pytest.raises(AuthenticationError, match="sources.salesforce.credentials.client_secret"):
        requests.get(sandbox.resource_url, auth=auth, timeout=5)


@pytest.mark.parametrize(
    ("advance_s", "tokens_issued"),
    [(0, 1), (3539, 1), (3541, 2)],
    ids=["fresh", "61s-before-expiry", "59s-before-expiry"],
)
def test_token_is_reused_until_sixty_seconds_before_expiry(
    sandbox: OAuthSandbox, clock: ManualClock, advance_s: int, tokens_issued: int
) -> None:
    auth = client_credentials(sandbox, clock)
    with requests.Session() as session:
        session.get(sandbox.resource_url, auth=auth, timeout=5)
        clock.now += advance_s

        response = session.get(sandbox.resource_url, auth=auth, timeout=5)

    assert response.status_code == 200
    assert sandbox.issued["client_credentials"] == tokens_issued
    assert [r["status"] for r in sandbox.requests if r["path"] == "/api/me"] == [200, 200]


def test_401_after_server_side_expiry_renews_once_and_resends(
    sandbox: OAuthSandbox, clock: ManualClock
) -> None:
    auth = client_credentials(sandbox, clock)
    requests.get(sandbox.resource_url, auth=auth, timeout=5)
    sandbox.expire_all_access_tokens()

    response = requests.get(sandbox.resource_url, auth=auth, timeout=5)

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert sandbox.issued["client_credentials"] == 2
    assert [(r["path"], r["status"]) for r in sandbox.requests[2:]] == [
        ("/api/me", 401),
        ("/oauth/token", 200),
        ("/api/me", 200),
    ]


def test_concurrent_401s_share_one_renewal(sandbox: OAuthSandbox, clock: ManualClock) -> None:
    auth = client_credentials(sandbox, clock)
    requests.get(sandbox.resource_url, auth=auth, timeout=5)
    sandbox.expire_all_access_tokens()
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def call() -> None:
        barrier.wait()
        statuses.append(requests.get(sandbox.resource_url, auth=auth, timeout=5).status_code)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 12
    assert sandbox.issued["client_credentials"] == 2


def test_renewal_works_through_dlt_rest_client_and_the_resilient_session(
    sandbox: OAuthSandbox, clock: ManualClock
) -> None:
    auth = client_credentials(sandbox, clock)
    session = ResilientSession(
        integration="oauth-sandbox", settings=HttpSettings(), sleep=lambda s: None
    )
    client = RESTClient(base_url=sandbox.base_url, auth=auth, session=session)
    client.get("/api/me")
    sandbox.expire_all_access_tokens()

    response = client.get("/api/me")

    assert response.status_code == 200
    assert sandbox.issued["client_credentials"] == 2


def test_rotated_refresh_token_is_used_by_the_next_run(
    sandbox: OAuthSandbox, clock: ManualClock, tmp_path: Path
) -> None:
    configured = sandbox.issue_refresh_token(CLIENT_ID)
    store = FileTokenStore(tmp_path / "tokens")
    first_run = refresh_flow(sandbox, clock, configured, store)
    assert requests.get(sandbox.resource_url, auth=first_run, timeout=5).status_code == 200
    rotated = store.load("salesforce:prod")

    next_run = refresh_flow(sandbox, clock, configured, FileTokenStore(tmp_path / "tokens"))
    response = requests.get(sandbox.resource_url, auth=next_run, timeout=5)

    assert rotated is not None
    assert response.status_code == 200
    assert [r["status"] for r in token_requests(sandbox)] == [200, 200]
    assert sandbox.active_refresh_tokens(CLIENT_ID) == [
        store.load("salesforce:prod")["refresh_token"]
    ]  # type: ignore[index]
    assert rotated["refresh_token"] not in sandbox.active_refresh_tokens(CLIENT_ID)
    assert stat.S_IMODE(store.path_for("salesforce:prod").stat().st_mode) == 0o600


def test_newly_pasted_refresh_token_wins_over_the_stored_one(
    sandbox: OAuthSandbox, clock: ManualClock
) -> None:
    store = MemoryTokenStore()
    old = sandbox.issue_refresh_token(CLIENT_ID)
    requests.get(sandbox.resource_url, auth=refresh_flow(sandbox, clock, old, store), timeout=5)
    pasted = sandbox.issue_refresh_token(CLIENT_ID)

    response = requests.get(
        sandbox.resource_url, auth=refresh_flow(sandbox, clock, pasted, store), timeout=5
    )

    assert response.status_code == 200
    assert pasted not in sandbox.active_refresh_tokens(CLIENT_ID)
    assert store.load("salesforce:prod")["refresh_token"] in sandbox.active_refresh_tokens(
        CLIENT_ID
    )  # type: ignore[index]


def test_reused_rotated_refresh_token_is_an_invalid_grant(sandbox: OAuthSandbox) -> None:
    old = sandbox.issue_refresh_token(CLIENT_ID)
    form = {"grant_type": "refresh_token", "refresh_token": old}
    credentials = (CLIENT_ID, CLIENT_SECRET)
    first = requests.post(sandbox.token_url, data=form, auth=credentials, timeout=5)

    again = requests.post(sandbox.token_url, data=form, auth=credentials, timeout=5)

    assert first.status_code == 200
    assert first.json()["refresh_token"] != old
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_revoked_refresh_token_raises_one_clear_line(
    sandbox: OAuthSandbox, clock: ManualClock
) -> None:
    token = sandbox.issue_refresh_token(CLIENT_ID)
    sandbox.revoke_refresh_token(token)

    with pytest.raises(AuthenticationError) as caught:
        requests.get(
            sandbox.resource_url,
            auth=refresh_flow(sandbox, clock, token, MemoryTokenStore()),
            timeout=5,
        )

    assert str(caught.value) == (
        "Salesforce refresh token was revoked or expired: re-authorize and set "
        "sources.salesforce.credentials.refresh_token"
    )
    assert caught.value.status == 400


def test_token_endpoint_503_is_retried_with_backoff(
    sandbox: OAuthSandbox, clock: ManualClock
) -> None:
    sleeps: list[float] = []
    sandbox.fail_next_token_requests(2, status=503)
    auth = OAuth2ClientCredentials(
        sandbox.token_url, CLIENT_ID, CLIENT_SECRET, clock=clock, retry=retry(sleeps)
    )

    response = requests.get(sandbox.resource_url, auth=auth, timeout=5)

    assert response.status_code == 200
    assert [r["status"] for r in token_requests(sandbox)] == [503, 503, 200]
    assert sleeps == [0.5, 1.0]


def test_token_endpoint_that_keeps_failing_raises_a_retriable_error(
    sandbox: OAuthSandbox, clock: ManualClock
) -> None:
    sandbox.fail_next_token_requests(3, status=502)
    auth = OAuth2ClientCredentials(
        sandbox.token_url, CLIENT_ID, CLIENT_SECRET, clock=clock, retry=retry([], attempts=3)
    )

    with pytest.raises(ServerError, match="HTTP 502 3 times"):
        requests.get(sandbox.resource_url, auth=auth, timeout=5)


def jwt_flow(
    sandbox: OAuthSandbox, clock: Any, key: rsa.RSAPrivateKey, **kwargs: Any
) -> OAuth2JwtBearer:
    arguments: dict[str, Any] = {
        "issuer": ISSUER,
        "subject": "integration@example.com",
        "audience": sandbox.token_url,
        "private_key_pem": private_pem(key),
        "clock": clock,
        "label": SALESFORCE,
        **kwargs,
    }
    return OAuth2JwtBearer(sandbox.token_url, **arguments)


def test_jwt_bearer_grant_is_accepted_and_cached(
    sandbox: OAuthSandbox, clock: ManualClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    auth = jwt_flow(sandbox, clock, rsa_key)

    first = requests.get(sandbox.resource_url, auth=auth, timeout=5)
    second = requests.get(sandbox.resource_url, auth=auth, timeout=5)

    assert first.json()["subject"] == "integration@example.com"
    assert second.status_code == 200
    assert sandbox.issued["jwt_bearer"] == 1


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ("other-key", "signature invalid"),
        ("other-audience", "audience"),
        ("stale-clock", "expired"),
    ],
    ids=["other-key", "other-audience", "expired-assertion"],
)
def test_bad_jwt_assertion_is_refused_with_the_settings_to_check(
    sandbox: OAuthSandbox, clock: ManualClock, rsa_key: rsa.RSAPrivateKey, variant: str, reason: str
) -> None:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if variant == "other-key"
        else rsa_key
    )
    kwargs: dict[str, Any] = {}
    if variant == "other-audience":
        kwargs["audience"] = "https://login.example.com"
    auth_clock = (lambda: clock.now - 3600) if variant == "stale-clock" else clock
    auth = jwt_flow(sandbox, auth_clock, key, **kwargs)

    with pytest.raises(AuthenticationError) as caught:
        requests.get(sandbox.resource_url, auth=auth, timeout=5)

    assert reason in str(caught.value)
    assert "sources.salesforce.credentials.private_key" in str(caught.value)


def netsuite_signer(
    clock: Any, token_secret: str = TOKEN_SECRET, **kwargs: Any
) -> OAuth1HmacSha256:
    return OAuth1HmacSha256(
        CONSUMER_KEY,
        CONSUMER_SECRET,
        TOKEN_ID,
        token_secret,
        realm="1234567_SB1",
        clock=clock,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("GET", {"params": {"q": "name IS 'a b'", "limit": "5", "tilde": "~*"}}),
        ("POST", {"params": {"x": "1"}, "data": {"field": "v w+", "other": "é"}}),
        ("POST", {"json": {"companyName": "Acme"}}),
    ],
    ids=["get-with-query", "post-form", "post-json"],
)
def test_oauth1_signature_is_accepted(
    sandbox: OAuthSandbox, clock: ManualClock, method: str, kwargs: dict[str, Any]
) -> None:
    response = requests.request(
        method, sandbox.netsuite_url, auth=netsuite_signer(clock), timeout=5, **kwargs
    )

    assert response.status_code == 200, response.text
    assert response.json()["realm"] == "1234567_SB1"


@pytest.mark.parametrize(
    ("signer_kwargs", "reason"),
    [
        ({"token_secret": "ns-wrong-secret-0001"}, "signature invalid"),
        ({"nonce_factory": lambda: "same-nonce"}, "nonce reused"),
        ({"clock": lambda: 1_000_000_000}, "timestamp stale"),
    ],
    ids=["wrong-secret", "reused-nonce", "stale-timestamp"],
)
def test_oauth1_bad_signatures_are_rejected(
    sandbox: OAuthSandbox, clock: ManualClock, signer_kwargs: dict[str, Any], reason: str
) -> None:
    arguments = {"clock": clock, **signer_kwargs}
    signer = netsuite_signer(**arguments)
    responses = [requests.get(sandbox.netsuite_url, auth=signer, timeout=5) for _ in range(2)]

    assert responses[-1].status_code == 401
    assert responses[-1].json()["error_description"] == reason


def test_secrets_never_reach_logs_reprs_or_errors(
    sandbox: OAuthSandbox,
    clock: ManualClock,
    rsa_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configured = sandbox.issue_refresh_token(CLIENT_ID)
    store = MemoryTokenStore()
    revoked = sandbox.issue_refresh_token(CLIENT_ID)
    sandbox.revoke_refresh_token(revoked)
    flows: list[requests.auth.AuthBase] = [
        client_credentials(sandbox, clock),
        client_credentials(sandbox, clock, auth_method="client_secret_post"),
        refresh_flow(sandbox, clock, configured, store),
        jwt_flow(sandbox, clock, rsa_key),
        netsuite_signer(clock),
    ]
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        sandbox.fail_next_token_requests(1)
        for flow in flows:
            requests.get(sandbox.resource_url, auth=flow, timeout=5)
        sandbox.expire_all_access_tokens()
        for flow in flows[:4]:
            requests.get(sandbox.resource_url, auth=flow, timeout=5)
        requests.get(sandbox.netsuite_url, auth=flows[4], timeout=5)
        try:
            requests.get(
                sandbox.resource_url, auth=refresh_flow(sandbox, clock, revoked, store), timeout=5
            )
        except AuthenticationError as exc:
            errors.append(f"{exc} {exc!r}")

    access_tokens = [flow.token().access_token for flow in flows[:4]]  # type: ignore[attr-defined]
    secrets = [
        CLIENT_SECRET,
        CONSUMER_SECRET,
        TOKEN_SECRET,
        configured,
        revoked,
        store.load("salesforce:prod")["refresh_token"],  # type: ignore[index]
        *access_tokens,
        *private_pem(rsa_key).splitlines()[1:-1],
    ]
    seen = caplog.text + " ".join(repr(f) + str(f) for f in flows) + " ".join(errors)
    assert len(errors) == 1
    assert "refresh token was revoked" in caplog.text + errors[0]
    assert "retrying" in caplog.text
    leaked = [secret for secret in secrets if secret in seen]
    assert leaked == []
