"""ResilientSession over a scripted transport adapter (no network)."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import requests
from dlt.sources.helpers.rest_client import RESTClient
from requests.exceptions import ChunkedEncodingError

from sources.kit.circuit import OPEN, CircuitRegistry
from sources.kit.errors import (
    CircuitOpenError,
    ConfigurationError,
    RetryBudgetExhaustedError,
    ServerError,
    TooManyRedirectsError,
    TransientNetworkError,
    UnsafeRedirectError,
    error_from_response,
)
from sources.kit.http import HttpSettings, ResilientSession
from sources.kit.ratelimit import RateLimit, RateLimiter
from sources.kit.redact import Redactor
from tests.unit._kit_fakes import FakeClock, ScriptedAdapter, Step, make_response

SECRET = "sk_test_httpSECRETvalue99"
BASE = "https://api.example.com"
AUTH = {"Authorization": f"Bearer {SECRET}"}


def make_session(
    steps: Sequence[Step],
    *,
    clock: FakeClock | None = None,
    settings: HttpSettings | None = None,
    **kwargs: Any,
) -> tuple[ResilientSession, ScriptedAdapter, FakeClock]:
    clock = clock or FakeClock()
    session = ResilientSession(
        integration="toy",
        settings=settings or HttpSettings(jitter="none"),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(1),
        redactor=Redactor([SECRET]),
        **kwargs,
    )
    adapter = ScriptedAdapter(steps)
    session.mount("https://", adapter)
    return session, adapter, clock


def ok(body: Any = None, **kwargs: Any) -> requests.Response:
    return make_response(200, body=body if body is not None else {"ok": True}, **kwargs)


def status(code: int, headers: dict[str, str] | None = None) -> requests.Response:
    return make_response(code, body={"error": {"message": f"status {code}"}}, headers=headers)


def redirect(code: int, location: str) -> requests.Response:
    return make_response(code, headers={"Location": location})


# -- basics ---------------------------------------------------------------------------


def test_success_uses_default_timeout_and_user_agent() -> None:
    session, adapter, _ = make_session([ok()])
    response = session.get(f"{BASE}/v1/a")
    assert response.status_code == 200
    assert adapter.kwargs[0]["timeout"] == (10.0, 60.0)
    assert adapter.requests[0].headers["User-Agent"] == "sluice/0.1"
    assert session.total_stats()["requests"] == 1


def test_explicit_timeout_is_kept() -> None:
    session, adapter, _ = make_session([ok()])
    session.get(f"{BASE}/v1/a", timeout=3)
    assert adapter.kwargs[0]["timeout"] == 3


def test_adapters_have_no_urllib3_retries_and_pool_size() -> None:
    session = ResilientSession(integration="toy", settings=HttpSettings(pool_maxsize=7))
    adapter = session.get_adapter(f"{BASE}/x")
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    assert adapter.max_retries.total == 0
    assert adapter._pool_maxsize == 7  # type: ignore[attr-defined]


def test_repr_has_no_secrets() -> None:
    session, _, _ = make_session([ok()])
    session.headers.update(AUTH)
    assert SECRET not in repr(session)


# -- retries --------------------------------------------------------------------------


def test_retries_5xx_with_exponential_backoff() -> None:
    session, adapter, clock = make_session([status(503), status(502), ok()])
    response = session.get(f"{BASE}/v1/a")
    assert response.status_code == 200
    assert len(adapter.requests) == 3
    assert clock.sleeps == [0.5, 1.0]
    stats = session.total_stats()
    assert (stats["retries"], stats["server_errors"], stats["requests"]) == (2, 2, 3)


def test_429_waits_for_retry_after() -> None:
    session, _, clock = make_session([status(429, {"Retry-After": "4"}), ok()])
    assert session.get(f"{BASE}/v1/a").status_code == 200
    assert clock.sleeps == [4.0]
    assert session.total_stats()["throttled_429"] == 1


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422], ids=lambda c: str(c))
def test_other_4xx_are_returned_at_once(code: int) -> None:
    session, adapter, clock = make_session([status(code), ok()])
    assert session.get(f"{BASE}/v1/a").status_code == code
    assert len(adapter.requests) == 1 and clock.sleeps == []
    assert session.total_stats()["client_errors"] == 1


def test_should_retry_header_false_stops_retry_on_5xx() -> None:
    settings = HttpSettings(jitter="none", should_retry_header="Stripe-Should-Retry")
    session, adapter, _ = make_session(
        [status(500, {"Stripe-Should-Retry": "false"}), ok()], settings=settings
    )
    assert session.get(f"{BASE}/v1/a").status_code == 500
    assert len(adapter.requests) == 1


def test_exhausted_attempts_return_last_response() -> None:
    settings = HttpSettings(jitter="none", max_attempts=3)
    session, adapter, clock = make_session([status(503)], settings=settings)
    response = session.get(f"{BASE}/v1/a")
    assert response.status_code == 503
    assert len(adapter.requests) == 3
    assert clock.sleeps == [0.5, 1.0]


def test_exhausted_attempts_on_exception_raise_redacted_transient_error() -> None:
    settings = HttpSettings(jitter="none", max_attempts=2)
    failure = requests.ConnectionError(f"cannot reach {BASE}/v1/a?api_key={SECRET}")
    session, adapter, _ = make_session([failure], settings=settings)
    with pytest.raises(TransientNetworkError) as raised:
        session.get(f"{BASE}/v1/a", params={"api_key": SECRET})
    assert raised.value.__cause__ is failure
    assert SECRET not in str(raised.value)
    assert "failed after 2 attempt(s)" in str(raised.value)
    assert len(adapter.requests) == 2
    assert session.total_stats()["connection_errors"] == 2


@pytest.mark.parametrize(
    ("failure", "counter"),
    [
        (requests.ReadTimeout("read timed out"), "timeouts"),
        (requests.ConnectTimeout("connect timed out"), "timeouts"),
        (requests.ConnectionError("refused"), "connection_errors"),
        (ChunkedEncodingError("Connection broken: IncompleteRead"), "connection_errors"),
    ],
    ids=["read-timeout", "connect-timeout", "refused", "dropped-mid-body"],
)
def test_network_failures_are_retried_and_counted(failure: Exception, counter: str) -> None:
    session, adapter, _ = make_session([failure, ok()])
    assert session.get(f"{BASE}/v1/a").status_code == 200
    assert len(adapter.requests) == 2
    assert session.total_stats()[counter] == 1


def test_non_transient_send_error_is_a_configuration_error() -> None:
    session, adapter, _ = make_session([requests.exceptions.InvalidURL("bad url")])
    with pytest.raises(ConfigurationError, match="cannot send GET"):
        session.get(f"{BASE}/v1/a")
    assert len(adapter.requests) == 1


# -- hooks and the caller's request ----------------------------------------------------


def test_response_hooks_run_once_on_the_final_response() -> None:
    seen: list[int] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append(response.status_code)
        if response.status_code >= 400:
            raise error_from_response(response)

    session, _, _ = make_session([status(503), status(500), ok()])
    session.get(f"{BASE}/v1/a", hooks={"response": [hook]})
    assert seen == [200]


def test_hook_raises_after_last_attempt() -> None:
    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code >= 400:
            raise error_from_response(response)

    settings = HttpSettings(jitter="none", max_attempts=2)
    session, _, _ = make_session([status(503)], settings=settings)
    with pytest.raises(ServerError, match="HTTP 503"):
        session.get(f"{BASE}/v1/a", hooks={"response": [hook]})


def test_post_gets_one_idempotency_key_for_all_retries_and_keeps_body() -> None:
    session, adapter, _ = make_session([status(503), status(503), ok()])
    prepared = session.prepare_request(
        requests.Request("POST", f"{BASE}/v1/charges", json={"amount": 5})
    )
    session.send(prepared)
    keys = {r.headers["Idempotency-Key"] for r in adapter.requests}
    bodies = {r.body for r in adapter.requests}
    assert len(keys) == 1 and len(adapter.requests) == 3
    assert bodies == {b'{"amount": 5}'}
    assert "Idempotency-Key" not in prepared.headers


def test_existing_idempotency_key_is_kept_and_get_gets_none() -> None:
    session, adapter, _ = make_session([ok()])
    session.post(f"{BASE}/v1/a", headers={"Idempotency-Key": "mine"})
    session.get(f"{BASE}/v1/a")
    assert adapter.requests[0].headers["Idempotency-Key"] == "mine"
    assert "Idempotency-Key" not in adapter.requests[1].headers


def test_idempotency_keys_are_deterministic_with_seeded_rng() -> None:
    first, adapter_a, _ = make_session([ok()])
    second, adapter_b, _ = make_session([ok()])
    first.post(f"{BASE}/v1/a")
    second.post(f"{BASE}/v1/a")
    key = adapter_a.requests[0].headers["Idempotency-Key"]
    assert key == adapter_b.requests[0].headers["Idempotency-Key"]
    assert len(key) == 36 and key[14] == "4"


def test_generator_body_is_not_retried() -> None:
    session, adapter, _ = make_session([status(503), ok()])
    response = session.put(f"{BASE}/v1/a", data=(chunk for chunk in [b"a", b"b"]))
    assert response.status_code == 503
    assert len(adapter.requests) == 1


# -- breaker and budget ---------------------------------------------------------------


def test_breaker_opens_within_one_requests_retries_and_fails_fast() -> None:
    session, adapter, clock = make_session([status(503)])
    with pytest.raises(CircuitOpenError, match="5 consecutive failure"):
        session.get(f"{BASE}/v1/a")
    assert len(adapter.requests) == 5
    assert len(clock.sleeps) == 4
    assert session.breakers.get("toy", "api.example.com").state == OPEN
    assert session.total_stats()["circuit_trips"] == 1
    with pytest.raises(CircuitOpenError):
        session.get(f"{BASE}/v1/b")
    assert len(adapter.requests) == 5


def test_breaker_recovers_after_timeout() -> None:
    settings = HttpSettings(jitter="none", max_attempts=3)
    clock = FakeClock()
    breakers = CircuitRegistry(failure_threshold=2, recovery_timeout=10.0, clock=clock)
    session, adapter, _ = make_session(
        [status(500), status(500), ok()], clock=clock, settings=settings, breakers=breakers
    )
    with pytest.raises(CircuitOpenError):
        session.get(f"{BASE}/v1/a")
    assert len(adapter.requests) == 2
    clock.advance(10.0)
    assert session.get(f"{BASE}/v1/a").status_code == 200
    assert breakers.get("toy", "api.example.com").state == "closed"


@pytest.mark.parametrize("code", [404, 429], ids=["4xx", "429"])
def test_4xx_and_429_do_not_count_as_breaker_failures(code: int) -> None:
    settings = HttpSettings(jitter="none", max_attempts=1, breaker_failure_threshold=2)
    session, _, _ = make_session([status(code)], settings=settings)
    for _ in range(4):
        session.get(f"{BASE}/v1/a")
    assert session.breakers.get("toy", "api.example.com").state == "closed"


def test_retry_budget_is_shared_by_labels_and_raises_when_spent() -> None:
    settings = HttpSettings(jitter="none", retry_budget=2, breaker_failure_threshold=100)
    session, adapter, _ = make_session([status(503), ok()], settings=settings)
    customers = session.for_label("customers")
    assert customers.get(f"{BASE}/v1/a").status_code == 200
    adapter.steps = [status(503)]
    invoices = session.for_label("invoices")
    with pytest.raises(RetryBudgetExhaustedError, match="retry budget of 2"):
        invoices.get(f"{BASE}/v1/b")
    assert session.retry_policy.budget.remaining == 0


# -- rate limiter ---------------------------------------------------------------------


def test_limiter_paces_requests_and_wait_is_counted() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_second=10), clock=clock, sleep=clock.sleep)
    session, _, _ = make_session([ok()], clock=clock, rate_limiter=limiter)
    for _ in range(3):
        session.get(f"{BASE}/v1/a")
    assert clock.sleeps == pytest.approx([0.1, 0.1])
    assert session.total_stats()["rate_limit_wait_s"] == pytest.approx(0.2)


def test_limiter_observes_responses() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_second=10), clock=clock, sleep=clock.sleep)
    session, _, _ = make_session([status(429), ok()], clock=clock, rate_limiter=limiter)
    session.get(f"{BASE}/v1/a")
    assert limiter.current_rate() == pytest.approx(7.0)


# -- hosts and redirects --------------------------------------------------------------


def test_credentials_to_unlisted_host_are_refused() -> None:
    settings = HttpSettings(jitter="none", allowed_hosts=("api.example.com",))
    session, adapter, _ = make_session([ok()], settings=settings)
    with pytest.raises(UnsafeRedirectError, match="evil.example.net"):
        session.get("https://evil.example.net/next?page=2", headers=AUTH)
    assert adapter.requests == []
    assert session.get("https://evil.example.net/public").status_code == 200


def test_same_host_redirect_keeps_credentials() -> None:
    session, adapter, _ = make_session([redirect(302, "/v1/moved"), ok()])
    response = session.get(f"{BASE}/v1/a", headers=AUTH)
    assert response.status_code == 200
    assert [r.url for r in adapter.requests] == [f"{BASE}/v1/a", f"{BASE}/v1/moved"]
    assert adapter.requests[1].headers["Authorization"] == AUTH["Authorization"]
    assert [r.status_code for r in response.history] == [302]


def test_cross_host_redirect_strips_credentials() -> None:
    settings = HttpSettings(jitter="none", allowed_hosts=("api.example.com",))
    session, adapter, _ = make_session(
        [redirect(307, "https://files.other.net/f?token=abc&x=1"), ok()], settings=settings
    )
    session.get(f"{BASE}/v1/a", headers={**AUTH, "Cookie": "s=1"})
    follow = adapter.requests[1]
    assert follow.url == "https://files.other.net/f?x=1"
    assert "Authorization" not in follow.headers and "Cookie" not in follow.headers


def test_too_many_redirects() -> None:
    session, adapter, _ = make_session([redirect(302, "/v1/loop")])
    with pytest.raises(TooManyRedirectsError, match="more than 5 redirects"):
        session.get(f"{BASE}/v1/a")
    assert len(adapter.requests) == 6


def test_allow_redirects_false_returns_the_redirect() -> None:
    session, adapter, _ = make_session([redirect(302, "/v1/moved")])
    assert session.get(f"{BASE}/v1/a", allow_redirects=False).status_code == 302
    assert len(adapter.requests) == 1


# -- labels and stats -----------------------------------------------------------------


def test_labels_count_separately_and_into_totals() -> None:
    session, _, _ = make_session([ok(body={"data": [1, 2]})])
    customers = session.for_label("customers")
    invoices = session.for_label("invoices")
    customers.get(f"{BASE}/v1/customers")
    customers.get(f"{BASE}/v1/customers")
    invoices.get(f"{BASE}/v1/invoices")
    by_label = invoices.stats_by_label()
    assert {k: v["requests"] for k, v in by_label.items()} == {"customers": 2, "invoices": 1}
    assert customers.total_stats()["requests"] == 3
    assert session.total_stats()["bytes_received"] == 3 * len(b'{"data": [1, 2]}')
    assert customers.rate_limiter is session.rate_limiter
    assert customers.breakers is session.breakers
    assert customers.retry_policy is session.retry_policy
    assert customers.redactor is session.redactor
    assert customers.root is session


def test_same_label_twice_shares_its_counters() -> None:
    session, _, _ = make_session([ok()])
    session.for_label("a").get(f"{BASE}/v1/a")
    session.for_label("a").get(f"{BASE}/v1/a")
    assert session.stats_by_label()["a"]["requests"] == 2


# -- logging --------------------------------------------------------------------------


@pytest.fixture
def http_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="sluice.http"):
        yield caplog


def test_logs_one_debug_line_per_attempt_and_warning_per_retry(
    http_logs: pytest.LogCaptureFixture,
) -> None:
    session, _, _ = make_session([status(503), ok()])
    session.get(f"{BASE}/v1/a", params={"api_key": SECRET}, headers=AUTH)
    records = [r for r in http_logs.records if r.name == "sluice.http"]
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(debug) == 2 and len(warnings) == 1
    assert "-> 503 in" in debug[0] and "(attempt 1/8)" in debug[0]
    assert "retrying in 0.50 s (attempt 2/8)" in warnings[0]
    assert all(SECRET not in line for line in debug + warnings)
    assert "api_key=***" in debug[0]


# -- with dlt's RESTClient ------------------------------------------------------------


def test_rest_client_paginates_through_resilient_session() -> None:
    from sources.kit.pagination import StartingAfterPaginator

    pages = [
        status(503),
        ok(body={"data": [{"id": "a"}, {"id": "b"}], "has_more": True}),
        ok(body={"data": [{"id": "c"}], "has_more": False}),
    ]
    session, adapter, _ = make_session(pages)
    client = RESTClient(
        base_url=BASE,
        session=session,
        paginator=StartingAfterPaginator(),
        data_selector="data",
        headers=AUTH,
    )
    items = [item["id"] for page in client.paginate("/v1/customers") for item in page]
    assert items == ["a", "b", "c"]
    assert adapter.requests[-1].url == f"{BASE}/v1/customers?starting_after=b"


def test_signing_auth_signs_every_retry_afresh() -> None:
    from sources.kit.auth import OAuth1HmacSha256

    nonces = iter(f"nonce{i}" for i in range(10))
    auth = OAuth1HmacSha256(
        "ck",
        "cs_secret",
        "tk",
        "ts_secret",
        realm="123",
        clock=lambda: 1_700_000_000,
        nonce_factory=lambda: next(nonces),
    )
    session, adapter, _ = make_session([status(503), status(503), ok()])
    prepared = session.prepare_request(
        requests.Request("GET", f"{BASE}/services/rest/record", auth=auth)
    )

    assert session.send(prepared).status_code == 200

    signatures = [r.headers["Authorization"] for r in adapter.requests]
    assert len(signatures) == 3 and len(set(signatures)) == 3
    assert all('oauth_nonce="nonce' in s for s in signatures)
