"""Object templates: Stripe's example objects with their placeholder values made plausible.

The fixtures carry placeholders (``created: 1234567890``, ``currency: "currency"``, ids like
``obj_123``, 10-digit "amounts" in nested objects). Each template keeps the fixture's fields,
nesting and nulls, and replaces those placeholders with the neutral value a freshly created
object of that type has. Builders in ``factory`` then fill in real values.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from .fixtures import fixture

# Dotted paths into each fixture and the value a fresh object has there.
_FIXES: dict[str, dict[str, Any]] = {
    "customer": {
        "created": 0,
        "currency": None,
        "discount": None,
        "invoice_prefix": "",
        "shipping": None,
    },
    "product": {
        "created": 0,
        "default_price": None,
        "description": None,
        "name": "",
        "package_dimensions": None,
        "type": "service",
        "updated": 0,
    },
    "price": {
        "created": 0,
        "custom_unit_amount": None,
        "product": "",
        "recurring": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": 0,
        "unit_amount_decimal": "0",
    },
    "coupon": {
        "created": 0,
        "currency": None,
        "duration": "once",
        "duration_in_months": None,
        "name": None,
        "percent_off": None,
        "redeem_by": None,
    },
    "plan": {
        "amount": 0,
        "amount_decimal": "0",
        "created": 0,
        "product": "",
        "transform_usage": None,
    },
    "charge": {
        "amount": 0,
        "amount_captured": 0,
        "balance_transaction": None,
        "billing_details.name": None,
        "calculated_statement_descriptor": None,
        "captured": True,
        "created": 0,
        "description": None,
        "invoice": None,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "payment_method": None,
        "payment_method_details.card.amount_authorized": 0,
        "payment_method_details.card.installments": None,
        "payment_method_details.card.overcapture.maximum_amount_capturable": 0,
        "payment_method_details.card.three_d_secure": None,
        "payment_method_details.card.wallet": None,
        "receipt_url": None,
        "shipping": None,
        "source": None,
        "transfer_data": None,
    },
    "refund": {
        "amount": 0,
        "charge": None,
        "created": 0,
        "destination_details.card.type": "refund",
    },
    "dispute": {
        "amount": 0,
        "charge": "",
        "created": 0,
        "evidence_details.due_by": None,
        "evidence_details.enhanced_eligibility": {},
        "enhanced_eligibility_types": [],
        "status": "needs_response",
    },
    "payment_intent": {
        "amount": 0,
        "canceled_at": None,
        "client_secret": "",
        "created": 0,
        "last_payment_error": None,
        "managed_payments": {"enabled": False},
        "next_action": None,
        "payment_method_configuration_details": None,
        "processing": None,
        "shipping": None,
        "transfer_data": None,
    },
    "setup_intent": {
        "automatic_payment_methods": {"enabled": True},
        "client_secret": "",
        "created": 0,
        "last_setup_error": None,
        "next_action": None,
        "payment_method_configuration_details": None,
    },
    "invoice": {
        "account_name": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_remaining": 0,
        "automatic_tax.liability": None,
        "created": 0,
        "customer": "",
        "customer_shipping": None,
        "due_date": None,
        "effective_at": None,
        "from_invoice": None,
        "last_finalization_error": None,
        "lines.data": [],
        "next_payment_attempt": None,
        "parent": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": 0,
        "period_start": 0,
        "shipping_cost": None,
        "shipping_details": None,
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "total": 0,
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    },
    "invoiceitem": {
        "amount": 0,
        "customer": "",
        "date": 0,
        "description": None,
        "net_amount": 0,
        "parent": None,
        "period": {"end": 0, "start": 0},
        "pricing": None,
        "quantity_decimal": "1",
    },
    "subscription": {
        "billing_cycle_anchor": 0,
        "billing_cycle_anchor_config": None,
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "created": 0,
        "customer": "",
        "ended_at": None,
        "items.data": [],
        "managed_payments": {"enabled": False},
        "next_pending_invoice_item_invoice": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_update": None,
        "start_date": 0,
        "transfer_data": None,
        "trial_end": None,
        "trial_start": None,
    },
    "balance_transaction": {
        "amount": 0,
        "available_on": 0,
        "created": 0,
        "description": None,
        "net": 0,
        "source": None,
    },
    "payout": {
        "amount": 0,
        "arrival_date": 0,
        "balance_transaction": None,
        "created": 0,
        "destination": None,
        "status": "pending",
        "trace_id": {"status": "pending", "value": None},
    },
    "transfer": {
        "amount": 0,
        "balance_transaction": None,
        "created": 0,
        "destination": "",
        "destination_payment": None,
    },
    "event": {
        "created": 0,
        "data": {"object": {}},
        "request": {"id": None, "idempotency_key": None},
        "type": "",
    },
}

# Fixes for objects nested in other fixtures (invoice lines, subscription items, discounts).
_LINE_ITEM_FIXES: dict[str, Any] = {
    "amount": 0,
    "description": None,
    "invoice": "",
    "parent": None,
    "period": {"end": 0, "start": 0},
    "pretax_credit_amounts": [],
    "pricing": None,
    "subtotal": 0,
    "taxes": [],
}
_SUBSCRIPTION_ITEM_FIXES: dict[str, Any] = {
    "billing_thresholds": None,
    "created": 0,
    "current_period_end": 0,
    "current_period_start": 0,
    "plan": None,
    "price": None,
    "subscription": "",
}
_DISCOUNT_FIXES: dict[str, Any] = {
    "source": {"coupon": None, "type": "coupon"},
    "start": 0,
}


def _set_path(obj: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        obj = obj[part]
    obj[leaf] = copy.deepcopy(value)


def _apply_fixes(obj: dict[str, Any], fixes: dict[str, Any]) -> dict[str, Any]:
    for dotted, value in fixes.items():
        _set_path(obj, dotted, value)
    return obj


@functools.cache
def _build(name: str) -> dict[str, Any]:
    if name == "line_item":
        item = fixture("invoice")["lines"]["data"][0]
        return _apply_fixes(item, _LINE_ITEM_FIXES)
    if name == "subscription_item":
        item = fixture("subscription")["items"]["data"][0]
        return _apply_fixes(item, _SUBSCRIPTION_ITEM_FIXES)
    if name == "discount":
        return _apply_fixes(fixture("customer")["discount"], _DISCOUNT_FIXES)
    if name == "payment_method_details":
        details: dict[str, Any] = _build("charge")["payment_method_details"]
        return details
    return _apply_fixes(fixture(name), _FIXES.get(name, {}))


@functools.cache
def _encoded(name: str) -> str:
    return json.dumps(_build(name))


def template(name: str) -> dict[str, Any]:
    """Return a fresh, mutable copy of the template for ``name``.

    Args:
        name: An object type (``customer`` ...), ``line_item``, ``subscription_item``,
            ``discount``, ``payment_method_details`` (of a card charge) or a ``deleted_*``
            fixture name.
    """
    # Decoding the cached JSON is several times faster than copy.deepcopy.
    fresh: dict[str, Any] = json.loads(_encoded(name))
    return fresh


@functools.cache
def template_fields(name: str) -> frozenset[str]:
    """Return the top-level field names of the template for ``name``."""
    return frozenset(_build(name))
