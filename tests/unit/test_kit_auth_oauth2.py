"""OAuth 2.0 flows on bare responses: caching, renewal, 401 retry, rotation, errors."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any, Optional, Union

import pytest
import requests
from requests import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict

from sources.kit.auth import (
    MemoryTokenStore,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    ProviderLabel,
    TokenRetry,
)
from sources.kit.auth.oauth2 import refresh_token_fingerprint
from sources.kit.errors import (
    AuthenticationError,
    ConfigurationError,
    RateLimitedError,
    ServerError,
    TransientNetworkError,
)
from sources.kit.retry import Jitter

TOKEN_URL = "https://login.example.com/oauth/token"
API_URL = "https://api.example.com/v1/things"
SECRET = "client-secret-unit-0001"
CONFIGURED_RT = "rt-configured-unit-0001"


def reply(status: int, body: Optional[dict[str, Any]] = None, **headers: str) -> Response:
    response = Response()
    response.status_code = status
    response._content = json.dumps(body or {}).encode()
    response._content_consumed = True
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
    return response


def token_reply(
    access: str, expires_in: Optional[int] = 3600, refresh: Optional[str] = None
) -> Response:
    body: dict[str, Any] = {"access_token": access, "token_type": "bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    if refresh is not None:
        body["refresh_token"] = refresh
    return reply(200, body)


Outcome = Union[Response, BaseException]


class FakeTokenSession:
    """Stands in for requests.Session.post; answers from a queue and records forms."""

    def __init__(self, *outcomes: Outcome, delay_s: float = 0.0) -> None:
        self.outcomes = list(outcomes)
        self.posts: list[dict[str, Any]] = []
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def post(self, url: str, **kwargs: Any) -> Response:
        with self.lock:
            self.posts.append({"url": url, **kwargs})
            outcome = self.outcomes.pop(0)
        if self.delay_s:
            time.sleep(self.delay_s)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeAdapter:
    """The connection a response came from; the 401 hook re-sends through it."""

    def __init__(self, *responses: Response) -> None:
        self.responses = list(responses)
        self.sent: list[PreparedRequest] = []
        self.kwargs: list[dict[str, Any]] = []

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        self.sent.append(request)
        self.kwargs.append(kwargs)
        response = self.responses.pop(0)
        response.request = request
        return response


def no_wait_retry(sleeps: Optional[list[float]] = None, attempts: int = 4) -> TokenRetry:
    recorded = sleeps if sleeps is not None else []
    return TokenRetry(max_attempts=attempts, jitter=Jitter(strategy="none"), sleep=recorded.append)


def client_credentials(
    session: FakeTokenSession, clock: Callable[[], float], **kwargs: Any
) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        TOKEN_URL,
        "client-1",
        SECRET,
        session=session,
        clock=clock,
        retry=no_wait_retry(),
        **kwargs,  # type: ignore[arg-type]
    )


def prepared(auth: requests.auth.AuthBase, method: str = "GET", **kwargs: Any) -> PreparedRequest:
    return requests.Request(method, API_URL, auth=auth, **kwargs).prepare()


def sent_401(
    auth: requests.auth.AuthBase, adapter: FakeAdapter, **kwargs: Any
) -> tuple[PreparedRequest, Response]:
    request = prepared(auth, **kwargs)
    response = reply(401, {"error": "invalid_token"})
    response.request = request
    response.connection = adapter
    return request, response


def bearer(request: PreparedRequest) -> str:
    return request.headers["Authorization"]


@pytest.mark.parametrize(
    ("method", "expected_form", "expected_header"),
    [
        ("client_secret_basic", {"grant_type": "client_credentials"}, True),
        (
            "client_secret_post",
            {"grant_type": "client_credentials", "client_id": "client-1", "client_secret": SECRET},
            False,
        ),
    ],
    ids=["basic", "post"],
)
def test_client_credentials_authenticates_the_client_as_configured(
    method: str, expected_form: dict[str, str], expected_header: bool
) -> None:
    session = FakeTokenSession(token_reply("at-1"))
    auth = client_credentials(session, FakeClock(), auth_method=method)

    request = prepared(auth)

    assert bearer(request) == "Bearer at-1"
    assert session.posts[0]["data"] == expected_form
    assert ("Authorization" in session.posts[0]["headers"]) is expected_header


def test_basic_client_authentication_form_encodes_id_and_secret() -> None:
    session = FakeTokenSession(token_reply("at-1"))
    auth = OAuth2ClientCredentials(
        TOKEN_URL,
        "id with space",
        "se:cr&t+1",
        session=session,
        retry=no_wait_retry(),  # type: ignore[arg-type]
    )

    prepared(auth)

    header = session.posts[0]["headers"]["Authorization"]
    assert base64.b64decode(header.split(" ")[1]).decode() == "id+with+space:se%3Acr%26t%2B1"


def test_scope_list_and_audience_are_sent() -> None:
    session = FakeTokenSession(token_reply("at-1"))
    auth = client_credentials(session, FakeClock(), scope=["read", "write"], audience="https://api")

    prepared(auth)

    assert session.posts[0]["data"]["scope"] == "read write"
    assert session.posts[0]["data"]["audience"] == "https://api"


@pytest.mark.parametrize(
    ("advance_s", "expected_fetches"),
    [(0, 1), (3539, 1), (3540, 2), (3600, 2), (7200, 2)],
    ids=["fresh", "61s-left", "60s-left", "expired", "long-expired"],
)
def test_token_is_cached_until_sixty_seconds_before_expiry(
    advance_s: int, expected_fetches: int
) -> None:
    clock = FakeClock()
    session = FakeTokenSession(token_reply("at-1"), token_reply("at-2"))
    auth = client_credentials(session, clock)
    prepared(auth)

    clock.now += advance_s
    request = prepared(auth)

    assert len(session.posts) == expected_fetches
    assert bearer(request) == ("Bearer at-1" if expected_fetches == 1 else "Bearer at-2")


def test_short_lived_token_is_renewed_at_half_its_life_not_on_every_request() -> None:
    clock = FakeClock()
    session = FakeTokenSession(
        token_reply("at-1", expires_in=30), token_reply("at-2", expires_in=30)
    )
    auth = client_credentials(session, clock)
    prepared(auth)

    clock.now += 14
    prepared(auth)
    fetched_before_half = len(session.posts)
    clock.now += 1
    prepared(auth)

    assert (fetched_before_half, len(session.posts)) == (1, 2)


def test_token_without_expiry_is_kept_until_a_401() -> None:
    clock = FakeClock()
    session = FakeTokenSession(token_reply("at-1", expires_in=None))
    auth = client_credentials(session, clock)
    prepared(auth)

    clock.now += 10 * 86400
    request = prepared(auth)

    assert bearer(request) == "Bearer at-1"
    assert len(session.posts) == 1


def test_many_threads_share_one_fetch() -> None:
    session = FakeTokenSession(token_reply("at-1"), delay_s=0.005)
    auth = client_credentials(session, FakeClock())
    barrier = threading.Barrier(12)
    headers: list[str] = []

    def worker() -> None:
        barrier.wait()
        headers.append(bearer(prepared(auth)))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(session.posts) == 1
    assert headers == ["Bearer at-1"] * 12


def test_401_renews_the_token_and_resends_once() -> None:
    session = FakeTokenSession(token_reply("at-1"), token_reply("at-2"))
    auth = client_credentials(session, FakeClock())
    adapter = FakeAdapter(reply(200, {"ok": True}))
    _, first = sent_401(auth, adapter)

    final = auth.handle_401(first, timeout=5, allow_redirects=False)

    assert final.status_code == 200
    assert bearer(adapter.sent[0]) == "Bearer at-2"
    assert adapter.kwargs == [{"timeout": 5}]
    assert final.history == [first]


def test_second_401_is_returned_as_is_and_not_retried_again() -> None:
    session = FakeTokenSession(token_reply("at-1"), token_reply("at-2"))
    auth = client_credentials(session, FakeClock())
    adapter = FakeAdapter(reply(401, {"error": "insufficient"}))
    _, first = sent_401(auth, adapter)

    final = auth.handle_401(first)
    again = auth.handle_401(final)

    assert (final.status_code, again is final) == (401, True)
    assert len(adapter.sent) == 1
    assert len(session.posts) == 2


def test_401_with_a_token_already_replaced_does_not_fetch_again() -> None:
    session = FakeTokenSession(token_reply("at-1"), token_reply("at-2"))
    auth = client_credentials(session, FakeClock())
    adapter = FakeAdapter(reply(200), reply(200))
    _, first = sent_401(auth, adapter)
    _, second = sent_401(auth, adapter)  # sent with at-1 as well, answered later

    auth.handle_401(first)
    auth.handle_401(second)

    assert len(session.posts) == 2
    assert [bearer(r) for r in adapter.sent] == ["Bearer at-2", "Bearer at-2"]


@pytest.mark.parametrize("status", [200, 403, 500], ids=["ok", "forbidden", "server-error"])
def test_hook_leaves_other_statuses_alone(status: int) -> None:
    session = FakeTokenSession(token_reply("at-1"))
    auth = client_credentials(session, FakeClock())
    response = reply(status)
    response.request = prepared(auth)

    assert auth.handle_401(response) is response
    assert len(session.posts) == 1


def test_unrewindable_body_is_not_resent_but_token_is_renewed() -> None:
    session = FakeTokenSession(token_reply("at-1"), token_reply("at-2"))
    auth = client_credentials(session, FakeClock())
    adapter = FakeAdapter()
    _, first = sent_401(auth, adapter, method="POST", data=iter([b"chunk"]))

    final = auth.handle_401(first)

    assert final is first
    assert adapter.sent == []
    assert bearer(prepared(auth)) == "Bearer at-2"


def test_hook_is_registered_on_each_request() -> None:
    auth = client_credentials(FakeTokenSession(token_reply("at-1")), FakeClock())

    request = prepared(auth)

    assert auth.handle_401 in request.hooks["response"]


@pytest.mark.parametrize(
    "failures",
    [
        [reply(503), reply(502)],
        [requests.ConnectionError("refused"), reply(500)],
        [reply(429, {"error": "slow_down"}, **{"Retry-After": "2"})],
    ],
    ids=["5xx", "connection-then-5xx", "429-with-retry-after"],
)
def test_token_endpoint_failures_are_retried_with_backoff(failures: list[Outcome]) -> None:
    sleeps: list[float] = []
    session = FakeTokenSession(*failures, token_reply("at-1"))
    auth = OAuth2ClientCredentials(
        TOKEN_URL,
        "client-1",
        SECRET,
        session=session,
        retry=no_wait_retry(sleeps),  # type: ignore[arg-type]
    )

    request = prepared(auth)

    assert bearer(request) == "Bearer at-1"
    expected = [2.0] if len(failures) == 1 else [0.5, 1.0]
    assert sleeps == expected


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (reply(503), ServerError),
        (reply(429), RateLimitedError),
        (requests.ConnectionError("refused"), TransientNetworkError),
    ],
    ids=["5xx", "429", "connection"],
)
def test_token_endpoint_gives_up_after_the_last_attempt(
    outcome: Outcome, error: type[Exception]
) -> None:
    session = FakeTokenSession(outcome, outcome, outcome)
    auth = OAuth2ClientCredentials(
        TOKEN_URL,
        "client-1",
        SECRET,
        session=session,
        retry=no_wait_retry(attempts=3),  # type: ignore[arg-type]
    )

    with pytest.raises(error, match="3"):
        prepared(auth)
    assert len(session.posts) == 3


LABEL = ProviderLabel("Salesforce", "sources.salesforce.credentials")


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            reply(401, {"error": "invalid_client", "error_description": "bad secret"}),
            "Salesforce rejected the client credentials (invalid_client: bad secret): check "
            "sources.salesforce.credentials.client_id and "
            "sources.salesforce.credentials.client_secret",
        ),
        (
            reply(400, {"error": "invalid_scope"}),
            "Salesforce refused the requested scope (invalid_scope): check "
            "sources.salesforce.credentials.scope",
        ),
        (
            reply(404, {}),
            f"Salesforce token endpoint {TOKEN_URL} refused the request (HTTP 404): check "
            "sources.salesforce.credentials.token_url and the credentials under "
            "sources.salesforce.credentials",
        ),
    ],
    ids=["invalid-client", "invalid-scope", "not-found"],
)
def test_client_credentials_refusals_name_the_setting_to_fix(
    response: Response, expected: str
) -> None:
    session = FakeTokenSession(response)
    auth = client_credentials(session, FakeClock(), label=LABEL)

    with pytest.raises(AuthenticationError) as caught:
        prepared(auth)

    assert caught.value.message == expected
    assert len(session.posts) == 1


@pytest.mark.parametrize(
    "response",
    [reply(200, {"token_type": "bearer"}), reply(200, None)],
    ids=["no-access-token", "empty-object"],
)
def test_reply_without_access_token_is_a_configuration_error(response: Response) -> None:
    auth = client_credentials(FakeTokenSession(response), FakeClock())

    with pytest.raises(ConfigurationError, match="token_url"):
        prepared(auth)


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"token_url": ""}, "token_url"),
        ({"client_id": ""}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"auth_method": "private_key_jwt"}, "auth method"),
    ],
    ids=["no-url", "no-id", "no-secret", "bad-method"],
)
def test_missing_settings_fail_at_construction(kwargs: dict[str, str], setting: str) -> None:
    arguments = {"token_url": TOKEN_URL, "client_id": "c", "client_secret": SECRET, **kwargs}

    with pytest.raises(ConfigurationError, match=setting):
        OAuth2ClientCredentials(**arguments)  # type: ignore[arg-type]


def refresh_auth(
    session: FakeTokenSession,
    store: MemoryTokenStore,
    configured: str = CONFIGURED_RT,
    clock: Optional[Callable[[], float]] = None,
) -> OAuth2RefreshToken:
    return OAuth2RefreshToken(
        TOKEN_URL,
        "client-1",
        SECRET,
        configured,
        store,
        "salesforce:prod",
        session=session,  # type: ignore[arg-type]
        clock=clock or FakeClock(),
        retry=no_wait_retry(),
        label=LABEL,
    )


def test_rotated_refresh_token_is_saved_before_the_access_token_is_returned() -> None:
    store = MemoryTokenStore()
    session = FakeTokenSession(token_reply("at-1", refresh="rt-rotated-0002"))
    auth = refresh_auth(session, store)
    saved_when_fetched: list[Optional[dict[str, Any]]] = []
    original = auth.fetch_token

    def spy() -> Any:
        token = original()
        saved_when_fetched.append(store.load("salesforce:prod"))
        return token

    auth.fetch_token = spy  # type: ignore[method-assign]
    prepared(auth)

    record = saved_when_fetched[0]
    assert record is not None
    assert record["refresh_token"] == "rt-rotated-0002"
    assert record["origin"] == refresh_token_fingerprint(CONFIGURED_RT)
    assert session.posts[0]["data"] == {
        "grant_type": "refresh_token",
        "refresh_token": CONFIGURED_RT,
    }


def test_next_refresh_uses_the_rotated_token() -> None:
    clock = FakeClock()
    store = MemoryTokenStore()
    session = FakeTokenSession(
        token_reply("at-1", refresh="rt-rotated-0002"),
        token_reply("at-2", refresh="rt-rotated-0003"),
    )
    auth = refresh_auth(session, store, clock=clock)
    prepared(auth)

    clock.now += 3600
    prepared(auth)

    assert session.posts[1]["data"]["refresh_token"] == "rt-rotated-0002"
    assert store.load("salesforce:prod")["refresh_token"] == "rt-rotated-0003"  # type: ignore[index]


@pytest.mark.parametrize(
    ("stored_origin", "expected_sent"),
    [
        (refresh_token_fingerprint(CONFIGURED_RT), "rt-stored-0009"),
        (refresh_token_fingerprint("rt-an-older-configured-one"), CONFIGURED_RT),
        (None, CONFIGURED_RT),
    ],
    ids=["stored-descends-from-config", "config-was-replaced", "record-without-origin"],
)
def test_stored_token_wins_only_while_it_descends_from_the_configured_one(
    stored_origin: Optional[str], expected_sent: str
) -> None:
    record: dict[str, Any] = {"refresh_token": "rt-stored-0009"}
    if stored_origin is not None:
        record["origin"] = stored_origin
    store = MemoryTokenStore({"salesforce:prod": record})
    session = FakeTokenSession(token_reply("at-1"))
    auth = refresh_auth(session, store)

    prepared(auth)

    assert session.posts[0]["data"]["refresh_token"] == expected_sent


def test_server_that_does_not_rotate_leaves_the_store_alone() -> None:
    store = MemoryTokenStore()
    auth = refresh_auth(FakeTokenSession(token_reply("at-1", refresh=CONFIGURED_RT)), store)

    prepared(auth)

    assert store.saves == 0


@pytest.mark.parametrize(
    "refusal",
    [
        reply(400, {"error": "invalid_grant", "error_description": "expired"}),
        reply(200, {"ok": False, "error": "invalid_refresh_token"}),
    ],
    ids=["rfc-6749-invalid-grant", "slack-200-ok-false"],
)
def test_revoked_refresh_token_raises_a_one_line_authentication_error(refusal: Response) -> None:
    session = FakeTokenSession(refusal)
    auth = refresh_auth(session, MemoryTokenStore())

    with pytest.raises(AuthenticationError) as caught:
        prepared(auth)

    assert str(caught.value) == (
        "Salesforce refresh token was revoked or expired: re-authorize and set "
        "sources.salesforce.credentials.refresh_token"
    )
    assert CONFIGURED_RT not in repr(caught.value)


class BrokenStore(MemoryTokenStore):
    def save(self, key: str, data: Any) -> None:
        raise PermissionError(13, "Permission denied")


def test_unsaveable_rotated_token_stops_the_run() -> None:
    auth = refresh_auth(
        FakeTokenSession(token_reply("at-1", refresh="rt-rotated-0002")), BrokenStore()
    )

    with pytest.raises(ConfigurationError, match="token store writable") as caught:
        prepared(auth)
    assert "rt-rotated-0002" not in str(caught.value)


@pytest.mark.parametrize(
    "auth_factory",
    [
        lambda: client_credentials(FakeTokenSession(), FakeClock()),
        lambda: refresh_auth(FakeTokenSession(), MemoryTokenStore()),
    ],
    ids=["client-credentials", "refresh-token"],
)
def test_repr_holds_no_secret(auth_factory: Callable[[], requests.auth.AuthBase]) -> None:
    text = repr(auth_factory()) + str(auth_factory())

    assert SECRET not in text
    assert CONFIGURED_RT not in text
    assert "client-1" in text
