"""Seeded account history: the objects of a plausible SaaS business and how they changed.

``generate_history`` returns the steps (``Op``) that created, updated and deleted every seeded
object over the ~120 days before ``now``; ``Store.load`` replays them, so event snapshots and
``previous_attributes`` come from the same code path as live mutations. Same seed, volume and
``now`` give the same history, id for id.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .factory import Card, Factory, list_object
from .resources import OBJECT_TYPES
from .store import Op, merge
from .templates import template
from .vocabulary import (
    CARDS,
    CATALOG,
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    CONNECTED_ACCOUNT_NAMES,
    DECLINE_CODES,
    DISPUTE_REASONS,
    EMAIL_DOMAINS,
    EXCHANGE_RATES,
    FIRST_NAMES,
    LAST_NAMES,
    ONE_OFF_DESCRIPTIONS,
    PLACES,
    CatalogItem,
    Place,
)

DAY = 86_400
HOUR = 3_600
HISTORY_DAYS = 120
MANY_ENTRIES = (11, 30)
"""Line count range of the large accounts' invoices (items: 11-20)."""
ADD_ON_AMOUNT = 1_500
ADD_ONS = (
    "Salesforce connector",
    "ServiceNow connector",
    "Stripe connector",
    "HubSpot connector",
    "Zendesk connector",
    "Jira connector",
    "Extra workspace",
    "Audit log export",
    "SAML single sign-on",
    "Priority support",
    "Sandbox environment",
    "Data residency (EU)",
    "Custom domains",
    "Advanced alerts",
    "Scheduled reports",
    "Embedded dashboards",
    "API rate boost",
    "Extended history",
    "Usage analytics",
    "Dedicated IP",
)
"""Add-ons a plan can carry as further subscription items (19 or more are needed)."""
_SETTLEMENT = "usd"
_DISPUTE_FEE = 1_500


