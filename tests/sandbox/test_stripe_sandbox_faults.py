"""Stripe sandbox fault injection over HTTP and its control endpoints."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.stripe import Faults, StripeSandbox

from .conftest import StripeHttp


def statuses(http: StripeHttp, count: int, path: str = "/v1/customers") -> list[int]:
    return [http.get(path).status_code for _ in range(count)]


def test_error_rate_answers_5xx_api_errors(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox
) -> None:
    stripe_sandbox.set_faults(error_rate=1.0)

    responses = [stripe_http.get("/v1/customers") for _ in range(16)]

    assert {r.status_code for r in responses} <= {500, 502, 503}
    assert all(r.json()["error"]["type"] == "api_error" for r in responses)
    assert all(r.headers["Request-Id"].startswith("req_") for r in responses)
    retryable = [r for r in responses if r.status_code in (500, 503)]
    flagged = [r.headers.get("Stripe-Should-Retry") for r in retryable]
    assert "true" in flagged and None in flagged  # half the time, deterministically
    assert stripe_sandbox.stats.injected_errors == 16


def test_injected_errors_come_before_authentication(stripe_sandbox: StripeSandbox) -> None:
    stripe_sandbox.set_faults(error_rate=1.0)

    response = requests.get(f"{stripe_sandbox.base_url}/v1/customers", timeout=5)

    assert response.status_code >= 500


@pytest.mark.parametrize(
    "status, error_type, code",
    [
        (500, "api_error", None),
        (503, "api_error", None),
        (409, "invalid_request_error", "lock_timeout"),
    ],
    ids=["500", "503", "409-lock-timeout"],
)
def test_fail_next_answers_exactly_n_errors(
    stripe_http: StripeHttp,
    stripe_sandbox: StripeSandbox,
    status: int,
    error_type: str,
    code: str | None,
) -> None:
    stripe_sandbox.fail_next(2, status=status)

    responses = [stripe_http.get("/v1/products") for _ in range(3)]

    assert [r.status_code for r in responses] == [status, status, 200]
    error = responses[0].json()["error"]
    assert (error["type"], error.get("code")) == (error_type, code)
    if status == 409:
        assert responses[0].headers["Stripe-Should-Retry"] == "true"


def test_lock_timeout_rate(stripe_http: StripeHttp, stripe_sandbox: StripeSandbox) -> None:
    stripe_sandbox.set_faults(lock_timeout_rate=1.0)

    response = stripe_http.get("/v1/invoices")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "lock_timeout"
    assert response.headers["Stripe-Should-Retry"] == "true"


def test_drop_next_resets_the_connection_without_a_response(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox
) -> None:
    stripe_sandbox.drop_next(1)

    with pytest.raises(requests.ConnectionError):
        stripe_http.get("/v1/customers")
    after = stripe_http.get("/v1/customers")

    assert after.status_code == 200
    assert stripe_sandbox.stats.dropped == 1
    assert stripe_sandbox.stats.requests == 2


def test_drop_rate_drops_every_request_at_1(stripe_sandbox: StripeSandbox) -> None:
    stripe_sandbox.set_faults(drop_rate=1.0)
    url = f"{stripe_sandbox.base_url}/v1/customers"

    for _ in range(3):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, auth=(stripe_sandbox.api_key, ""), timeout=5)

    assert stripe_sandbox.stats.dropped == 3


def test_stall_outlasts_the_client_timeout_without_blocking_others(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox
) -> None:
    stripe_sandbox.set_faults(stall_rate=1.0, stall_seconds=0.3)
    outcome: list[Any] = []

    def stalled_call() -> None:
        try:
            requests.get(
                f"{stripe_sandbox.base_url}/v1/customers",
                auth=(stripe_sandbox.api_key, ""),
                timeout=(1, 0.1),
            )
        except requests.exceptions.ReadTimeout as error:
            outcome.append(error)

    caller = threading.Thread(target=stalled_call)
    caller.start()
    deadline = time.monotonic() + 2
    while stripe_sandbox.stats.stalled == 0 and time.monotonic() < deadline:
        time.sleep(0.002)
    stripe_sandbox.set_faults(stall_rate=0.0)
    started = time.monotonic()
    response = stripe_http.get("/v1/customers")
    elapsed = time.monotonic() - started
    caller.join()

    assert response.status_code == 200
    assert elapsed < 0.25  # answered while the other request is still stalled
    assert len(outcome) == 1
    assert stripe_sandbox.stats.stalled == 1


def test_latency_is_added_to_every_request(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
) -> None:
    waits: list[float] = []
    sandbox = stripe_sandbox_factory(faults=Faults(latency_ms=40), sleep=waits.append)
    http = StripeHttp(sandbox)

    http.get("/v1/customers")
    http.get("/v1/customers/cus_unknown")

    assert waits == [0.04, 0.04]


def test_malformed_records_are_recorded_and_broken(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox
) -> None:
    stripe_sandbox.set_faults(malformed_rate=0.3)
    stored = {c["id"]: c for c in stripe_sandbox.store.listable("charges")}

    records = stripe_http.get("/v1/charges", params={"limit": 100}).json()["data"]

    corrupted = stripe_sandbox.stats.malformed_ids
    intact = [r for r in records if r.get("id") in stored and r["id"] not in corrupted]
    broken = [r for r in records if r.get("id") not in stored or r["id"] in corrupted]
    assert corrupted and corrupted <= set(stored)
    assert len(broken) == len(corrupted)
    assert all(r == stored[r["id"]] for r in intact)
    assert all(is_malformed(r) for r in broken)
    assert stripe_sandbox.store.listable("charges") == list(stored.values())  # store untouched


def is_malformed(record: dict[str, Any]) -> bool:
    return (
        "id" not in record
        or isinstance(record["created"], str)
        or isinstance(record.get("amount"), str)
        or isinstance(record.get("metadata"), list)
    )


def test_faults_are_deterministic_for_a_seed(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
) -> None:
    runs = []
    for _ in range(2):
        sandbox = stripe_sandbox_factory(faults=Faults(error_rate=0.5))
        runs.append(statuses(StripeHttp(sandbox), 12))

    assert runs[0] == runs[1]
    assert 200 in runs[0] and any(status >= 500 for status in runs[0])


def test_fault_switches_are_validated(stripe_sandbox: StripeSandbox) -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    with pytest.raises(TypeError, match="bogus"):
        stripe_sandbox.set_faults(bogus=1)


def test_control_endpoints_switch_faults_and_are_never_faulted(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox
) -> None:
    control = f"{stripe_sandbox.base_url}/_sandbox"

    switched = requests.post(
        f"{control}/faults", json={"error_rate": 1.0, "drop_rate": 0.0}, timeout=5
    )
    faulted = stripe_http.get("/v1/customers")
    stats = requests.get(f"{control}/stats", timeout=5)
    requests.post(
        f"{control}/faults", json={"error_rate": 0.0, "fail_next": 1, "fail_status": 502}, timeout=5
    )
    after = statuses(stripe_http, 2)
    reset = requests.post(f"{control}/reset-stats", timeout=5)
    invalid = requests.post(f"{control}/faults", json={"error_rate": 7}, timeout=5)

    assert switched.status_code == 200 and switched.json()["error_rate"] == 1.0
    assert faulted.status_code >= 500
    assert stats.status_code == 200 and stats.json()["injected_errors"] == 1
    assert after == [502, 200]
    assert reset.status_code == 200 and stripe_sandbox.stats.requests == 0
    assert invalid.status_code == 400


def test_stats_count_requests_paths_and_statuses(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox
) -> None:
    stripe_http.get("/v1/customers")
    stripe_http.get("/v1/customers")
    stripe_http.get("/v1/charges/ch_missing")

    stats = stripe_sandbox.stats
    assert stats.requests == 3
    assert stats.by_path["/v1/customers"] == 2
    assert stats.status_counts == {200: 2, 404: 1}
    stats.reset()
    assert (stats.requests, stats.by_path, stats.malformed_ids) == (0, {}, set())


def test_internal_failures_answer_500_instead_of_resetting(
    stripe_http: StripeHttp, stripe_sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(list_name: str) -> list[Any]:
        raise RuntimeError("bug")

    monkeypatch.setattr(stripe_sandbox.store, "sorted_entries", broken)

    response = stripe_http.get("/v1/customers")

    assert response.status_code == 500
    assert response.json()["error"]["type"] == "api_error"
