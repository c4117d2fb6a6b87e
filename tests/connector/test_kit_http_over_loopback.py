"""ResilientSession over real HTTP on 127.0.0.1: retries, timeouts, drops, redirects."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from dlt.sources.helpers.rest_client import RESTClient

from sources.kit.errors import (
    CircuitOpenError,
    ClientError,
    TransientNetworkError,
    UnsafeRedirectError,
    error_from_response,
)
from sources.kit.http import HttpSettings, ResilientSession
from sources.kit.pagination import StartingAfterPaginator
from sources.kit.ratelimit import RateLimit, RateLimiter
from sources.kit.redact import Redactor
from tests.connector._toy_server import (
    ToyServer,
    drop,
    echo,
    hang,
    redirect,
    running_server,
    send_json,
    truncate,
)
from tests.unit._kit_fakes import FakeClock

SECRET = "sk_test_loopbackSECRET42"
AUTH = {"Authorization": f"Bearer {SECRET}"}
OK = send_json(200, {"ok": True})


@pytest.fixture
def server() -> Iterator[ToyServer]:
    with running_server() as toy:
        yield toy


@pytest.fixture
def other_server() -> Iterator[ToyServer]:
    with running_server() as toy:
        yield toy


def make_session(**settings: Any) -> tuple[ResilientSession, FakeClock]:
    clock = FakeClock()
    options: dict[str, Any] = {"jitter": "none", "connect_timeout": 2.0, "read_timeout": 2.0}
    options.update(settings)
    session = ResilientSession(
        integration="toy",
        settings=HttpSettings(**options),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(4),
        redactor=Redactor([SECRET]),
    )
    return session, clock


def raise_for_status(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    if response.status_code >= 400:
        raise error_from_response(response)


def test_retries_server_errors_over_http(server: ToyServer) -> None:
    server.script("/flaky", send_json(503, {}), send_json(500, {}), OK)
    session, clock = make_session()
    response = session.get(server.url("/flaky"))
    assert response.json() == {"ok": True}
    assert len(server.hits("/flaky")) == 3
    assert clock.sleeps == [0.5, 1.0]


def test_honours_retry_after_over_http(server: ToyServer) -> None:
    server.script("/limited", send_json(429, {}, {"Retry-After": "3"}), OK)
    session, clock = make_session()
    assert session.get(server.url("/limited")).status_code == 200
    assert clock.sleeps == [3.0]


def test_read_timeout_is_retried(server: ToyServer) -> None:
    server.script("/slow", hang(), OK)
    session, _ = make_session(read_timeout=0.05)
    started = time.monotonic()
    assert session.get(server.url("/slow")).status_code == 200
    assert time.monotonic() - started < 1.5
    assert session.total_stats()["timeouts"] == 1


def test_connection_closed_without_response_is_retried(server: ToyServer) -> None:
    server.script("/drop", drop(), OK)
    session, _ = make_session()
    assert session.get(server.url("/drop")).status_code == 200
    assert session.total_stats()["connection_errors"] == 1
    assert len(server.hits("/drop")) == 2


def test_connection_dropped_mid_body_is_retried(server: ToyServer) -> None:
    server.script("/truncated", truncate(), send_json(200, {"whole": True}))
    session, _ = make_session()
    assert session.get(server.url("/truncated")).json() == {"whole": True}
    assert session.total_stats()["connection_errors"] == 1


def test_persistent_drops_raise_transient_error(server: ToyServer) -> None:
    server.script("/down", drop())
    session, _ = make_session(max_attempts=3, breaker_failure_threshold=10)
    with pytest.raises(TransientNetworkError, match="failed after 3 attempt"):
        session.get(server.url("/down"), params={"api_key": SECRET})
    assert len(server.hits("/down")) == 3


def test_refused_connection_is_retried_then_raises() -> None:
    with running_server() as toy:
        url = toy.url("/gone")
    session, clock = make_session(max_attempts=2)
    with pytest.raises(TransientNetworkError) as raised:
        session.get(url)
    assert SECRET not in str(raised.value)
    assert clock.sleeps == [0.5]


def test_breaker_opens_on_a_failing_host(server: ToyServer) -> None:
    server.script("/broken", send_json(502, {}))
    session, _ = make_session()
    with pytest.raises(CircuitOpenError, match="toy 127.0.0.1"):
        session.get(server.url("/broken"))
    assert len(server.hits("/broken")) == 5


def test_post_retries_carry_one_idempotency_key_and_the_same_body(server: ToyServer) -> None:
    server.script("/charges", send_json(503, {}), drop(), echo())
    session, _ = make_session()
    response = session.post(server.url("/charges"), json={"amount": 100})
    hits = server.hits("/charges")
    keys = {hit.headers["Idempotency-Key"] for hit in hits}
    assert len(hits) == 3 and len(keys) == 1
    assert {hit.body for hit in hits} == {b'{"amount": 100}'}
    assert response.json()["body"] == '{"amount": 100}'


def test_same_host_redirect_keeps_credentials(server: ToyServer) -> None:
    server.script("/old", redirect(302, "/new"))
    server.script("/new", echo())
    session, _ = make_session(allowed_hosts=("127.0.0.1",))
    response = session.get(server.url("/old"), headers=AUTH)
    assert response.json()["headers"]["Authorization"] == AUTH["Authorization"]
    assert [r.status_code for r in response.history] == [302]


def test_cross_origin_redirect_strips_credentials(
    server: ToyServer, other_server: ToyServer
) -> None:
    server.script("/export", redirect(307, other_server.url("/blob?token=abc&part=1")))
    other_server.script("/blob", echo())
    session, _ = make_session(allowed_hosts=("127.0.0.1",))
    response = session.get(server.url("/export"), headers={**AUTH, "Cookie": "sid=1"})
    received = other_server.hits("/blob")[0]
    assert "Authorization" not in received.headers and "Cookie" not in received.headers
    assert received.path == "/blob?part=1"
    assert response.status_code == 200


def test_credentials_are_never_sent_to_an_unlisted_host(server: ToyServer) -> None:
    server.script("/next", OK)
    session, _ = make_session(allowed_hosts=("api.example.com",))
    with pytest.raises(UnsafeRedirectError, match="refusing to send credentials to 127.0.0.1"):
        session.get(server.url("/next"), headers=AUTH)
    assert server.hits("/next") == []


def test_rest_client_pages_with_retries_and_hooks(server: ToyServer) -> None:
    def customers(handler: Any) -> None:
        after = "starting_after=cus_2" in handler.path
        if after:
            send_json(200, {"data": [{"id": "cus_3"}], "has_more": False})(handler)
        else:
            send_json(200, {"data": [{"id": "cus_1"}, {"id": "cus_2"}], "has_more": True})(handler)

    server.script("/v1/customers", send_json(503, {}), customers)
    server.script("/v1/missing", send_json(404, {"error": {"message": "No such thing"}}))
    session, _ = make_session()
    client = RESTClient(
        base_url=server.url(""),
        session=session.for_label("customers"),
        paginator=StartingAfterPaginator(),
        data_selector="data",
        headers=AUTH,
    )
    hooks: Any = {"response": [raise_for_status]}
    ids = [item["id"] for page in client.paginate("/v1/customers", hooks=hooks) for item in page]
    assert ids == ["cus_1", "cus_2", "cus_3"]
    with pytest.raises(ClientError, match="No such thing"):
        list(client.paginate("/v1/missing", hooks=hooks))
    assert session.stats_by_label()["customers"]["requests"] == 4


def test_shared_limiter_paces_threads_over_http(server: ToyServer) -> None:
    rate, workers, per_worker = 200.0, 4, 5
    server.script("/paced", OK)
    limiter = RateLimiter(RateLimit(per_second=rate))
    root = ResilientSession(
        integration="toy", settings=HttpSettings(jitter="none"), rate_limiter=limiter
    )

    def work(label: str) -> None:
        session = root.for_label(label)
        for _ in range(per_worker):
            session.get(server.url("/paced"))

    threads = [threading.Thread(target=work, args=(f"r{i}",)) for i in range(workers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    total = workers * per_worker
    assert len(server.hits("/paced")) == total
    assert elapsed >= (total - 1) / rate
    assert root.total_stats()["requests"] == total
