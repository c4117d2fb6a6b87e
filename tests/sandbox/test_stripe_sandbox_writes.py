"""The Stripe sandbox's write side for reverse ETL: metadata updates through stripe-python.

Idempotency-key replay and ``idempotency_error``, keys kept 24 hours, documented metadata
limits, switchable rejections, and 5xx answers injected after the write was applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from sandbox.stripe import StripeSandbox
from sandbox.stripe.clock import SandboxClock


@pytest.fixture
def sandbox(stripe_sandbox_factory: Callable[..., StripeSandbox]) -> StripeSandbox:
    return stripe_sandbox_factory(now=SandboxClock())


def client_for(sandbox: StripeSandbox, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(
        sandbox.api_key, base_addresses={"api": sandbox.base_url}, max_network_retries=retries
    )


@pytest.fixture
def client(sandbox: StripeSandbox) -> Iterator[stripe.StripeClient]:
    yield client_for(sandbox)


def first_id(client: stripe.StripeClient, service: str) -> str:
    return str(getattr(client.v1, service).list({"limit": 1}).data[0].id)


def update_events(client: stripe.StripeClient, obj_id: str, event_type: str) -> list[Any]:
    events = client.v1.events.list({"type": event_type, "limit": 100}).auto_paging_iter()
    return [e for e in events if e.data.object["id"] == obj_id]


@pytest.mark.parametrize(
    ("service", "event_type"),
    [
        pytest.param("customers", "customer.updated", id="customer"),
        pytest.param("subscriptions", "customer.subscription.updated", id="subscription"),
    ],
)
def test_metadata_update_replays_under_the_same_key(
    client: Any, service: str, event_type: str
) -> None:
    obj_id = first_id(client, service)
    resource = getattr(client.v1, service)
    params = {"metadata": {"warehouse_id": "W-1", "sync_token": "run-1"}}
    options: Any = {"idempotency_key": f"sync-{obj_id}-1"}

    first = resource.update(obj_id, params, options)
    replay = resource.update(obj_id, params, options)

    assert first.metadata["warehouse_id"] == "W-1"
    assert replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert replay.to_dict() == first.to_dict()
    [event] = update_events(client, obj_id, event_type)  # one write, one event
    assert event.data.object["metadata"]["sync_token"] == "run-1"
    assert "metadata" in event.data.previous_attributes


def test_same_key_with_other_params_is_an_idempotency_error(client: Any) -> None:
    obj_id = first_id(client, "customers")
    options: Any = {"idempotency_key": "reused"}
    client.v1.customers.update(obj_id, {"metadata": {"a": "1"}}, options)

    with pytest.raises(stripe.IdempotencyError) as refused:
        client.v1.customers.update(obj_id, {"metadata": {"a": "2"}}, options)

    assert "same parameters they were first used with" in str(refused.value.user_message)
    assert client.v1.customers.retrieve(obj_id).metadata["a"] == "1"


def test_keys_are_pruned_after_24_hours(client: Any, sandbox: StripeSandbox) -> None:
    obj_id = first_id(client, "customers")
    options: Any = {"idempotency_key": "daily"}
    client.v1.customers.update(obj_id, {"metadata": {"a": "1"}}, options)
    sandbox.advance(24 * 3600)

    again = client.v1.customers.update(obj_id, {"metadata": {"a": "2"}}, options)

    assert again.metadata["a"] == "2"
    assert "Idempotent-Replayed" not in again.last_response.headers


def test_empty_string_unsets_a_metadata_key(client: Any) -> None:
    obj_id = first_id(client, "customers")
    client.v1.customers.update(obj_id, {"metadata": {"keep": "k", "drop": "d"}})

    updated = client.v1.customers.update(obj_id, {"metadata": {"drop": ""}})

    assert updated.metadata.to_dict().get("drop") is None and updated.metadata["keep"] == "k"


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        pytest.param({"long": "x" * 501}, "up to 500 characters", id="value-over-500"),
        pytest.param({"k" * 41: "v"}, "up to 40 characters", id="key-over-40"),
        pytest.param({f"k{n}": "v" for n in range(51)}, "up to 50 metadata keys", id="51-keys"),
    ],
)
def test_metadata_over_the_documented_limits_is_refused(
    client: Any, metadata: dict[str, str], fragment: str
) -> None:
    obj_id = first_id(client, "customers")

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.update(obj_id, {"metadata": metadata})

    assert fragment in str(refused.value.user_message)
    assert refused.value.http_status == 400


def test_the_50_key_limit_counts_keys_already_stored(client: Any) -> None:
    obj_id = first_id(client, "customers")
    stored = len(client.v1.customers.retrieve(obj_id).metadata.to_dict())
    client.v1.customers.update(obj_id, {"metadata": {f"k{n}": "v" for n in range(50 - stored)}})

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.update(obj_id, {"metadata": {"one_more": "v"}})
    swapped = client.v1.customers.update(obj_id, {"metadata": {"k0": "", "one_more": "v"}})

    assert len(swapped.metadata.to_dict()) == 50


def test_write_rules_reject_until_removed(client: Any, sandbox: StripeSandbox) -> None:
    obj_id = first_id(client, "customers")
    sandbox.write_rules.add(
        "customer",
        "no_vip",
        lambda p: p.get("metadata", {}).get("tier") == "vip",
        "VIP tier is not allowed",
        param="metadata[tier]",
    )

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.update(obj_id, {"metadata": {"tier": "vip"}})
    sandbox.write_rules.remove("no_vip")
    accepted = client.v1.customers.update(obj_id, {"metadata": {"tier": "vip"}})

    assert refused.value.param == "metadata[tier]" and accepted.metadata["tier"] == "vip"


def test_5xx_after_the_write_is_replayed_by_the_retry_not_applied_twice(
    sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe._http_client.HTTPClient, "_sleep_time_seconds", lambda self, *a: 0.0)
    retrying: Any = client_for(sandbox, retries=2)
    obj_id = first_id(retrying, "customers")
    sandbox.fail_after_write_next(1, status=502)

    updated = retrying.v1.customers.update(
        obj_id, {"metadata": {"synced": "yes"}}, {"idempotency_key": "once"}
    )

    assert updated.metadata["synced"] == "yes"
    assert updated.last_response.headers["Idempotent-Replayed"] == "true"
    assert sandbox.stats.injected_errors == 1
    assert len(update_events(retrying, obj_id, "customer.updated")) == 1


def test_5xx_after_the_write_without_a_key_applies_it_anyway(
    client: Any, sandbox: StripeSandbox
) -> None:
    obj_id = first_id(client, "customers")
    sandbox.fail_after_write_next(1)

    with pytest.raises(stripe.APIError):
        client.v1.customers.update(obj_id, {"metadata": {"lost": "answer"}})

    assert client.v1.customers.retrieve(obj_id).metadata["lost"] == "answer"
