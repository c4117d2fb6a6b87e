"""``GET /v1/account``: the Account object of the key's account.

Stripe answers ``GET /v1/account`` with the account the API key belongs to, or with the
connected account named in the ``Stripe-Account`` header (the official SDK's
``stripe/_account_service.py`` ``retrieve_current`` and ``stripe/_account.py``
``Account.retrieve()`` without an id both request ``/v1/account``; the header is how a
platform acts on a connected account: /work/shared/stripe/README.md). The sandbox serves
its seeded account with the fields of Stripe's published example
(``fixtures3.json`` ``resources.account``) a loader reads; the account's id comes from
the seed, so two sandboxes with different seeds are two accounts.
"""

from __future__ import annotations

from typing import Any

from .factory import Account

ACCOUNT_PATH = "/v1/account"


def account_object(account: Account, stripe_account: str | None) -> dict[str, Any]:
    """The Account object answered for ``GET /v1/account``.

    Args:
        account: The seeded account.
        stripe_account: The ``Stripe-Account`` header, if sent: the connected account the
            request acts on (the sandbox accepts any id, as it does for lists).

    Returns:
        The object, shaped like Stripe's example account.
    """
    account_id = stripe_account or account.id
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {"name": account.name, "url": None, "support_email": None},
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": account.country,
        "default_currency": account.currency,
        "details_submitted": True,
        "email": None,
        "metadata": {},
        "payouts_enabled": True,
        "settings": {
            "dashboard": {"display_name": account.name, "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": account.statement_descriptor},
        },
        "type": "standard",
    }