def add_months(timestamp: int, months: int) -> int:
    """Return ``timestamp`` moved by whole calendar months (day clamped to the month's end)."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def midnight(timestamp: int) -> int:
    """Return the UTC midnight starting the day of ``timestamp``."""
    return timestamp - timestamp % DAY


@dataclass
class _Customer:
    obj: dict[str, Any]
    place: Place
    card: Card
    ends_at: int
    deleted: bool


@dataclass
class _Price:
    obj: dict[str, Any]
    item: CatalogItem
    months: int


class _PriceIndex:
    """Active catalog prices by (currency, recurring), ordered by creation time."""

    def __init__(self, prices: Sequence[_Price]) -> None:
        self._groups: dict[tuple[str, bool], list[_Price]] = {}
        for price in sorted(prices, key=lambda price: price.obj["created"]):
            key = (price.obj["currency"], bool(price.months))
            self._groups.setdefault(key, []).append(price)
        self._times = {
            key: [price.obj["created"] for price in group] for key, group in self._groups.items()
        }

    def created_by(self, currency: str, recurring: bool, at: int) -> list[_Price]:
        """Return the prices in ``currency`` created at or before ``at``."""
        key = (currency, recurring)
        times = self._times.get(key, [])
        return self._groups.get(key, [])[: bisect.bisect_right(times, at)]


@dataclass
class History:
    """The steps generated so far and the latest state of every object they touch.

    Attributes:
        factory: Builds the objects.
        until: Steps after this time are not recorded (the objects still change), for
            scripted histories that run past ``now``; all are recorded when ``None``.
    """

    factory: Factory
    until: int | None = None
    ops: list[Op] = field(default_factory=list)
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in OBJECT_TYPES}
    )

    def lookup(self, type_name: str, obj_id: str) -> dict[str, Any] | None:
        return self.objects[type_name].get(obj_id)

    def create(
        self,
        type_name: str,
        fields: Mapping[str, Any],
        at: int,
        *,
        obj_id: str | None = None,
        event_type: str | None = None,
        via_api: bool = True,
    ) -> dict[str, Any]:
        obj = self.factory.new(type_name, fields, created=at, lookup=self.lookup, obj_id=obj_id)
        self.objects[type_name][obj["id"]] = obj
        self._record(Op(at, "create", type_name, obj["id"], obj, event_type, via_api))
        return obj

    def update(
        self,
        type_name: str,
        obj_id: str,
        changes: Mapping[str, Any],
        at: int,
        *,
        event_type: str | None = None,
        via_api: bool = True,
    ) -> dict[str, Any]:
        obj = merge(self.objects[type_name][obj_id], changes)
        self.objects[type_name][obj_id] = obj
        self._record(Op(at, "update", type_name, obj_id, changes, event_type, via_api))
        return obj

    def delete(self, type_name: str, obj_id: str, at: int) -> None:
        self._record(Op(at, "delete", type_name, obj_id))

    def _record(self, op: Op) -> None:
        if self.until is None or op.at <= self.until:
            self.ops.append(op)


class _AccountGenerator:
    """Generates the history step by step; each method adds one kind of object."""

    def __init__(self, factory: Factory, rng: random.Random, volume: int, now: int) -> None:
        self.factory = factory
        self.ids = factory.ids
        self.rng = rng
        self.volume = volume
        self.now = now
        self.start = now - HISTORY_DAYS * DAY
        self.history = History(factory)
        self.prices: list[_Price] = []
        self.price_index = _PriceIndex(())
        self.coupons: list[dict[str, Any]] = []
        self.customers: list[_Customer] = []
        self.succeeded_charges: list[dict[str, Any]] = []
        self.ledger: list[tuple[int, int]] = []  # (available_on, net) of non-payout txns
        self.invoice_numbers: dict[str, int] = {}
        self.canceled_subscriptions: set[str] = set()  # membership tests only

    # ------------------------------------------------------------ utilities

    def between(self, low: int, high: int) -> int:
        return self.rng.randint(low, max(low, high))

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def generate(self) -> list[Op]:
        self.catalog()
        self.retired_catalog()
        self.price_index = _PriceIndex(self.prices)
        self.coupon_book()
        for _ in range(self.volume):
            self.customer()
        for customer in self.customers:
            self.customer_activity(customer)
        self.large_accounts()
        self.manual_invoices()
        self.pending_invoiceitems()
        self.refunds()
        self.disputes()
        self.transfers()
        self.payouts()
        return self.history.ops

    # -------------------------------------------------------------- catalog

    def catalog(self) -> None:
        for index in range(max(3, self.volume // 5)):
            item = CATALOG[index % len(CATALOG)]
            edition = index // len(CATALOG)
            name = item.name if edition == 0 else f"{item.name} (v{edition + 1})"
            self.product(item, name, self.between(self.start, self.start + 25 * DAY))

    def product(self, item: CatalogItem, name: str, at: int) -> None:
        price_plan = self.price_plan(item)
        price_ids = [self.factory.new_id("price", at) for _ in price_plan]
        product = self.history.create(
            "product",
            {
                "default_price": price_ids[0],
                "description": item.description,
                "metadata": {"billing": "recurring" if item.recurring else "one_time"},
                "name": name,
                "unit_label": "seat" if item.per_seat else None,
            },
            at,
        )
        for price_id, (currency, months, amount) in zip(price_ids, price_plan, strict=True):
            price = self.price(product, item, price_id, currency, months, amount, at)
            self.prices.append(_Price(price, item, months))
        if self.chance(0.3):
            self.history.update(
                "product",
                product["id"],
                {"description": f"{item.description} Now with SOC 2 reports."},
                self.between(at + DAY, self.now - DAY),
            )

    def price_plan(self, item: CatalogItem) -> list[tuple[str, int, int]]:
        """Return ``(currency, months, unit_amount)`` of each price of a catalog item."""
        if not item.recurring:
            return [("usd", 0, item.monthly_amount)]
        plan = [("usd", 1, item.monthly_amount), ("usd", 12, item.monthly_amount * 10)]
        if self.chance(0.6):
            plan.append(("eur", 1, item.monthly_amount))
        if self.chance(0.4):
            plan.append(("gbp", 1, round(item.monthly_amount * 0.8 / 100) * 100 or 100))
        return plan

    def price(
        self,
        product: Mapping[str, Any],
        item: CatalogItem,
        price_id: str,
        currency: str,
        months: int,
        amount: int,
        at: int,
    ) -> dict[str, Any]:
        recurring = None
        nickname = None
        if months:
            interval = "year" if months == 12 else "month"
            recurring = {"interval": interval, "interval_count": 1}
            nickname = f"{'Yearly' if months == 12 else 'Monthly'} ({currency.upper()})"
        slug = product["name"].lower().replace(" ", "_")
        price = self.history.create(
            "price",
            {
                "currency": currency,
                "lookup_key": f"{slug}_{currency}_{months or 'once'}",
                "nickname": nickname,
                "product": product["id"],
                "recurring": recurring,
                "tax_behavior": "exclusive",
                "unit_amount": amount,
            },
            at,
            obj_id=price_id,
        )
        if recurring is not None:
            plan = self.factory.plan_from_price(price)
            self.history.create("plan", plan, at, obj_id=plan["id"])
        return price

    def retired_catalog(self) -> None:
        """A legacy product whose price is archived and plan deleted, and a deleted product."""
        at = self.start + self.between(0, 5 * DAY)
        legacy = CatalogItem("Legacy Basic", "Retired entry plan.", 500, True, False)
        product = self.history.create(
            "product", {"description": legacy.description, "name": legacy.name}, at
        )
        price = self.price(product, legacy, self.factory.new_id("price", at), "usd", 1, 500, at)
        retire_at = at + self.between(20 * DAY, 40 * DAY)
        self.history.update("price", price["id"], {"active": False}, retire_at)
        self.history.update("product", product["id"], {"active": False}, retire_at)
        self.history.delete("plan", price["id"], retire_at + HOUR)
        beta_at = self.between(self.start, self.now - 20 * DAY)
        beta = self.history.create(
            "product", {"description": "Early access features.", "name": "Beta program"}, beta_at
        )
        self.history.delete("product", beta["id"], self.between(beta_at + DAY, self.now - DAY))

    def coupon_book(self) -> None:
        count = max(2, self.volume // 10)
        for index in range(count):
            at = self.between(self.start, self.now - 30 * DAY)
            coupon = self.history.create("coupon", self.coupon_fields(at), at)
            if index == count - 1:
                self.history.delete("coupon", coupon["id"], self.between(at + DAY, self.now - DAY))
                continue
            if index == 0:
                self.history.update(
                    "coupon", coupon["id"], {"metadata": {"campaign": "renewal-2026"}}, at + DAY
                )
            self.coupons.append(coupon)

    def coupon_fields(self, at: int) -> dict[str, Any]:
        label = self.rng.choice(("Launch promo", "Partner", "Nonprofit", "Win-back", "Annual"))
        suffix = self.ids.random_chars(4, "abcdefghijklmnopqrstuvwxyz0123456789")
        duration = self.rng.choice(("once", "repeating", "forever"))
        fields: dict[str, Any] = {
            "duration": duration,
            "duration_in_months": self.rng.choice((3, 6, 12)) if duration == "repeating" else None,
            "max_redemptions": self.rng.choice((None, 100, 500)),
            "redeem_by": self.rng.choice((None, at + 90 * DAY)),
            "times_redeemed": self.between(0, 40),
        }
        fields["valid"] = fields["redeem_by"] is None or fields["redeem_by"] > self.now
        if self.chance(0.7):
            percent = self.rng.choice((10.0, 15.0, 20.0, 25.0, 30.0, 50.0))
            fields.update(
                {
                    "id": f"{percent:.0f}OFF_{suffix}",
                    "name": f"{label} {percent:g}% off",
                    "percent_off": percent,
                }
            )
        else:
            amount = self.rng.choice((500, 1000, 2500))
            fields.update(
                {
                    "amount_off": amount,
                    "currency": "usd",
                    "id": f"{amount // 100}USD_{suffix}",
                    "name": f"{label} ${amount // 100} off",
                }
            )
        return fields

    # ------------------------------------------------------------ customers

    def customer(self) -> None:
        at = self.between(self.start, self.now - HOUR)
        place = self.rng.choice(PLACES)
        name, email = self.identity()
        customer_id = self.factory.new_id("customer", at)
        card = self.card(place, at)
        coupon = self.coupon_for(at)
        fields: dict[str, Any] = {
            "address": self.address(place),
            "currency": place.currency,
            "description": self.rng.choice((None, None, "Signed up via website", "Sales-led")),
            "discount": None
            if coupon is None
            else self.factory.discount(customer_id, coupon["id"], at),
            "email": email,
            "invoice_settings": {
                **template("customer")["invoice_settings"],
                "default_payment_method": card.payment_method,
            },
            "metadata": {
                "crm_id": f"crm_{self.ids.digits(6)}",
                "signup_source": self.rng.choice(("web", "sales", "partner")),
            },
            "name": name,
            "phone": f"{place.phone_prefix}{self.ids.digits(7)}",
            "preferred_locales": [place.locale],
        }
        customer = self.history.create("customer", fields, at, obj_id=customer_id)
        deleted = self.chance(0.04) and at < self.now - 2 * DAY
        ends_at = self.between(at + DAY, self.now - HOUR) if deleted else self.now
        self.customers.append(_Customer(customer, place, card, ends_at, deleted))
        if self.chance(0.2):
            self.customer_change(customer, at, ends_at)

    def identity(self) -> tuple[str, str]:
        if self.chance(0.25):
            company = f"{self.rng.choice(COMPANY_WORDS)} {self.rng.choice(COMPANY_SUFFIXES)}"
            domain = company.lower().replace(" ", "") + ".com"
            return company, f"billing@{domain}"
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        local = f"{_ascii(first)}.{_ascii(last)}{self.between(1, 99)}".lower()
        return f"{first} {last}", f"{local}@{self.rng.choice(EMAIL_DOMAINS)}"

    def address(self, place: Place) -> dict[str, Any]:
        return {
            "city": place.city,
            "country": place.country,
            "line1": f"{self.between(1, 980)} {place.street}",
            "line2": self.rng.choice((None, None, "Suite 200", "Floor 3")),
            "postal_code": place.postal_code,
            "state": place.state,
        }

    def card(self, place: Place, at: int) -> Card:
        model = self.rng.choice(CARDS)
        year = dt.datetime.fromtimestamp(self.now, dt.timezone.utc).year
        return Card(
            payment_method=self.ids.timed("pm", at),
            brand=model.brand,
            last4=model.last4,
            funding=model.funding,
            exp_month=self.between(1, 12),
            exp_year=year + self.between(1, 5),
            fingerprint=self.ids.random_chars(16),
            country=place.country,
        )

    def coupon_for(self, at: int) -> dict[str, Any] | None:
        if not self.chance(0.1):
            return None
        usable = [coupon for coupon in self.coupons if coupon["created"] < at]
        return self.rng.choice(usable) if usable else None

    def customer_change(self, customer: Mapping[str, Any], at: int, ends_at: int) -> None:
        when = self.between(at + HOUR, ends_at - 60)
        if when >= ends_at:
            return
        change: dict[str, Any] = self.rng.choice(
            (
                {"email": f"finance+{self.ids.digits(3)}@{customer['email'].split('@')[1]}"},
                {"metadata": {"account_manager": self.rng.choice(FIRST_NAMES)}},
                {"address": {"line2": "Building B"}},
            )
        )
        self.history.update("customer", customer["id"], change, when)

    def customer_activity(self, customer: _Customer) -> None:
        subscriptions = self.rng.choices((0, 1, 2), weights=(20, 65, 15))[0]
        for _ in range(subscriptions):
            self.subscription(customer)
        for _ in range(self.rng.choices((0, 1, 2, 3), weights=(30, 45, 20, 5))[0]):
            self.one_off_payment(customer)
        if self.chance(0.15):
            self.abandoned_payment(customer)
        if self.chance(0.5):
            self.setup_intent(customer)
        if customer.deleted:
            self.history.delete("customer", customer.obj["id"], customer.ends_at)

    # -------------------------------------------------------- subscriptions

    def subscription(self, customer: _Customer) -> None:
        created_at = customer.obj["created"]
        start = self.between(created_at + 60, min(created_at + 10 * DAY, customer.ends_at - HOUR))
        prices = self.recurring_prices(customer.place.currency, start)
        if start >= customer.ends_at - HOUR or not prices:
            return
        price = self.rng.choice(prices)
        quantity = self.between(2, 25) if price.item.per_seat else 1
        trialing = not customer.deleted and self.now - start < 14 * DAY and self.chance(0.4)
        if trialing:
            self.trialing_subscription(customer, price, quantity, start)
            return
        self.paying_subscription(customer, price, quantity, start)

    def recurring_prices(self, currency: str, at: int) -> list[_Price]:
        index = self.price_index
        return index.created_by(currency, True, at) or index.created_by("usd", True, at)

    def new_subscription(
        self,
        customer: _Customer,
        price: _Price,
        quantity: int,
        start: int,
        period: tuple[int, int],
        extra: Mapping[str, Any],
        add_ons: Sequence[_Price] = (),
    ) -> tuple[dict[str, Any], str]:
        """Create the subscription (one item per price); return it and its first invoice id."""
        subscription_id = self.factory.new_id("subscription", start)
        invoice_id = self.factory.new_id("invoice", start)
        items = [
            self.factory.subscription_item(
                subscription_id, item_price.obj, quantity=count, created=start, period=period
            )
            for item_price, count in [(price, quantity), *((add_on, 1) for add_on in add_ons)]
        ]
        fields = {
            "currency": price.obj["currency"],
            "customer": customer.obj["id"],
            "default_payment_method": customer.card.payment_method,
            "items": list_object(items, ""),
            "latest_invoice": invoice_id,
            "metadata": {"seats": str(quantity)} if price.item.per_seat else {},
            "status": "active",
            **extra,
        }
        subscription = self.history.create("subscription", fields, start, obj_id=subscription_id)
        return subscription, invoice_id

    def trialing_subscription(
        self, customer: _Customer, price: _Price, quantity: int, start: int
    ) -> None:
        trial_end = start + 14 * DAY
        subscription, invoice_id = self.new_subscription(
            customer,
            price,
            quantity,
            start,
            (start, trial_end),
            {
                "billing_cycle_anchor": trial_end,
                "status": "trialing",
                "trial_end": trial_end,
                "trial_start": start,
            },
        )
        self.subscription_invoice(
            customer, subscription, price, 0, invoice_id, start, "subscription_create"
        )

    def paying_subscription(
        self,
        customer: _Customer,
        price: _Price,
        quantity: int,
        start: int,
        add_ons: Sequence[_Price] = (),
    ) -> None:
        limit = customer.ends_at if customer.deleted else self.now
        fate = self.rng.choices(("active", "canceled", "past_due"), weights=(70, 18, 12))[0]
        ends_at = limit
        if fate == "canceled":
            ends_at = min(limit, self.between(start + DAY, limit - HOUR))
        cycles = self.cycle_starts(start, price.months, ends_at)
        period = (cycles[0], add_months(cycles[0], price.months))
        subscription, invoice_id = self.new_subscription(
            customer, price, quantity, start, period, {}, add_ons
        )
        amount = price.obj["unit_amount"] * quantity + sum(a.obj["unit_amount"] for a in add_ons)
        failing = fate == "past_due" and len(cycles) > 1
        for index, cycle_start in enumerate(cycles):
            if index:
                invoice_id = self.renew(subscription["id"], cycle_start, price.months)
            reason = "subscription_cycle" if index else "subscription_create"
            fails = failing and index == len(cycles) - 1
            self.subscription_invoice(
                customer, subscription, price, amount, invoice_id, cycle_start, reason, fails
            )
        if fate == "canceled" or customer.deleted:
            self.history.delete("subscription", subscription["id"], ends_at)
            self.canceled_subscriptions.add(subscription["id"])
        elif fate == "active" and self.chance(0.12):
            self.schedule_cancellation(subscription["id"], cycles[-1])

    def cycle_starts(self, start: int, months: int, ends_at: int) -> list[int]:
        starts = [start]
        while (following := add_months(start, months * len(starts))) < ends_at:
            starts.append(following)
        return starts

    def renew(self, subscription_id: str, cycle_start: int, months: int) -> str:
        invoice_id = self.factory.new_id("invoice", cycle_start)
        current = self.history.objects["subscription"][subscription_id]
        period_end = add_months(cycle_start, months)
        renewed = [
            {**item, "current_period_start": cycle_start, "current_period_end": period_end}
            for item in current["items"]["data"]
        ]
        items = {**current["items"], "data": renewed}
        self.history.update(
            "subscription",
            subscription_id,
            {"items": items, "latest_invoice": invoice_id},
            cycle_start,
            via_api=False,
        )
        return invoice_id

    def schedule_cancellation(self, subscription_id: str, cycle_start: int) -> None:
        current = self.history.objects["subscription"][subscription_id]
        period_end = current["items"]["data"][0]["current_period_end"]
        feedback = self.rng.choice(("too_expensive", "switched_service", "unused", "other"))
        self.history.update(
            "subscription",
            subscription_id,
            {
                "cancel_at": period_end,
                "cancel_at_period_end": True,
                "cancellation_details": {"feedback": feedback, "reason": "cancellation_requested"},
            },
            self.between(cycle_start + HOUR, self.now - 60),
        )

    # ------------------------------------------------------------- invoices

    def next_number(self, customer: Mapping[str, Any]) -> str:
        count = self.invoice_numbers.get(customer["id"], 0) + 1
        self.invoice_numbers[customer["id"]] = count
        return f"{customer['invoice_prefix']}-{count:04d}"

    def invoice_fields(self, customer: _Customer, currency: str, **extra: Any) -> dict[str, Any]:
        return {
            "auto_advance": True,
            "currency": currency,
            "customer": customer.obj["id"],
            "customer_address": customer.obj["address"],
            "customer_email": customer.obj["email"],
            "customer_name": customer.obj["name"],
            "customer_phone": customer.obj["phone"],
            "default_payment_method": customer.card.payment_method,
            **extra,
        }

    def subscription_invoice(
        self,
        customer: _Customer,
        subscription: Mapping[str, Any],
        price: _Price,
        amount: int,
        invoice_id: str,
        at: int,
        reason: str,
        fails: bool = False,
    ) -> None:
        period = (at, add_months(at, price.months))
        # One line per item; a free (trial) invoice bills every line at zero.
        lines = [
            self.subscription_line(invoice_id, subscription["id"], item, period, billed=amount > 0)
            for item in subscription["items"]["data"]
        ]
        parent = {
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": subscription["id"]},
            "type": "subscription_details",
        }
        fields = self.invoice_fields(
            customer,
            price.obj["currency"],
            billing_reason=reason,
            collection_method="charge_automatically",
            lines=lines,
            parent=parent,
            subscription=subscription["id"],
        )
        self.history.create("invoice", fields, at, obj_id=invoice_id, via_api=False)
        finalize_at = at if reason == "subscription_create" else at + HOUR
        if finalize_at + 2 > self.now:
            return
        self.finalize(invoice_id, customer.obj, finalize_at)
        self.collect(customer, invoice_id, finalize_at + 2, fails, subscription["id"])

    def subscription_line(
        self,
        invoice_id: str,
        subscription_id: str,
        item: Mapping[str, Any],
        period: tuple[int, int],
        *,
        billed: bool,
    ) -> dict[str, Any]:
        """The invoice line billing one subscription item for ``period``."""
        price = item["price"]
        quantity = item["quantity"]
        product = self.history.objects["product"][price["product"]]
        unit = price["unit_amount"]
        return self.factory.line_item(
            invoice_id,
            amount=unit * quantity if billed else 0,
            currency=price["currency"],
            description=f"{quantity} × {product['name']} (at {_money(unit, price)})",
            period=period,
            quantity=quantity,
            price=price,
            subscription=(subscription_id, item["id"]),
        )

    # ------------------------------------------------------ large accounts

    def large_accounts(self) -> None:
        """A few customers whose sub-lists run past Stripe's 10 embedded entries.

        Each gets a subscription with 11-20 items (a plan plus add-ons) and a manual
        invoice with 11-30 lines, so a loader that keeps only the embedded entries loses
        some (see ``embedded.py``).
        """
        live = [customer for customer in self.customers if not customer.deleted]
        add_ons = self.add_on_prices()
        for customer in live[: max(1, self.volume // 20)]:
            if customer.obj["created"] > self.now - 4 * HOUR:
                continue
            at = self.between(customer.obj["created"] + 60, self.now - 3 * HOUR)
            plans = self.price_index.created_by("usd", True, at)
            monthly = [price for price in plans if price.months == 1]
            if monthly:
                count = self.between(MANY_ENTRIES[0], MANY_ENTRIES[1] - 10)
                chosen = self.rng.sample(add_ons, count - 1)
                self.paying_subscription(customer, self.rng.choice(monthly), 1, at, chosen)
            invoice_id = self.manual_invoice(customer, at, self.between(*MANY_ENTRIES))
            self.settle_manual_invoice(customer, invoice_id, at + HOUR, "paid")

    def add_on_prices(self) -> list[_Price]:
        """Monthly USD add-ons (one product and price each), sold beside a plan."""
        prices = []
        for index, name in enumerate(ADD_ONS):
            at = self.start + DAY + index * HOUR
            product = self.history.create(
                "product",
                {
                    "description": f"Add-on: {name}.",
                    "metadata": {"billing": "recurring"},
                    "name": f"Add-on: {name}",
                },
                at,
            )
            item = CatalogItem(name, product["description"], ADD_ON_AMOUNT, True, False)
            price_id = self.factory.new_id("price", at)
            price = self.price(product, item, price_id, "usd", 1, ADD_ON_AMOUNT, at)
            prices.append(_Price(price, item, 1))
        return prices

    def finalize(self, invoice_id: str, customer: Mapping[str, Any], at: int) -> None:
        token = self.ids.random_chars(40)
        url = f"https://invoice.stripe.com/i/{self.factory.account.id}/test_{token}"
        self.history.update(
            "invoice",
            invoice_id,
            {
                "effective_at": at,
                "hosted_invoice_url": url,
                "invoice_pdf": f"https://pay.stripe.com/invoice/{self.factory.account.id}/"
                f"test_{token}/pdf?s=ap",
                "number": self.next_number(customer),
                "status": "open",
                "status_transitions": {"finalized_at": at},
            },
            at,
            event_type="invoice.finalized",
            via_api=False,
        )

    def collect(
        self,
        customer: _Customer,
        invoice_id: str,
        at: int,
        fails: bool,
        subscription_id: str | None,
    ) -> None:
        invoice = self.history.objects["invoice"][invoice_id]
        total = invoice["total"]
        if total and fails:
            self.payment(customer, total, invoice["currency"], at, None, invoice_id, failed=True)
            self.history.update(
                "invoice",
                invoice_id,
                {"attempt_count": 1, "attempted": True, "next_payment_attempt": at + 3 * DAY},
                at + 1,
                event_type="invoice.payment_failed",
                via_api=False,
            )
            if subscription_id is not None:
                self.history.update(
                    "subscription", subscription_id, {"status": "past_due"}, at + 1, via_api=False
                )
            self.history.update(
                "customer", customer.obj["id"], {"delinquent": True}, at + 1, via_api=False
            )
            return
        if total:
            description = f"Invoice {invoice['number']}"
            self.payment(customer, total, invoice["currency"], at, description, invoice_id)
        self.mark_paid(invoice_id, total, at + 1)

    def mark_paid(self, invoice_id: str, total: int, at: int) -> None:
        self.history.update(
            "invoice",
            invoice_id,
            {
                "amount_paid": total,
                "amount_remaining": 0,
                "attempt_count": 1 if total else 0,
                "attempted": True,
                "status": "paid",
                "status_transitions": {"paid_at": at},
                "webhooks_delivered_at": at,
            },
            at,
            event_type="invoice.paid",
            via_api=False,
        )

    def manual_invoices(self) -> None:
        live = [customer for customer in self.customers if not customer.deleted]
        count = max(1, self.volume // 5) if live else 0
        for index in range(count):
            customer = self.rng.choice(live)
            at = self.between(customer.obj["created"] + DAY, self.now - 2 * HOUR)
            if at >= self.now - 2 * HOUR:
                continue
            outcome = self.rng.choices(
                ("paid", "open", "void", "uncollectible", "draft"), weights=(50, 20, 10, 5, 15)
            )[0]
            invoice_id = self.manual_invoice(customer, at)
            if index == 0:
                self.discard_draft(invoice_id, at)
            elif outcome != "draft":
                self.settle_manual_invoice(customer, invoice_id, at + HOUR, outcome)

    def manual_invoice(self, customer: _Customer, at: int, line_count: int = 0) -> str:
        invoice_id = self.factory.new_id("invoice", at)
        one_offs = self.price_index.created_by("usd", False, at)
        lines, items = [], []
        for _ in range(line_count or self.between(1, 2)):
            price = self.rng.choice(one_offs).obj if one_offs else None
            amount = price["unit_amount"] if price else self.between(20, 400) * 100
            item_id = self.factory.new_id("invoiceitem", at)
            description = self.rng.choice(ONE_OFF_DESCRIPTIONS)
            lines.append(
                self.factory.line_item(
                    invoice_id,
                    amount=amount,
                    currency="usd",
                    description=description,
                    period=(at, at),
                    price=price,
                    invoiceitem_id=item_id,
                )
            )
            items.append((item_id, price, amount, description))
        send = self.chance(0.6)
        fields = self.invoice_fields(
            customer,
            "usd",
            billing_reason="manual",
            collection_method="send_invoice" if send else "charge_automatically",
            due_date=at + 30 * DAY if send else None,
            lines=lines,
        )
        self.history.create("invoice", fields, at, obj_id=invoice_id)
        for item_id, price, amount, description in items:
            self.invoiceitem(customer, item_id, price, amount, description, at, invoice_id)
        return invoice_id

    def invoiceitem(
        self,
        customer: _Customer,
        item_id: str,
        price: Mapping[str, Any] | None,
        amount: int,
        description: str,
        at: int,
        invoice_id: str | None,
        subscription_id: str | None = None,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "amount": amount,
            "currency": "usd" if price is None else price["currency"],
            "customer": customer.obj["id"],
            "description": description,
            "invoice": invoice_id,
            "net_amount": amount,
        }
        if price is not None:
            fields["price"] = price["id"]
        if subscription_id is not None:
            fields["parent"] = {
                "subscription_details": {"subscription": subscription_id},
                "type": "subscription_details",
            }
        return self.history.create("invoiceitem", fields, at, obj_id=item_id)

    def discard_draft(self, invoice_id: str, at: int) -> None:
        when = self.between(at + 60, min(at + DAY, self.now - 60))
        for line in self.history.objects["invoice"][invoice_id]["lines"]["data"]:
            item_id = line["parent"]["invoice_item_details"]["invoice_item"]
            self.history.delete("invoiceitem", item_id, when)
        self.history.delete("invoice", invoice_id, when)

    def settle_manual_invoice(
        self, customer: _Customer, invoice_id: str, at: int, outcome: str
    ) -> None:
        if at + 2 > self.now:
            return
        self.finalize(invoice_id, customer.obj, at)
        later = self.between(at + HOUR, min(at + 20 * DAY, self.now - 60))
        if outcome == "paid":
            self.collect(customer, invoice_id, later, False, None)
        elif outcome == "open" and self.chance(0.5):
            self.history.update(
                "invoice",
                invoice_id,
                {"footer": "Payment due within 30 days. Thank you for your business!"},
                later,
            )
        elif outcome == "void":
            self.history.update(
                "invoice",
                invoice_id,
                {"status": "void", "status_transitions": {"voided_at": later}},
                later,
                event_type="invoice.voided",
            )
        elif outcome == "uncollectible":
            self.history.update(
                "invoice",
                invoice_id,
                {
                    "status": "uncollectible",
                    "status_transitions": {"marked_uncollectible_at": later},
                },
                later,
                event_type="invoice.marked_uncollectible",
            )

    def pending_invoiceitems(self) -> None:
        live = {customer.obj["id"]: customer for customer in self.customers if not customer.deleted}
        subscribed = [
            (live[subscription["customer"]], subscription)
            for subscription in self.history.objects["subscription"].values()
            if subscription["customer"] in live
            and subscription["id"] not in self.canceled_subscriptions
        ]
        if not subscribed:
            return
        count = max(2, self.volume // 10)
        for index in range(count):
            customer, subscription = self.rng.choice(subscribed)
            at = self.between(subscription["created"] + HOUR, self.now - HOUR)
            item_id = self.factory.new_id("invoiceitem", at)
            amount = self.between(5, 150) * 100
            self.invoiceitem(
                customer, item_id, None, amount, "Overage: API calls", at, None, subscription["id"]
            )
            later = self.between(at + 60, self.now - 60)
            if index == 0:
                self.history.delete("invoiceitem", item_id, later)
            elif self.chance(0.3):
                self.history.update(
                    "invoiceitem", item_id, {"description": "Overage: API calls (adjusted)"}, later
                )

    # ------------------------------------------------------------- payments

    def one_off_payment(self, customer: _Customer) -> None:
        at = self.between(customer.obj["created"] + 60, customer.ends_at - 60)
        if at >= customer.ends_at - 60:
            return
        amount = self.rng.choice((1500, 2500, 4900, 9900, 15000, 50000, self.between(5, 600) * 100))
        description = f"{self.rng.choice(ONE_OFF_DESCRIPTIONS)} (order {self.ids.digits(6)})"
        failed = self.chance(0.08)
        currency = customer.place.currency
        self.payment(customer, amount, currency, at, description, None, failed=failed)

    def payment(
        self,
        customer: _Customer,
        amount: int,
        currency: str,
        at: int,
        description: str | None,
        invoice_id: str | None,
        *,
        failed: bool = False,
    ) -> dict[str, Any]:
        """Create a payment intent, its charge and balance transaction; return the charge."""
        intent = self.history.create(
            "payment_intent",
            {
                "amount": amount,
                "currency": currency,
                "customer": customer.obj["id"],
                "description": description,
                "payment_method": customer.card.payment_method,
                "receipt_email": customer.obj["email"],
                "status": "requires_confirmation",
            },
            at,
            via_api=invoice_id is None,
        )
        charge = self.charge(customer, intent, invoice_id, at + 1, failed)
        if failed:
            error = {
                "charge": charge["id"],
                "code": charge["failure_code"],
                "decline_code": charge["outcome"]["reason"],
                "message": charge["failure_message"],
                "type": "card_error",
            }
            changes: dict[str, Any] = {
                "last_payment_error": error,
                "status": "requires_payment_method",
            }
            event = "payment_intent.payment_failed"
        else:
            changes = {
                "amount_received": amount,
                "latest_charge": charge["id"],
                "status": "succeeded",
            }
            event = "payment_intent.succeeded"
        self.history.update(
            "payment_intent", intent["id"], changes, at + 1, event_type=event, via_api=False
        )
        return charge

    def charge(
        self,
        customer: _Customer,
        intent: Mapping[str, Any],
        invoice_id: str | None,
        at: int,
        failed: bool,
    ) -> dict[str, Any]:
        amount, currency = intent["amount"], intent["currency"]
        charge_id = self.factory.new_id("charge", at)
        fields: dict[str, Any] = {
            "amount": amount,
            "billing_details": {
                "address": customer.obj["address"],
                "email": customer.obj["email"],
                "name": customer.obj["name"],
                "phone": customer.obj["phone"],
                "tax_id": None,
            },
            "currency": currency,
            "customer": customer.obj["id"],
            "description": intent["description"],
            "invoice": invoice_id,
            "payment_intent": intent["id"],
            "payment_method": customer.card.payment_method,
            "payment_method_details": self.factory.card_details(customer.card, amount),
            "receipt_email": customer.obj["email"],
        }
        if failed:
            fields.update(self.decline())
        else:
            txn = self.balance_transaction(
                amount, currency, at, "charge", charge_id, intent["description"]
            )
            fields["balance_transaction"] = txn["id"]
        charge = self.history.create("charge", fields, at, obj_id=charge_id, via_api=False)
        if not failed:
            self.succeeded_charges.append(charge)
        return charge

    def decline(self) -> dict[str, Any]:
        code, reason, message = self.rng.choice(DECLINE_CODES)
        return {
            "captured": False,
            "failure_code": code,
            "failure_message": message,
            "outcome": {
                "advice_code": "try_again_later" if reason == "insufficient_funds" else None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "declined_by_network",
                "reason": reason,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            },
            "paid": False,
            "status": "failed",
        }

    def abandoned_payment(self, customer: _Customer) -> None:
        at = self.between(customer.obj["created"] + 60, customer.ends_at - 60)
        if at >= customer.ends_at - 60:
            return
        intent = self.history.create(
            "payment_intent",
            {
                "amount": self.between(10, 300) * 100,
                "currency": customer.place.currency,
                "customer": customer.obj["id"],
                "description": "Checkout",
                "status": "requires_payment_method",
            },
            at,
        )
        if at + DAY < self.now and self.chance(0.6):
            self.history.update(
                "payment_intent",
                intent["id"],
                {"canceled_at": at + DAY, "cancellation_reason": "abandoned", "status": "canceled"},
                at + DAY,
                event_type="payment_intent.canceled",
                via_api=False,
            )

    def setup_intent(self, customer: _Customer) -> None:
        at = self.between(customer.obj["created"] + 60, customer.ends_at - 60)
        if at >= customer.ends_at - 60:
            return
        intent = self.history.create(
            "setup_intent",
            {"customer": customer.obj["id"], "status": "requires_payment_method"},
            at,
        )
        outcome = self.rng.choices(("succeeded", "pending", "canceled"), weights=(80, 15, 5))[0]
        if outcome == "succeeded":
            self.history.update(
                "setup_intent",
                intent["id"],
                {
                    "latest_attempt": self.ids.timed("setatt", at + 30),
                    "payment_method": customer.card.payment_method,
                    "status": "succeeded",
                },
                at + 30,
                event_type="setup_intent.succeeded",
                via_api=False,
            )
        elif outcome == "canceled" and at + DAY < self.now:
            self.history.update(
                "setup_intent",
                intent["id"],
                {"cancellation_reason": "abandoned", "status": "canceled"},
                at + DAY,
                event_type="setup_intent.canceled",
            )

    def balance_transaction(
        self,
        amount: int,
        currency: str,
        at: int,
        kind: str,
        source: str,
        description: str | None,
        *,
        fee: int | None = None,
        category: str | None = None,
    ) -> dict[str, Any]:
        """Create a balance transaction settling ``amount`` (``currency``) in usd."""
        rate = EXCHANGE_RATES.get(currency, 1.0)
        settled = round(amount * rate)
        if fee is None:
            fee = round(abs(settled) * 0.029) + 30 if kind == "charge" else 0
        available_on = midnight(at) + 2 * DAY
        txn = self.history.create(
            "balance_transaction",
            {
                "amount": settled,
                "available_on": available_on,
                "currency": _SETTLEMENT,
                "description": description,
                "exchange_rate": None if currency == _SETTLEMENT else rate,
                "fee": fee,
                "fee_details": self.factory.fee_details(fee, _SETTLEMENT),
                "net": settled - fee,
                "reporting_category": category or kind,
                "source": source,
                "status": "available" if available_on <= self.now else "pending",
                "type": kind,
            },
            at,
        )
        if kind != "payout":
            self.ledger.append((available_on, txn["net"]))
        return txn

    # ---------------------------------------------------- refunds & disputes

    def refunds(self) -> None:
        candidates = [c for c in self.succeeded_charges if c["created"] < self.now - 2 * HOUR]
        for index, charge in enumerate(candidates):
            if index == 0 or self.chance(0.08):
                self.refund(charge)

    def refund(self, charge: Mapping[str, Any]) -> None:
        at = self.between(
            charge["created"] + HOUR, min(charge["created"] + 14 * DAY, self.now - 60)
        )
        full = self.chance(0.65)
        amount = charge["amount"] if full else max(50, charge["amount"] // 2)
        refund_id = self.factory.new_id("refund", at)
        txn = self.balance_transaction(
            -amount, charge["currency"], at, "refund", refund_id, "REFUND FOR CHARGE"
        )
        refund = self.history.create(
            "refund",
            {
                "amount": amount,
                "balance_transaction": txn["id"],
                "charge": charge["id"],
                "currency": charge["currency"],
                "customer": charge["customer"],
                "payment_intent": charge["payment_intent"],
                "payment_method": charge["payment_method"],
                "reason": self.rng.choice(("requested_by_customer", "duplicate", None)),
                "status": "succeeded",
            },
            at,
            obj_id=refund_id,
        )
        refunds = list_object([refund], f"/v1/charges/{charge['id']}/refunds")
        self.history.update(
            "charge",
            charge["id"],
            {"amount_refunded": amount, "refunded": full, "refunds": refunds},
            at,
            event_type="charge.refunded",
            via_api=False,
        )

    def disputes(self) -> None:
        refunded = {op.obj_id for op in self.history.ops if op.event_type == "charge.refunded"}
        candidates = [
            charge
            for charge in self.succeeded_charges
            if charge["id"] not in refunded and charge["created"] < self.now - 4 * DAY
        ]
        for index, charge in enumerate(candidates):
            if index == 0 or self.chance(0.025):
                self.dispute(charge)

    def dispute(self, charge: Mapping[str, Any]) -> None:
        at = self.between(
            charge["created"] + 3 * DAY, min(charge["created"] + 30 * DAY, self.now - 60)
        )
        inquiry = self.chance(0.25)
        dispute_id = self.factory.new_id("dispute", at)
        txns = []
        if not inquiry:
            txn = self.balance_transaction(
                -charge["amount"],
                charge["currency"],
                at,
                "adjustment",
                dispute_id,
                f"Chargeback withdrawal for {charge['id']}",
                fee=_DISPUTE_FEE,
                category="dispute",
            )
            txns.append(txn)
        self.history.create(
            "dispute",
            {
                "amount": charge["amount"],
                "balance_transactions": txns,
                "charge": charge["id"],
                "currency": charge["currency"],
                "is_charge_refundable": inquiry,
                "payment_intent": charge["payment_intent"],
                "payment_method_details": {
                    "card": {
                        "brand": charge["payment_method_details"]["card"]["brand"],
                        "case_type": "inquiry" if inquiry else "chargeback",
                        "network_reason_code": self.rng.choice(("10.4", "13.1", "13.2", "4837")),
                        "network": charge["payment_method_details"]["card"]["network"],
                    },
                    "type": "card",
                },
                "reason": self.rng.choice(DISPUTE_REASONS),
                "status": "warning_needs_response" if inquiry else "needs_response",
            },
            at,
            obj_id=dispute_id,
            via_api=False,
        )
        self.history.update("charge", charge["id"], {"disputed": True}, at, via_api=False)
        self.close_dispute(dispute_id, charge, at, inquiry, txns)

    def close_dispute(
        self,
        dispute_id: str,
        charge: Mapping[str, Any],
        at: int,
        inquiry: bool,
        txns: Sequence[Mapping[str, Any]],
    ) -> None:
        submitted = at + self.between(DAY, 6 * DAY)
        if submitted >= self.now:
            return
        evidence = {"has_evidence": True, "submission_count": 1}
        status = "warning_under_review" if inquiry else "under_review"
        self.history.update(
            "dispute", dispute_id, {"evidence_details": evidence, "status": status}, submitted
        )
        closed = submitted + self.between(5 * DAY, 20 * DAY)
        if closed >= self.now:
            return
        won = self.chance(0.5)
        changes: dict[str, Any] = {
            "status": ("warning_closed" if inquiry else "won") if won else "lost"
        }
        if won and not inquiry:
            reversal = self.balance_transaction(
                charge["amount"],
                charge["currency"],
                closed,
                "adjustment",
                dispute_id,
                f"Chargeback reversal for {charge['id']}",
                fee=-_DISPUTE_FEE,
                category="dispute_reversal",
            )
            changes["balance_transactions"] = [*txns, reversal]
        self.history.update(
            "dispute",
            dispute_id,
            changes,
            closed,
            event_type="charge.dispute.closed",
            via_api=False,
        )

    # ---------------------------------------------------- transfers & payouts

    def transfers(self) -> None:
        destinations = [
            (f"acct_1{self.ids.random_chars(15)}", name) for name in CONNECTED_ACCOUNT_NAMES
        ]
        for _ in range(max(2, self.volume // 10)):
            at = self.between(self.start + 10 * DAY, self.now - HOUR)
            destination, partner = self.rng.choice(destinations)
            amount = self.between(10, 300) * 100
            transfer_id = self.factory.new_id("transfer", at)
            description = f"Revenue share — {partner}"
            txn = self.balance_transaction(-amount, "usd", at, "transfer", transfer_id, description)
            transfer = self.history.create(
                "transfer",
                {
                    "amount": amount,
                    "balance_transaction": txn["id"],
                    "currency": "usd",
                    "description": description,
                    "destination": destination,
                    "metadata": {"partner": partner},
                    "transfer_group": self.rng.choice((None, f"group_{self.ids.digits(6)}")),
                },
                at,
                obj_id=transfer_id,
            )
            if self.chance(0.3):
                self.history.update(
                    "transfer",
                    transfer["id"],
                    {"metadata": {"reconciled": "true"}},
                    self.between(at + HOUR, self.now - 60),
                )

    def payouts(self) -> None:
        count = max(3, self.volume // 3)
        span = (HISTORY_DAYS - 3) * DAY
        ledger = sorted(self.ledger)
        position = 0
        for index in range(1, count + 1):
            at = self.start + index * span // count + self.between(0, HOUR)
            if at >= self.now - HOUR:
                break
            balance = 0
            while position < len(ledger) and ledger[position][0] <= at:
                balance += ledger[position][1]
                position += 1
            if balance > 0:
                self.payout(balance, at)

    def payout(self, amount: int, at: int) -> None:
        payout_id = self.factory.new_id("payout", at)
        txn = self.balance_transaction(
            -amount, "usd", at, "payout", payout_id, "STRIPE PAYOUT", fee=0
        )
        arrival = midnight(at) + 2 * DAY
        self.history.create(
            "payout",
            {
                "amount": amount,
                "arrival_date": arrival,
                "balance_transaction": txn["id"],
                "currency": "usd",
                "description": "STRIPE PAYOUT",
                "reconciliation_status": "in_progress",
                "status": "in_transit",
            },
            at,
            obj_id=payout_id,
            via_api=False,
        )
        if arrival <= self.now:
            self.history.update(
                "payout",
                payout_id,
                {
                    "reconciliation_status": "completed",
                    "status": "paid",
                    "trace_id": {"status": "supported", "value": self.ids.digits(15)},
                },
                arrival,
                event_type="payout.paid",
                via_api=False,
            )


def _ascii(text: str) -> str:
    table = str.maketrans({"é": "e", "ë": "e", "ü": "u", "í": "i", "á": "a", "'": "", " ": ""})
    return text.translate(table)


def _money(amount: int, price: Mapping[str, Any]) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(price["currency"], "")
    per = (price.get("recurring") or {}).get("interval", "month")
    return f"{symbol}{amount / 100:,.2f} / {per}"


def generate_history(factory: Factory, rng: random.Random, volume: int, now: int) -> list[Op]:
    """Return the seeded account's history, ready for ``Store.load``.

    Args:
        factory: Builds the objects (its id source must be seeded too).
        rng: The seeded random source for every choice.
        volume: Number of customers; other counts derive from it.
        now: Unix seconds the history ends at.
    """
    if volume < 0:
        raise ValueError("volume must be >= 0")
    return _AccountGenerator(factory, rng, volume, now).generate()
