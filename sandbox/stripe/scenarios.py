"""Scripted customers added to the seeded account, whose history a test knows exactly.

The seeded history (``generator.py``) is random: good for volume, useless for checking a
number by hand. A scenario adds a few customers whose every subscription, invoice, charge,
refund and dispute is written down here, on calendar-month boundaries, so a model's output
can be compared with figures worked out on paper.

``mrr``: eight customers over five months, M1 to M5, where M5 is the month of ``now`` and
M1 four months before it. Every subscription bills on the 1st at 00:00 UTC, one invoice per
period with one line of type subscription (as the generator's ``subscription_invoice``).

=======  ===========================================  ====================================
story    subscription(s)                              what it exercises
=======  ===========================================  ====================================
ada      Starter $10/mo, M1-M5; M2 charge refunded    new, unchanged; a refund
ben      Starter $10 M1, Pro $30/mo M2-M5             upgrade (expansion); a failed charge
cleo     Pro $30 M1-M2, Starter $10 M3-M5             downgrade (contraction); a dispute
dan      Starter $10 M1-M2, canceled on M2 day 10     churn mid-period
eve      Starter $10 M1 (ends M2), Pro $30 M4-M5      churn at period end, reactivation
fritz    Team EUR 20/seat: 2 seats M1-M2, 3 M3-M5     EUR; expansion by quantity
hana     Team JPY 5,000/mo, M2-M5                     a zero-decimal currency
ian      Pro annual $300/yr from M1                   an annual plan (MRR = 300/12)
=======  ===========================================  ====================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from .factory import Card, Factory, list_object
from .generator import DAY, History, add_months, midnight
from .store import Op
from .vocabulary import EXCHANGE_RATES

SCENARIOS = ("mrr",)
"""Names accepted by :func:`scenario_history` (and ``StripeSandbox(scenario=...)``)."""

MONTHS = 5
"""M1..M5; M5 is the month of ``now``."""

# Settlement into usd for the scenario's currencies (the generator has no jpy rate).
_RATES = {**EXCHANGE_RATES, "jpy": 0.0067}
_ZERO_DECIMAL = frozenset({"jpy"})
_DISPUTE_FEE = 1_500


@dataclass(frozen=True)
class Plan:
    """A catalog price of the scenario."""

    product: str
    currency: str
    unit_amount: int  # smallest unit: cents, or yen
    interval: str = "month"


PLANS: dict[str, Plan] = {
    "starter": Plan("Scenario Starter", "usd", 1_000),
    "pro": Plan("Scenario Pro", "usd", 3_000),
    "pro_annual": Plan("Scenario Pro", "usd", 30_000, "year"),
    "team_eur": Plan("Scenario Team", "eur", 2_000),
    "team_jpy": Plan("Scenario Team", "jpy", 5_000),
}


@dataclass(frozen=True)
class Bill:
    """One billing period: the plan and quantity it bills."""

    plan: str
    quantity: int = 1


@dataclass(frozen=True)
class Subscription:
    """A subscription starting on the 1st of month ``start`` (1 = M1).

    Attributes:
        start: The month of its first period.
        bills: The periods it bills, in order (a monthly plan's period is one month).
        cancel_day: Cancels immediately on this day of its last billed month; ``None``
            ends it when its last period ends, unless that is after ``now`` (still active).
    """

    start: int
    bills: tuple[Bill, ...]
    cancel_day: Optional[int] = None


@dataclass(frozen=True)
class Story:
    """One scripted customer."""

    key: str
    name: str
    currency: str
    country: str
    subscriptions: tuple[Subscription, ...]
    refund_month: Optional[int] = None  # refunds the charge of this month in full
    failed_month: Optional[int] = None  # this month's first payment attempt is declined
    dispute_month: Optional[int] = None  # this month's charge is disputed and lost


def _bills(plan: str, count: int, quantity: int = 1) -> tuple[Bill, ...]:
    return tuple(Bill(plan, quantity) for _ in range(count))


MRR_STORIES: tuple[Story, ...] = (
    Story("ada", "Ada Scenario", "usd", "US", (Subscription(1, _bills("starter", 5)),), 2),
    Story(
        "ben",
        "Ben Scenario",
        "usd",
        "US",
        (Subscription(1, _bills("starter", 1) + _bills("pro", 4)),),
        failed_month=3,
    ),
    Story(
        "cleo",
        "Cleo Scenario",
        "usd",
        "US",
        (Subscription(1, _bills("pro", 2) + _bills("starter", 3)),),
        dispute_month=1,
    ),
    Story("dan", "Dan Scenario", "usd", "US", (Subscription(1, _bills("starter", 2), 10),)),
    Story(
        "eve",
        "Eve Scenario",
        "usd",
        "US",
        (Subscription(1, _bills("starter", 1)), Subscription(4, _bills("pro", 2))),
    ),
    Story(
        "fritz",
        "Fritz Scenario",
        "eur",
        "DE",
        (Subscription(1, _bills("team_eur", 2, 2) + _bills("team_eur", 3, 3)),),
    ),
    Story("hana", "Hana Scenario", "jpy", "JP", (Subscription(2, _bills("team_jpy", 4)),)),
    Story("ian", "Ian Scenario", "usd", "US", (Subscription(1, _bills("pro_annual", 1)),)),
)


def month_starts(now: int) -> list[int]:
    """Return the unix starts of M1..M5 (M5 is the UTC month of ``now``)."""
    moment = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    current = int(dt.datetime(moment.year, moment.month, 1, tzinfo=dt.timezone.utc).timestamp())
    return [add_months(current, index - MONTHS) for index in range(1, MONTHS + 1)]


def scenario_history(name: str, factory: Factory, now: int) -> list[Op]:
    """Return the steps of scenario ``name``, to load after the seeded history.

    Args:
        name: One of :data:`SCENARIOS`.
        factory: The sandbox's factory (ids continue after the seeded history's).
        now: Unix seconds the history ends at; steps after it are left out.

    Raises:
        ValueError: If ``name`` is not a known scenario.
    """
    if name not in SCENARIOS:
        raise ValueError(f"unknown sandbox scenario {name!r}: choose one of {', '.join(SCENARIOS)}")
    return _ScenarioBuilder(factory, now).build(MRR_STORIES)


@dataclass
class _Customer:
    story: Story
    obj: dict[str, Any]
    card: Card
    invoices: int = 0
    charges: dict[int, dict[str, Any]] = field(default_factory=dict)  # by month


class _ScenarioBuilder:
    """Turns the stories into steps; one method per kind of object."""

    def __init__(self, factory: Factory, now: int) -> None:
        self.factory = factory
        self.now = now
        self.months = month_starts(now)
        self.history = History(factory, until=now)
        self.prices: dict[str, dict[str, Any]] = {}

    def build(self, stories: Sequence[Story]) -> list[Op]:
        self.catalog(self.months[0] - 10 * DAY)
        for index, story in enumerate(stories):
            customer = self.customer(story, self.months[0] - DAY + index * 60)
            for subscription in story.subscriptions:
                self.subscription(customer, subscription)
            self.after_payments(customer)
        return self.history.ops

    # -------------------------------------------------------------- catalog

    def catalog(self, at: int) -> None:
        products: dict[str, dict[str, Any]] = {}
        for key, plan in PLANS.items():
            if plan.product not in products:
                products[plan.product] = self.history.create(
                    "product", {"name": plan.product, "description": "Scripted scenario."}, at
                )
            product = products[plan.product]
            price = self.history.create(
                "price",
                {
                    "currency": plan.currency,
                    "lookup_key": f"scenario_{key}",
                    "nickname": f"Scenario {key}",
                    "product": product["id"],
                    "recurring": {"interval": plan.interval, "interval_count": 1},
                    "unit_amount": plan.unit_amount,
                },
                at,
            )
            plan_obj = self.factory.plan_from_price(price)
            self.history.create("plan", plan_obj, at, obj_id=plan_obj["id"])
            self.prices[key] = price

    # ------------------------------------------------------------ customers

    def customer(self, story: Story, at: int) -> _Customer:
        ids = self.factory.ids
        card = Card(
            payment_method=ids.timed("pm", at),
            brand="visa",
            last4="4242",
            funding="credit",
            exp_month=12,
            exp_year=dt.datetime.fromtimestamp(self.now, dt.timezone.utc).year + 3,
            fingerprint=ids.random_chars(16),
            country=story.country,
        )
        obj = self.history.create(
            "customer",
            {
                "currency": story.currency,
                "description": "MRR scenario",
                "email": f"{story.key}@scenario.example",
                "metadata": {"scenario": "mrr", "story": story.key},
                "name": story.name,
                "address": {"country": story.country},
            },
            at,
        )
        return _Customer(story, obj, card)

    # -------------------------------------------------------- subscriptions

    def subscription(self, customer: _Customer, script: Subscription) -> None:
        start = self.months[script.start - 1]
        subscription_id = self.factory.new_id("subscription", start)
        first = script.bills[0]
        item = self.factory.subscription_item(
            subscription_id,
            self.prices[first.plan],
            quantity=first.quantity,
            created=start,
            period=(start, self.period_end(start, first)),
        )
        self.history.create(
            "subscription",
            {
                "currency": self.prices[first.plan]["currency"],
                "customer": customer.obj["id"],
                "default_payment_method": customer.card.payment_method,
                "items": list_object([item], ""),
                "metadata": {"scenario": "mrr"},
                "status": "active",
            },
            start,
            obj_id=subscription_id,
        )
        period_start = start
        for index, bill in enumerate(script.bills):
            period_end = self.period_end(period_start, bill)
            if index:
                item = self.renew(subscription_id, item, bill, period_start, period_end)
            reason = "subscription_cycle" if index else "subscription_create"
            self.invoice(customer, subscription_id, item, (period_start, period_end), reason)
            period_start = period_end
        if script.cancel_day is not None:
            last_month = self.months[script.start - 1 + len(script.bills) - 1]
            self.history.delete(
                "subscription", subscription_id, last_month + (script.cancel_day - 1) * DAY
            )
        else:
            # no further bill: it ends with its last period (skipped if that is after now)
            self.history.delete("subscription", subscription_id, period_start)

    def period_end(self, start: int, bill: Bill) -> int:
        months = 12 if PLANS[bill.plan].interval == "year" else 1
        return add_months(start, months)

    def renew(
        self,
        subscription_id: str,
        item: Mapping[str, Any],
        bill: Bill,
        start: int,
        end: int,
    ) -> dict[str, Any]:
        """The next period, on a new price or quantity when the bill says so (no proration)."""
        price = self.prices[bill.plan]
        renewed = self.factory.subscription_item(
            subscription_id,
            price,
            quantity=bill.quantity,
            created=item["created"],
            period=(start, end),
        )
        renewed["id"] = item["id"]  # an upgrade changes the item's price, not the item
        self.history.update(
            "subscription",
            subscription_id,
            {"items": list_object([renewed], ""), "currency": price["currency"]},
            start,
            via_api=False,
        )
        return renewed

    # ------------------------------------------------------------- invoices

    def invoice(
        self,
        customer: _Customer,
        subscription_id: str,
        item: Mapping[str, Any],
        period: tuple[int, int],
        reason: str,
    ) -> None:
        at = period[0]
        price = item["price"]
        invoice_id = self.factory.new_id("invoice", at)
        amount = price["unit_amount"] * item["quantity"]
        line = self.factory.line_item(
            invoice_id,
            amount=amount,
            currency=price["currency"],
            description=f"{item['quantity']} × {PLANS[self._plan_key(price)].product}",
            period=period,
            quantity=item["quantity"],
            price=price,
            subscription=(subscription_id, item["id"]),
        )
        self.history.create(
            "invoice",
            {
                "auto_advance": True,
                "billing_reason": reason,
                "collection_method": "charge_automatically",
                "currency": price["currency"],
                "customer": customer.obj["id"],
                "customer_email": customer.obj["email"],
                "customer_name": customer.obj["name"],
                "default_payment_method": customer.card.payment_method,
                "lines": [line],
                "parent": {
                    "quote_details": None,
                    "subscription_details": {"metadata": {}, "subscription": subscription_id},
                    "type": "subscription_details",
                },
                "period_end": period[1],
                "period_start": period[0],
                "subscription": subscription_id,
            },
            at,
            obj_id=invoice_id,
            via_api=False,
        )
        customer.invoices += 1
        self.history.update(
            "invoice",
            invoice_id,
            {
                "effective_at": at,
                "number": f"{customer.obj['invoice_prefix']}-{customer.invoices:04d}",
                "status": "open",
                "status_transitions": {"finalized_at": at},
            },
            at,
            event_type="invoice.finalized",
            via_api=False,
        )
        month = self.months.index(at) + 1 if at in self.months else 0
        paid_at = at + 2
        if month and month == customer.story.failed_month:
            self.charge(customer, invoice_id, amount, price["currency"], at + 1, failed=True)
            paid_at = at + DAY
        charge = self.charge(customer, invoice_id, amount, price["currency"], paid_at - 1)
        customer.charges[month] = charge
        self.history.update(
            "invoice",
            invoice_id,
            {
                "amount_paid": amount,
                "amount_remaining": 0,
                "attempt_count": 2 if paid_at > at + 2 else 1,
                "attempted": True,
                "status": "paid",
                "status_transitions": {"paid_at": paid_at},
            },
            paid_at,
            event_type="invoice.paid",
            via_api=False,
        )

    def _plan_key(self, price: Mapping[str, Any]) -> str:
        return next(key for key, known in self.prices.items() if known["id"] == price["id"])

    # ------------------------------------------------------------- payments

    def charge(
        self,
        customer: _Customer,
        invoice_id: str,
        amount: int,
        currency: str,
        at: int,
        *,
        failed: bool = False,
    ) -> dict[str, Any]:
        intent = self.history.create(
            "payment_intent",
            {
                "amount": amount,
                "currency": currency,
                "customer": customer.obj["id"],
                "payment_method": customer.card.payment_method,
                "status": "requires_payment_method" if failed else "succeeded",
                "amount_received": 0 if failed else amount,
            },
            at,
            via_api=False,
        )
        charge_id = self.factory.new_id("charge", at)
        fields: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "customer": customer.obj["id"],
            "invoice": invoice_id,
            "payment_intent": intent["id"],
            "payment_method": customer.card.payment_method,
            "payment_method_details": self.factory.card_details(customer.card, amount),
        }
        if failed:
            fields.update(
                {
                    "captured": False,
                    "failure_code": "card_declined",
                    "failure_message": "Your card was declined.",
                    "outcome": {
                        "network_status": "declined_by_network",
                        "reason": "generic_decline",
                        "seller_message": "The bank did not return any further details.",
                        "type": "issuer_declined",
                    },
                    "paid": False,
                    "status": "failed",
                }
            )
        else:
            txn = self.balance_transaction(amount, currency, at, "charge", charge_id)
            fields["balance_transaction"] = txn["id"]
        return self.history.create("charge", fields, at, obj_id=charge_id, via_api=False)

    def balance_transaction(
        self,
        amount: int,
        currency: str,
        at: int,
        kind: str,
        source: str,
        *,
        fee: Optional[int] = None,
        category: Optional[str] = None,
    ) -> dict[str, Any]:
        """Settle ``amount`` (smallest unit of ``currency``) into usd cents."""
        major = amount if currency in _ZERO_DECIMAL else amount / 100
        settled = round(major * _RATES[currency] * 100)
        if fee is None:
            fee = round(abs(settled) * 0.029) + 30 if kind == "charge" else 0
        available_on = midnight(at) + 2 * DAY
        return self.history.create(
            "balance_transaction",
            {
                "amount": settled,
                "available_on": available_on,
                "currency": "usd",
                "exchange_rate": None if currency == "usd" else _RATES[currency],
                "fee": fee,
                "fee_details": self.factory.fee_details(fee, "usd"),
                "net": settled - fee,
                "reporting_category": category or kind,
                "source": source,
                "status": "available" if available_on <= self.now else "pending",
                "type": kind,
            },
            at,
        )

    def after_payments(self, customer: _Customer) -> None:
        story = customer.story
        if story.refund_month is not None:
            self.refund(customer.charges[story.refund_month])
        if story.dispute_month is not None:
            self.dispute(customer.charges[story.dispute_month])

    def refund(self, charge: Mapping[str, Any]) -> None:
        at = charge["created"] + 3 * DAY
        refund_id = self.factory.new_id("refund", at)
        txn = self.balance_transaction(
            -charge["amount"], charge["currency"], at, "refund", refund_id
        )
        refund = self.history.create(
            "refund",
            {
                "amount": charge["amount"],
                "balance_transaction": txn["id"],
                "charge": charge["id"],
                "currency": charge["currency"],
                "customer": charge["customer"],
                "payment_intent": charge["payment_intent"],
                "reason": "requested_by_customer",
                "status": "succeeded",
            },
            at,
            obj_id=refund_id,
        )
        self.history.update(
            "charge",
            charge["id"],
            {
                "amount_refunded": charge["amount"],
                "refunded": True,
                "refunds": list_object([refund], f"/v1/charges/{charge['id']}/refunds"),
            },
            at,
            event_type="charge.refunded",
            via_api=False,
        )

    def dispute(self, charge: Mapping[str, Any]) -> None:
        at = charge["created"] + 5 * DAY
        dispute_id = self.factory.new_id("dispute", at)
        txn = self.balance_transaction(
            -charge["amount"],
            charge["currency"],
            at,
            "adjustment",
            dispute_id,
            fee=_DISPUTE_FEE,
            category="dispute",
        )
        self.history.create(
            "dispute",
            {
                "amount": charge["amount"],
                "balance_transactions": [txn],
                "charge": charge["id"],
                "currency": charge["currency"],
                "payment_intent": charge["payment_intent"],
                "reason": "fraudulent",
                "status": "needs_response",
            },
            at,
            obj_id=dispute_id,
            via_api=False,
        )
        self.history.update("charge", charge["id"], {"disputed": True}, at, via_api=False)
        self.history.update("dispute", dispute_id, {"status": "lost"}, at + 7 * DAY, via_api=False)
