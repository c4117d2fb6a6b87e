"""Builds single Stripe objects from templates: ids, derived fields and request-style params.

Used both by the seeded generator and by creations through the store (HTTP or Python).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from .ids import IdFactory
from .resources import API_VERSION, resource
from .templates import template, template_fields

Lookup = Callable[[str, str], "dict[str, Any] | None"]
"""``lookup(type_name, obj_id)`` returns the current (not deleted) object or ``None``."""

_RECURRING_DEFAULTS: dict[str, Any] = {
    "interval": "month",
    "interval_count": 1,
    "meter": None,
    "usage_type": "licensed",
    "trial_period_days": None,
}

# Params a creation may carry that are not fields of the object itself.
_EXTRA_PARAMS: dict[str, frozenset[str]] = {
    "invoiceitem": frozenset({"price"}),
}


@dataclass(frozen=True)
class Account:
    """The Stripe account the sandbox pretends to be."""

    id: str
    name: str
    statement_descriptor: str
    country: str
    currency: str
    bank_account: str

    @classmethod
    def generate(cls, ids: IdFactory, name: str = "Northwind Analytics") -> Account:
        """Make the account from ``ids`` (its id ends in the factory's account tag)."""
        account_id = f"acct_1{ids.random_chars(5)}{ids.account_tag}"
        return cls(
            id=account_id,
            name=name,
            statement_descriptor=name.upper()[:22],
            country="US",
            currency="usd",
            bank_account=f"ba_1{ids.random_chars(5)}{ids.account_tag}{ids.random_chars(8)}",
        )


@dataclass(frozen=True)
class Card:
    """The card a customer pays with."""

    payment_method: str
    brand: str
    last4: str
    funding: str
    exp_month: int
    exp_year: int
    fingerprint: str
    country: str


def accepted_fields(type_name: str) -> frozenset[str]:
    """Return the field names ``Factory.new`` / updates accept for ``type_name``."""
    return template_fields(type_name) | _EXTRA_PARAMS.get(type_name, frozenset())


def _require(lookup: Lookup, type_name: str, obj_id: Any, param: str) -> dict[str, Any]:
    found = lookup(type_name, obj_id) if isinstance(obj_id, str) else None
    if found is None:
        raise errors.resource_missing(type_name, str(obj_id), param=param, status=400)
    return found


def list_object(data: list[dict[str, Any]], url: str) -> dict[str, Any]:
    """Return an embedded Stripe list object."""
    return {"data": data, "has_more": False, "object": "list", "url": url}


class Factory:
    """Creates objects with the shape of Stripe's fixtures."""

    def __init__(self, ids: IdFactory, account: Account, livemode: bool) -> None:
        """Create a factory.

        Args:
            ids: Id source.
            account: The account objects belong to.
            livemode: The ``livemode`` every object carries.
        """
        self.ids = ids
        self.account = account
        self.livemode = livemode

    # ----------------------------------------------------------------- objects

    def new_id(self, type_name: str, created: int) -> str:
        """Return a new id for an object of ``type_name`` created at ``created``."""
        spec = resource(type_name)
        if type_name == "coupon":
            return self.ids.random_chars(8).upper()
        if spec.timed_id:
            return self.ids.timed(spec.id_prefix, created)
        return self.ids.short(spec.id_prefix)

    def new(
        self,
        type_name: str,
        fields: Mapping[str, Any],
        *,
        created: int,
        lookup: Lookup,
        obj_id: str | None = None,
    ) -> dict[str, Any]:
        """Build a new object of ``type_name``.

        Args:
            type_name: Object type, e.g. ``customer``.
            fields: Field values (request-style values such as subscription ``items`` of
                ``{"price": id}`` or a partial price ``recurring`` are expanded).
            created: Creation time (unix seconds).
            lookup: Finds referenced objects.
            obj_id: The id to use; a new one (or ``fields["id"]``) otherwise.

        Returns:
            The new object (a fresh dict the caller owns).

        Raises:
            StripeError: If a referenced object does not exist.
        """
        spec = resource(type_name)
        values = dict(fields)
        obj_id = values.pop("id", None) or obj_id or self.new_id(type_name, created)
        obj = template(type_name)
        obj["id"] = obj_id
        obj[spec.time_field] = created
        if "livemode" in obj:  # refunds and balance transactions have none
            obj["livemode"] = self.livemode
        obj.update(self.prepare(type_name, obj, values, lookup))
        _FINISHERS.get(type_name, _no_finish)(self, obj)
        return obj

    def prepare(
        self, type_name: str, current: Mapping[str, Any], fields: Mapping[str, Any], lookup: Lookup
    ) -> dict[str, Any]:
        """Turn request-style ``fields`` into object fields for ``current`` (create or update).

        ``fields`` values end up in the object as given: callers pass values they own.

        Raises:
            StripeError: If a referenced object does not exist.
        """
        values = dict(fields)
        preparer = _PREPARERS.get(type_name)
        if preparer is not None:
            preparer(self, current, values, lookup)
        return values

    # ------------------------------------------------------------- sub-objects

    def plan_from_price(self, price: Mapping[str, Any]) -> dict[str, Any]:
        """Return the plan that mirrors a recurring price (same id, as Stripe does)."""
        recurring = price["recurring"] or _RECURRING_DEFAULTS
        plan = template("plan")
        plan.update(
            {
                "active": price["active"],
                "amount": price["unit_amount"],
                "amount_decimal": price["unit_amount_decimal"],
                "billing_scheme": price["billing_scheme"],
                "created": price["created"],
                "currency": price["currency"],
                "id": price["id"],
                "interval": recurring["interval"],
                "interval_count": recurring["interval_count"],
                "livemode": price["livemode"],
                "metadata": dict(price["metadata"]),
                "nickname": price["nickname"],
                "product": price["product"],
                "trial_period_days": recurring["trial_period_days"],
                "usage_type": recurring["usage_type"],
            }
        )
        return plan

    def subscription_item(
        self,
        subscription_id: str,
        price: Mapping[str, Any],
        *,
        quantity: int,
        created: int,
        period: tuple[int, int],
    ) -> dict[str, Any]:
        """Return a subscription item embedding ``price`` and its plan."""
        item = template("subscription_item")
        item.update(
            {
                "created": created,
                "current_period_end": period[1],
                "current_period_start": period[0],
                "id": self.ids.short("si"),
                "plan": self.plan_from_price(price),
                "price": copy.deepcopy(dict(price)),
                "quantity": quantity,
                "subscription": subscription_id,
            }
        )
        return item

    def line_item(
        self,
        invoice_id: str,
        *,
        amount: int,
        currency: str,
        description: str,
        period: tuple[int, int],
        quantity: int = 1,
        price: Mapping[str, Any] | None = None,
        subscription: tuple[str, str] | None = None,
        invoiceitem_id: str | None = None,
    ) -> dict[str, Any]:
        """Return an invoice line item.

        Args:
            invoice_id: The invoice the line belongs to.
            amount: Line amount in the smallest currency unit.
            currency: Three-letter currency code.
            description: Line description.
            period: ``(start, end)`` unix seconds.
            quantity: Quantity billed.
            price: The price billed, if any.
            subscription: ``(subscription_id, subscription_item_id)`` for subscription lines.
            invoiceitem_id: The invoice item the line comes from, for one-off lines.
        """
        line = template("line_item")
        line.update(
            {
                "amount": amount,
                "currency": currency,
                "description": description,
                "id": self.ids.timed("il", period[0]),
                "invoice": invoice_id,
                "livemode": self.livemode,
                "parent": _line_parent(subscription, invoiceitem_id),
                "period": {"end": period[1], "start": period[0]},
                "pricing": pricing(price, amount // max(quantity, 1)),
                "quantity": quantity,
                "subscription": subscription[0] if subscription else None,
                "subtotal": amount,
            }
        )
        return line

    def discount(self, customer_id: str, coupon_id: str, start: int) -> dict[str, Any]:
        """Return a customer discount applying ``coupon_id``."""
        discount = template("discount")
        discount.update(
            {
                "customer": customer_id,
                "id": self.ids.short("di"),
                "source": {"coupon": coupon_id, "type": "coupon"},
                "start": start,
            }
        )
        return discount

    def fee_details(self, fee: int, currency: str) -> list[dict[str, Any]]:
        """Return ``fee_details`` for a balance transaction charging ``fee``."""
        if fee == 0:
            return []
        return [
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]

    def card_details(self, card: Card, amount: int) -> dict[str, Any]:
        """Return a charge's ``payment_method_details`` for ``card``."""
        details = template("payment_method_details")
        details["card"].update(
            {
                "amount_authorized": amount,
                "brand": card.brand,
                "country": card.country,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "fingerprint": card.fingerprint,
                "funding": card.funding,
                "last4": card.last4,
                "network": card.brand,
                "network_transaction_id": self.ids.digits(15),
            }
        )
        details["card"]["overcapture"]["maximum_amount_capturable"] = amount
        return details

    def event(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        *,
        created: int,
        previous_attributes: Mapping[str, Any] | None = None,
        request: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Return an event about ``obj`` (embedded as given: callers pass a snapshot)."""
        event = template("event")
        data: dict[str, Any] = {"object": obj}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event.update(
            {
                "api_version": API_VERSION,
                "created": created,
                "data": data,
                "id": self.ids.timed("evt", created),
                "livemode": self.livemode,
                "request": dict(request) if request else {"id": None, "idempotency_key": None},
                "type": event_type,
            }
        )
        return event


def pricing(price: Mapping[str, Any] | None, unit_amount: int) -> dict[str, Any]:
    """Return the ``pricing`` of a line or invoice item billing ``price``."""
    details = None if price is None else {"price": price["id"], "product": price["product"]}
    return {
        "price_details": details,
        "type": "price_details",
        "unit_amount_decimal": str(unit_amount),
    }


def _line_parent(
    subscription: tuple[str, str] | None, invoiceitem_id: str | None
) -> dict[str, Any]:
    if subscription is not None:
        return {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription[0],
                "subscription_item": subscription[1],
            },
            "type": "subscription_item_details",
        }
    return {
        "invoice_item_details": {
            "invoice_item": invoiceitem_id,
            "proration": False,
            "proration_details": {"credited_items": None},
            "subscription": None,
        },
        "subscription_item_details": None,
        "type": "invoice_item_details",
    }


# ------------------------------------------------------------------ preparers
# Each turns request-style values into object fields, in place.

_Preparer = Callable[[Factory, Mapping[str, Any], dict[str, Any], Lookup], None]


def _prepare_price(
    factory: Factory, current: Mapping[str, Any], values: dict[str, Any], lookup: Lookup
) -> None:
    if "product" in values:
        _require(lookup, "product", values["product"], "product")
    if isinstance(values.get("recurring"), Mapping):
        values["recurring"] = {**_RECURRING_DEFAULTS, **values["recurring"]}


def _prepare_plan(
    factory: Factory, current: Mapping[str, Any], values: dict[str, Any], lookup: Lookup
) -> None:
    if "product" in values:
        _require(lookup, "product", values["product"], "product")


def _prepare_coupon(
    factory: Factory, current: Mapping[str, Any], values: dict[str, Any], lookup: Lookup
) -> None:
    if values.get("percent_off") is not None:
        values["percent_off"] = float(values["percent_off"])


def _prepare_customer_ref(
    factory: Factory, current: Mapping[str, Any], values: dict[str, Any], lookup: Lookup
) -> None:
    if "customer" in values and values["customer"] is not None:
        _require(lookup, "customer", values["customer"], "customer")


def _prepare_invoice(
    factory: Factory, current: Mapping[str, Any], values: dict[str, Any], lookup: Lookup
) -> None:
    if "customer" in values:
        customer = _require(lookup, "customer", values["customer"], "customer")
        values.setdefault("customer_email", customer["email"])
        values.setdefault("customer_name", customer["name"])
        values.setdefault("customer_address", copy.deepcopy(customer["address"]))
        values.setdefault("customer_phone", customer["phone"])
    if isinstance(values.get("lines"), list):
        values["lines"] = list_object(values["lines"], f"/v1/invoices/{current['id']}/lines")


def _prepare_invoiceitem(
    factory: Factory, current: Mapping[str, Any], values: dict[str, Any], lookup: Lookup
) -> None:
    _prepare_customer_ref(factory, current, values, lookup)
    if values.get("invoice") is not None:
        _require(lookup, "invoice", values["invoice"], "invoice")
    price_id = values.pop("price", None)
    if price_id is None:
        return
    price = _require(lookup, "price", price_id, "price")
    quantity = int(values.get("quantity", current.get("quantity") or 1))
    values.setdefault("amount", price["unit_amount"] * quantity)
    values.setdefault("currency", price["currency"])
    values["pricing"] = pricing(price, price["unit_amount"])


def _prepare_subscription(
    factory: Factory, current: Mapping[str, Any], values: dict[str, Any], lookup: Lookup
) -> None:
    _prepare_customer_ref(factory, current, values, lookup)
    items = values.get("items")
    if not isinstance(items, list):
        return
    created = int(current.get("created") or 0)
    period = _first_period(current, created)
    built = []
    for index, item in enumerate(items):
        if "id" in item and "object" in item:
            built.append(item)
            continue
        price = _require(lookup, "price", item.get("price"), f"items[{index}][price]")
        quantity = int(item.get("quantity") or 1)
        built.append(
            factory.subscription_item(
                current["id"], price, quantity=quantity, created=created, period=period
            )
        )
    url = f"/v1/subscription_items?subscription={current['id']}"
    values["items"] = list_object(built, url)
    if built:
        values.setdefault("currency", built[0]["price"]["currency"])


def _first_period(subscription: Mapping[str, Any], created: int) -> tuple[int, int]:
    existing = subscription.get("items", {}).get("data") or []
    if existing:
        return existing[0]["current_period_start"], existing[0]["current_period_end"]
    return created, created + 30 * 86_400


_PREPARERS: dict[str, _Preparer] = {
    "price": _prepare_price,
    "plan": _prepare_plan,
    "coupon": _prepare_coupon,
    "customer": _prepare_customer_ref,
    "charge": _prepare_customer_ref,
    "payment_intent": _prepare_customer_ref,
    "setup_intent": _prepare_customer_ref,
    "invoice": _prepare_invoice,
    "invoiceitem": _prepare_invoiceitem,
    "subscription": _prepare_subscription,
}

# ------------------------------------------------------------------ finishers
# Each fills fields derived from others on a freshly built object, in place.

_Finisher = Callable[[Factory, dict[str, Any]], None]


def _no_finish(factory: Factory, obj: dict[str, Any]) -> None:
    """Objects without derived fields."""


def _finish_customer(factory: Factory, obj: dict[str, Any]) -> None:
    if not obj["invoice_prefix"]:
        obj["invoice_prefix"] = factory.ids.random_chars(8).upper()


def _finish_product(factory: Factory, obj: dict[str, Any]) -> None:
    obj["updated"] = obj["updated"] or obj["created"]


def _finish_price(factory: Factory, obj: dict[str, Any]) -> None:
    obj["unit_amount_decimal"] = str(obj["unit_amount"])
    obj["type"] = "recurring" if obj["recurring"] else "one_time"


def _finish_plan(factory: Factory, obj: dict[str, Any]) -> None:
    obj["amount_decimal"] = str(obj["amount"])


def _finish_charge(factory: Factory, obj: dict[str, Any]) -> None:
    obj["refunds"]["url"] = f"/v1/charges/{obj['id']}/refunds"
    obj["calculated_statement_descriptor"] = factory.account.statement_descriptor
    if obj["captured"] and obj["paid"]:
        obj["amount_captured"] = obj["amount"]
    card = (obj["payment_method_details"] or {}).get("card")
    if card is not None and not card["amount_authorized"]:
        card["amount_authorized"] = obj["amount"]
        card["overcapture"]["maximum_amount_capturable"] = obj["amount"]
    if obj["paid"] and obj["receipt_url"] is None:
        obj["receipt_url"] = (
            f"https://pay.stripe.com/receipts/payment/{factory.ids.random_chars(96)}"
        )


def _finish_intent(factory: Factory, obj: dict[str, Any]) -> None:
    if not obj["client_secret"]:
        obj["client_secret"] = f"{obj['id']}_secret_{factory.ids.random_chars(25)}"


def _finish_invoice(factory: Factory, obj: dict[str, Any]) -> None:
    obj["lines"]["url"] = f"/v1/invoices/{obj['id']}/lines"
    obj["account_name"] = obj["account_name"] or factory.account.name
    obj["period_start"] = obj["period_start"] or obj["created"]
    obj["period_end"] = obj["period_end"] or obj["created"]
    if not obj["total"] and obj["lines"]["data"]:
        total = sum(line["amount"] for line in obj["lines"]["data"])
        obj.update(
            {
                "amount_due": total,
                "amount_remaining": total - obj["amount_paid"],
                "subtotal": total,
                "subtotal_excluding_tax": total,
                "total": total,
                "total_excluding_tax": total,
            }
        )


def _finish_invoiceitem(factory: Factory, obj: dict[str, Any]) -> None:
    obj["net_amount"] = obj["net_amount"] or obj["amount"]
    obj["quantity_decimal"] = str(obj["quantity"])
    if not obj["period"]["start"]:
        obj["period"] = {"end": obj["date"], "start": obj["date"]}


def _finish_subscription(factory: Factory, obj: dict[str, Any]) -> None:
    obj["items"]["url"] = f"/v1/subscription_items?subscription={obj['id']}"
    obj["billing_cycle_anchor"] = obj["billing_cycle_anchor"] or obj["created"]
    obj["start_date"] = obj["start_date"] or obj["created"]


def _finish_transfer(factory: Factory, obj: dict[str, Any]) -> None:
    obj["reversals"]["url"] = f"/v1/transfers/{obj['id']}/reversals"
    obj["destination_payment"] = obj["destination_payment"] or factory.ids.short("py")


def _finish_payout(factory: Factory, obj: dict[str, Any]) -> None:
    obj["destination"] = obj["destination"] or factory.account.bank_account
    obj["arrival_date"] = obj["arrival_date"] or obj["created"] + 2 * 86_400


def _finish_dispute(factory: Factory, obj: dict[str, Any]) -> None:
    details = obj["evidence_details"]
    details["due_by"] = details["due_by"] or obj["created"] + 7 * 86_400


_FINISHERS: dict[str, _Finisher] = {
    "customer": _finish_customer,
    "product": _finish_product,
    "price": _finish_price,
    "plan": _finish_plan,
    "charge": _finish_charge,
    "payment_intent": _finish_intent,
    "setup_intent": _finish_intent,
    "invoice": _finish_invoice,
    "invoiceitem": _finish_invoiceitem,
    "subscription": _finish_subscription,
    "transfer": _finish_transfer,
    "payout": _finish_payout,
    "dispute": _finish_dispute,
}
