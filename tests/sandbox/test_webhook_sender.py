"""The sandbox's webhook sender signs like Stripe (checked with Stripe's own SDK)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
import stripe

from sandbox.stripe.webhooks import STALE_AGE_S, WebhookSender, delivery_mix

SECRET = "whsec_sender_test"
OLD = "whsec_sender_old"
NOW = 1_767_225_600


def clock() -> float:
    return float(NOW)


def make_event(n: int) -> dict[str, Any]:
    return {
        "id": f"evt_{n}",
        "object": "event",
        "type": "customer.updated",
        "created": NOW - n,
        "data": {"object": {"id": f"cus_{n}", "object": "customer", "metadata": {}}},
    }


def sdk_accepts(body: bytes, header: str, secret: str) -> bool:
    try:
        stripe.WebhookSignature.verify_header(body.decode(), header, secret, tolerance=None)
    except stripe.SignatureVerificationError:
        return False
    return True


@pytest.mark.parametrize(
    "extra, secret",
    [((), SECRET), ((OLD,), SECRET), ((OLD,), OLD)],
    ids=["current", "rotation-current", "rotation-old"],
)
def test_valid_delivery_verifies_with_stripe_sdk(extra: tuple[str, ...], secret: str) -> None:
    sender = WebhookSender(SECRET, now=clock, extra_secrets=extra)
    delivery = sender.delivery(make_event(1))
    header = delivery.headers["Stripe-Signature"]
    assert header.startswith(f"t={NOW},v1=")
    assert header.count("v1=") == 1 + len(extra)
    assert sdk_accepts(delivery.body, header, secret)


@pytest.mark.parametrize("kind", ["forged", "tampered", "stale"], ids=str)
def test_refusable_deliveries_carry_fabricated_events(kind: str) -> None:
    sender = WebhookSender(SECRET, now=clock)
    delivery = getattr(sender, kind)(make_event(1))
    assert delivery.kind == kind and not delivery.acceptable
    assert delivery.event_id != "evt_1" and b'"forged"' in delivery.body
    header = delivery.headers["Stripe-Signature"]
    assert sdk_accepts(delivery.body, header, SECRET) is (kind == "stale")
    if kind == "stale":
        assert header.startswith(f"t={NOW - STALE_AGE_S},")


def test_delivery_mix_has_every_event_once_plus_extras_shuffled() -> None:
    sender = WebhookSender(SECRET, now=clock)
    events = [make_event(n) for n in range(20)]
    mix = delivery_mix(
        sender, events, rng=random.Random(3), duplicates=4, forged=2, tampered=2, stale=2
    )
    kinds = Counter(d.kind for d in mix)
    assert kinds == {"valid": 20, "duplicate": 4, "forged": 2, "tampered": 2, "stale": 2}
    valid = [d.event_id for d in mix if d.kind == "valid"]
    assert sorted(valid) == sorted(e["id"] for e in events)
    assert valid != [e["id"] for e in events]  # not in the original order
    again = delivery_mix(
        sender, events, rng=random.Random(3), duplicates=4, forged=2, tampered=2, stale=2
    )
    assert [d.body for d in again] == [d.body for d in mix]  # deterministic for a seed
