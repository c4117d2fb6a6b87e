"""``GET /v1/account`` through the official SDK: the key's account, or the connected one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import stripe

from sandbox.stripe import StripeSandbox


def sdk(sandbox: StripeSandbox, key: str | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(
        key or sandbox.api_key,
        base_addresses={"api": sandbox.base_url},
        max_network_retries=0,
    )


def test_sdk_retrieves_the_seeded_account(stripe_sandbox: StripeSandbox) -> None:
    # stripe/_account_service.py retrieve_current: GET /v1/account
    account = sdk(stripe_sandbox).v1.accounts.retrieve_current()

    assert account.object == "account"
    assert account.id == stripe_sandbox.store.factory.account.id
    assert account.id.startswith("acct_1")
    assert stripe_sandbox.stats.by_path["/v1/account"] == 1


def test_stripe_account_header_retrieves_the_connected_account(
    stripe_sandbox: StripeSandbox,
) -> None:
    account = sdk(stripe_sandbox).v1.accounts.retrieve_current(
        options={"stripe_account": "acct_1Connected000001"}
    )

    assert account.id == "acct_1Connected000001"


@pytest.mark.parametrize(
    "seeds, same",
    [((42, 42), True), ((42, 7), False)],
    ids=["same-seed-same-account", "other-seed-other-account"],
)
def test_the_account_id_follows_the_seed(
    stripe_sandbox_factory: Callable[..., StripeSandbox], seeds: tuple[int, int], same: bool
) -> None:
    first, second = (stripe_sandbox_factory(seed=seed, volume=2) for seed in seeds)

    ids = [sdk(s).v1.accounts.retrieve_current().id for s in (first, second)]

    assert (ids[0] == ids[1]) is same


def test_a_rejected_key_gets_no_account(stripe_sandbox: StripeSandbox) -> None:
    with pytest.raises(stripe.AuthenticationError):
        sdk(stripe_sandbox, "sk_test_not_a_sandbox_key").v1.accounts.retrieve_current()
