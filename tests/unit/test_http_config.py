"""One HTTP config spec for every connector, resolved under ``sources.<name>`` (issue 16)."""

from __future__ import annotations

import pytest

from sources.kit.errors import ConfigurationError
from sources.kit.http_config import HTTP_FIELDS, HttpConfiguration, resolve_http
from sources.salesforce.client import http_defaults as salesforce_defaults
from sources.servicenow.client import http_defaults as servicenow_defaults
from sources.servicenow.client import make_client as servicenow_client
from sources.stripe.client import make_client as stripe_client


@pytest.fixture(autouse=True)
def no_http_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for source in ("STRIPE", "SALESFORCE", "SERVICENOW"):
        for field in HTTP_FIELDS:
            monkeypatch.delenv(f"SOURCES__{source}__{field.upper()}", raising=False)


def test_every_key_resolves_from_its_source_section_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__MAX_ATTEMPTS", "3")
    monkeypatch.setenv("SOURCES__STRIPE__RATE_LIMIT", "12.5")
    monkeypatch.setenv("SOURCES__SERVICENOW__MAX_ATTEMPTS", "6")
    stripe = resolve_http("stripe")
    servicenow = resolve_http("servicenow")
    assert (stripe.max_attempts, stripe.rate_limit) == (3, 12.5)
    assert (servicenow.max_attempts, servicenow.rate_limit) == (6, None)


@pytest.mark.parametrize(
    ("defaults", "field", "expected"),
    [
        pytest.param(HttpConfiguration, "rate_limit", None, id="stripe-rate-from-key-mode"),
        pytest.param(servicenow_defaults, "rate_limit", 20.0, id="servicenow-rate"),
        pytest.param(servicenow_defaults, "max_wait_s", 900.0, id="servicenow-max-wait"),
        pytest.param(salesforce_defaults, "read_timeout", 120.0, id="salesforce-read-timeout"),
        pytest.param(salesforce_defaults, "max_wait_s", None, id="salesforce-waits-every-hint"),
    ],
)
def test_connectors_keep_their_own_defaults(
    defaults: type[HttpConfiguration], field: str, expected: object
) -> None:
    assert getattr(resolve_http("x", defaults()), field) == expected


def test_a_value_passed_in_code_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__BACKOFF_BASE", "2.0")
    monkeypatch.setenv("SOURCES__STRIPE__READ_TIMEOUT", "7")
    client = stripe_client(
        api_key="sk_test_offline", base_url="http://127.0.0.1:9", backoff_base=0.0
    )
    assert client.session.settings.backoff_base == 0.0
    assert client.session.settings.read_timeout == 7.0
    assert client.session.settings.should_retry_header == "Stripe-Should-Retry"


def test_servicenow_settings_reach_its_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__SERVICENOW__MAX_WAIT_S", "60")
    monkeypatch.setenv("SOURCES__SERVICENOW__BREAKER_FAILURE_THRESHOLD", "2")
    client = servicenow_client(base_url="https://dev1.service-now.com", auth=object())
    assert client.session.settings.max_wait_s == 60.0
    assert client.session.settings.breaker_failure_threshold == 2


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        pytest.param(
            "RATE_LIMIT",
            "fast",
            "sources.stripe.rate_limit 'fast' is not a number: set a number of requests per "
            "second (SOURCES__STRIPE__RATE_LIMIT)",
            id="float",
        ),
        pytest.param(
            "RETRY_BUDGET",
            "lots",
            "sources.stripe.retry_budget 'lots' is not a whole number: set a whole number of "
            "retries (SOURCES__STRIPE__RETRY_BUDGET)",
            id="int",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_one_line_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(f"SOURCES__STRIPE__{field}", value)
    with pytest.raises(ConfigurationError) as caught:
        resolve_http("stripe")
    assert str(caught.value) == expected
