"""Stripe's declaration on the kit's connector framework, and the client built from it."""

from __future__ import annotations

from typing import Optional

import pytest

from sources.kit.errors import ConfigurationError, SluiceError
from sources.kit.pagination import StartingAfterPaginator
from sources.stripe import RESOURCE_NAMES, stripe_source
from sources.stripe.client import StripeClient, make_client, requests_per_second
from sources.stripe.errors import raise_for_stripe
from sources.stripe.helpers import make_guard
from sources.stripe.settings import (
    ENDPOINT_GROUPS,
    NO_RATE_LIMIT,
    RESOURCES,
    RESOURCES_BY_NAME,
    SHOULD_RETRY_HEADER,
)
from sources.stripe.spec import SPEC, column_hints, resource_spec
from tests.unit._kit_fakes import ScriptedAdapter, make_response

TEST_KEY = "sk_test_spec123"
LIVE_KEY = "sk_live_spec123"


def test_spec_declares_every_stripe_resource_in_order() -> None:
    assert SPEC.resource_names() == [r.name for r in RESOURCES] == list(RESOURCE_NAMES)
    assert SPEC.resources_setting == "sources.stripe.resources"
    assert SPEC.raise_for_error is raise_for_stripe
    assert SPEC.rate_limit_groups == ENDPOINT_GROUPS
    assert SPEC.should_retry_header == SHOULD_RETRY_HEADER
    assert isinstance(SPEC.paginator(), StartingAfterPaginator)


@pytest.mark.parametrize(
    ("name", "disposition", "cursor", "deletes", "params"),
    [
        ("customers", "merge", None, ("events", "relist", "webhook"), {}),
        ("charges", "merge", None, ("none",), {}),
        ("subscriptions", "merge", None, ("none",), {"status": "all"}),
        ("balance_transactions", "append", "created", ("none",), {}),
        ("events", "append", "created", ("none",), {}),
    ],
    ids=["deletable", "never-deleted", "list-params", "immutable", "events"],
)
def test_stripe_resources_map_onto_resource_specs(
    name: str,
    disposition: str,
    cursor: Optional[str],
    deletes: tuple[str, ...],
    params: dict[str, str],
) -> None:
    declared = SPEC.resource(name)

    assert declared.endpoint == f"/v1/{name}"
    assert (declared.primary_key, declared.write_disposition) == (("id",), disposition)
    assert (declared.cursor, declared.deletes) == (cursor, deletes)
    assert dict(declared.params) == params
    assert declared.required == (RESOURCES_BY_NAME[name].time_field,)


def test_invoice_items_require_their_own_time_field() -> None:
    items = RESOURCES_BY_NAME["invoiceitems"]

    assert resource_spec(items).required == ("date",)
    assert column_hints(items)["date"] == {"data_type": "timestamp"}
    # dlt writes into column hints: two runs must never share them
    assert column_hints(items) is not column_hints(items)


@pytest.mark.parametrize(
    ("key", "configured", "expected"),
    [
        (TEST_KEY, None, 25.0),
        (LIVE_KEY, None, 100.0),
        (LIVE_KEY, 7, 7.0),
        (TEST_KEY, 0, NO_RATE_LIMIT),
    ],
    ids=["test-mode", "live-mode", "configured", "zero-is-none"],
)
def test_rate_limit_follows_the_key_mode_unless_configured(
    key: str, configured: Optional[float], expected: float
) -> None:
    assert requests_per_second(key, configured) == expected

    client = make_client(api_key=key, base_url="https://api.stripe.com/", rate_limit=configured)

    limiter = client.session.rate_limiter
    assert limiter is not None and limiter.current_rate() == expected
    # endpoint groups never get more than the global limit
    assert limiter.current_rate("search") == min(20.0, expected)


def test_make_client_builds_the_session_and_rest_client_from_the_spec() -> None:
    client = make_client(
        api_key=TEST_KEY, base_url="https://api.stripe.com/", stripe_account="acct_1"
    )

    assert isinstance(client, StripeClient) and client.mode == "test"
    assert client.base_url == "https://api.stripe.com"
    assert client.session.settings.allowed_hosts == ("api.stripe.com",)
    assert client.session.settings.should_retry_header == SHOULD_RETRY_HEADER
    rest = client.rest_client("customers")
    assert rest is client.rest_client("customers")
    assert (rest.headers or {})["Stripe-Account"] == "acct_1"
    assert (rest.headers or {})["Stripe-Version"] == client.stripe_version
    assert rest.data_selector == "data"


@pytest.mark.parametrize(
    ("given", "line"),
    [
        (
            {"api_key": " ", "base_url": "https://api.stripe.com"},
            "Stripe API key is empty: set sources.stripe.api_key (or SOURCES__STRIPE__API_KEY)",
        ),
        (
            {"api_key": TEST_KEY, "base_url": "api.stripe.com"},
            "sources.stripe.base_url must start with http:// or https://, got 'api.stripe.com'",
        ),
    ],
    ids=["empty-key", "no-scheme"],
)
def test_unusable_connection_settings_are_one_line(given: dict[str, str], line: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_client(**given)

    assert str(caught.value) == line


def test_unknown_resource_names_the_setting_and_the_choices() -> None:
    with pytest.raises(ConfigurationError) as caught:
        stripe_source(resources=["customers", "custmers"], client=None)

    assert str(caught.value) == (
        "unknown Stripe resource(s) custmers in sources.stripe.resources; "
        f"choose from: {', '.join(RESOURCE_NAMES)}"
    )


def test_retrieve_answers_none_on_404_but_a_list_page_raises() -> None:
    client = make_client(api_key=TEST_KEY, base_url="https://api.stripe.com")
    error = {"error": {"type": "invalid_request_error", "message": "No such customer"}}
    adapter = ScriptedAdapter([make_response(404, error), make_response(404, error)])
    client.session.mount("https://", adapter)

    assert client.retrieve("/v1/customers", "cus_gone", label="customers") is None
    with pytest.raises(SluiceError):
        client.fetch_page("/v1/customers", label="customers", params={})
    assert adapter.requests[0].url == "https://api.stripe.com/v1/customers/cus_gone"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"id": "ii_1", "date": 1_700_000_000}, None),
        ({"id": "ii_1", "date": "2024-01-01"}, "field 'date' must be int, got str"),
        ({"id": "ii_1", "created": 1_700_000_000}, "required field 'date' is missing"),
    ],
    ids=["loadable", "time-not-int", "time-missing"],
)
def test_guard_requires_an_int_creation_time(
    record: dict[str, object], reason: Optional[str]
) -> None:
    guard = make_guard(RESOURCES_BY_NAME["invoiceitems"], "run1", "merge", columnar=True)

    admitted, why = guard.admit(dict(record))

    assert why == reason
    assert (admitted is None) == (reason is not None)
    assert guard.source == "stripe" and guard.table_name == "invoiceitems"
