"""Stripe sandbox authentication and rate limiting over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from sandbox.stripe import StripeSandbox
from sandbox.stripe.auth import mask_key

SECRET_TAIL = "Zx9Qw7Er5Ty3"
TEST_KEY = f"sk_test_{SECRET_TAIL}abcd"
LIVE_KEY = f"sk_live_{SECRET_TAIL}wxyz"


def get_customers(sandbox: StripeSandbox, **kwargs: object) -> requests.Response:
    return requests.get(f"{sandbox.base_url}/v1/customers", timeout=5, **kwargs)  # type: ignore[arg-type]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_bearer_and_basic_auth_are_accepted(stripe_sandbox: StripeSandbox) -> None:
    by_bearer = get_customers(stripe_sandbox, headers=bearer(stripe_sandbox.api_key))
    by_basic = get_customers(stripe_sandbox, auth=(stripe_sandbox.api_key, ""))

    assert (by_bearer.status_code, by_basic.status_code) == (200, 200)
    assert by_bearer.json() == by_basic.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Token sk_test_sandbox"}],
    ids=["no-header", "empty-bearer", "unknown-scheme"],
)
def test_missing_key_is_a_401(stripe_sandbox: StripeSandbox, headers: dict[str, str]) -> None:
    response = get_customers(stripe_sandbox, headers=headers)

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key.")


def test_wrong_key_is_a_401_with_the_key_masked(stripe_sandbox: StripeSandbox) -> None:
    response = get_customers(stripe_sandbox, headers=bearer(TEST_KEY))

    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert message == f"Invalid API Key provided: sk_test_{'*' * len(SECRET_TAIL)}abcd"
    assert SECRET_TAIL not in response.text


def test_expired_key_is_a_401_api_key_expired(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
) -> None:
    sandbox = stripe_sandbox_factory(api_keys=(TEST_KEY, "sk_test_other_key_0001"))
    sandbox.set_faults(expire_keys={TEST_KEY})

    expired = get_customers(sandbox, headers=bearer(TEST_KEY))
    other = get_customers(sandbox, headers=bearer("sk_test_other_key_0001"))

    assert expired.status_code == 401
    error = expired.json()["error"]
    assert error["code"] == "api_key_expired"
    assert SECRET_TAIL not in expired.text and error["message"].endswith("abcd")
    assert other.status_code == 200


@pytest.mark.parametrize(
    "key, masked",
    [
        ("sk_test_51HabcdefghXYZ9", "sk_test_***********XYZ9"),
        ("rk_live_abcdefgh", "rk_live_****efgh"),
        ("sk_test_short", "sk_test_*****"),
        ("garbage", "*******"),
    ],
    ids=["test-key", "restricted-live", "short", "no-prefix"],
)
def test_mask_key_keeps_only_prefix_and_last_four(key: str, masked: str) -> None:
    assert mask_key(key) == masked


def test_livemode_follows_the_first_key(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
) -> None:
    live = stripe_sandbox_factory(api_keys=(LIVE_KEY,))

    customer = get_customers(live, headers=bearer(LIVE_KEY)).json()["data"][0]

    assert customer["livemode"] is True


def test_requests_over_the_limit_get_429_without_retry_after(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
) -> None:
    sandbox = stripe_sandbox_factory(rate_limit=5, rate_clock=lambda: 0.0)  # no refill

    responses = [get_customers(sandbox, headers=bearer(sandbox.api_key)) for _ in range(8)]

    assert [r.status_code for r in responses] == [200] * 5 + [429] * 3
    throttled = responses[-1]
    assert "Retry-After" not in throttled.headers
    error = throttled.json()["error"]
    assert (error["code"], error["type"]) == ("rate_limit", "invalid_request_error")
    assert error["message"].startswith("Too many requests hit the API too quickly.")
    assert sandbox.stats.throttled == 3


@pytest.mark.parametrize(
    "key, allowed", [(TEST_KEY, 25), (LIVE_KEY, 100)], ids=["test-mode", "live-mode"]
)
def test_default_limit_depends_on_the_key_mode(
    stripe_sandbox_factory: Callable[..., StripeSandbox], key: str, allowed: int
) -> None:
    sandbox = stripe_sandbox_factory(api_keys=(key,), rate_limit=None, rate_clock=lambda: 0.0)
    session = requests.Session()
    session.headers.update(bearer(key))

    statuses = [
        session.get(f"{sandbox.base_url}/v1/coupons", timeout=5).status_code
        for _ in range(allowed + 2)
    ]

    assert statuses == [200] * allowed + [429] * 2


def test_buckets_are_per_key(stripe_sandbox_factory: Callable[..., StripeSandbox]) -> None:
    sandbox = stripe_sandbox_factory(
        api_keys=(TEST_KEY, "sk_test_second_key_01"), rate_limit=1, rate_clock=lambda: 0.0
    )

    first = [get_customers(sandbox, headers=bearer(TEST_KEY)).status_code for _ in range(2)]
    second = get_customers(sandbox, headers=bearer("sk_test_second_key_01")).status_code

    assert (first, second) == ([200, 429], 200)


def test_rate_limit_refills_with_time(stripe_sandbox_factory: Callable[..., StripeSandbox]) -> None:
    now = [0.0]
    sandbox = stripe_sandbox_factory(rate_limit=2, rate_clock=lambda: now[0])
    headers = bearer(sandbox.api_key)

    burst = [get_customers(sandbox, headers=headers).status_code for _ in range(3)]
    now[0] += 0.5  # one token at 2/s
    after_refill = [get_customers(sandbox, headers=headers).status_code for _ in range(2)]

    assert burst == [200, 200, 429]
    assert after_refill == [200, 429]


def test_headers_request_id_and_stripe_version(stripe_sandbox: StripeSandbox) -> None:
    headers = {**bearer(stripe_sandbox.api_key), "Stripe-Version": "2024-06-20"}

    first = get_customers(stripe_sandbox, headers=headers)
    second = get_customers(stripe_sandbox, headers=bearer(stripe_sandbox.api_key))

    assert first.headers["Request-Id"].startswith("req_")
    assert first.headers["Request-Id"] != second.headers["Request-Id"]
    assert first.headers["Stripe-Version"] == "2024-06-20"
    assert first.headers["Content-Length"] == str(len(first.content))


def test_stripe_account_header_is_accepted(stripe_sandbox: StripeSandbox) -> None:
    headers = {**bearer(stripe_sandbox.api_key), "Stripe-Account": "acct_1Connected000001"}

    assert get_customers(stripe_sandbox, headers=headers).status_code == 200


def test_secrets_stay_out_of_reprs(stripe_sandbox_factory: Callable[..., StripeSandbox]) -> None:
    sandbox = stripe_sandbox_factory(api_keys=(TEST_KEY,))
    sandbox.set_faults(expire_keys={TEST_KEY})

    texts = [
        repr(sandbox),
        repr(sandbox.faults),
        repr(sandbox.stats),
        str(sandbox.faults.to_dict()),
    ]

    assert not any(SECRET_TAIL in text for text in texts)
