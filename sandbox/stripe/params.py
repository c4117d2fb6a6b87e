"""Parameters the write endpoints accept, and their conversion from form strings.

Form values arrive as strings; each parameter has a coercer giving it the JSON type of the
field it sets. An empty string unsets a nullable field, as with Stripe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import errors

Coercer = Callable[[str, Any], Any]
"""``coerce(param_path, raw_value) -> value``; raises ``StripeError`` on a bad value."""


def _text(path: str, raw: Any) -> str | None:
    if not isinstance(raw, str):
        raise errors.invalid_value(path, f"Invalid string: {raw!r}")
    return raw or None


def _integer(path: str, raw: Any) -> int | None:
    if raw == "":
        return None
    try:
        return int(_text(path, raw) or "")
    except ValueError:
        raise errors.invalid_value(path, f"Invalid integer: {raw}") from None


def _decimal(path: str, raw: Any) -> float | None:
    if raw == "":
        return None
    try:
        return float(_text(path, raw) or "")
    except ValueError:
        raise errors.invalid_value(path, f"Invalid decimal: {raw}") from None


def _boolean(path: str, raw: Any) -> bool:
    if raw in ("true", "false"):
        return bool(raw == "true")
    raise errors.invalid_value(path, f"Invalid boolean: {raw}")


METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500
"""Metadata limits: "You can specify up to 50 keys, with key names up to 40 characters
long and values up to 500 characters long" (https://docs.stripe.com/api/metadata). The
error wording below is the sandbox's; Stripe's exact messages are not documented."""


def _metadata(path: str, raw: Any) -> dict[str, Any] | None:
    if raw == "":
        return None
    if not isinstance(raw, Mapping):
        raise errors.invalid_value(path, f"Invalid object: {path}")
    values = {str(key): _text(f"{path}[{key}]", value) or "" for key, value in raw.items()}
    check_metadata(path, values)
    return values


def check_metadata(path: str, values: Mapping[str, str]) -> None:
    """Refuse metadata over Stripe's documented limits.

    Raises:
        StripeError: 400 ``invalid_request_error`` naming the offending key.
    """
    if len(values) > METADATA_MAX_KEYS:
        raise errors.invalid_value(
            path, f"You can only specify up to {METADATA_MAX_KEYS} metadata keys."
        )
    for key, value in values.items():
        if len(key) > METADATA_MAX_KEY_LENGTH:
            raise errors.invalid_value(
                f"{path}[{key}]",
                f"Metadata keys can have up to {METADATA_MAX_KEY_LENGTH} characters, but "
                f"you passed in a key that is {len(key)} characters long.",
            )
        if len(value) > METADATA_MAX_VALUE_LENGTH:
            raise errors.invalid_value(
                f"{path}[{key}]",
                f"Metadata values can have up to {METADATA_MAX_VALUE_LENGTH} characters, "
                f"but you passed in a value that is {len(value)} characters long.",
            )


def _strings(path: str, raw: Any) -> list[str]:
    if raw == "":
        return []
    if not isinstance(raw, list):
        raise errors.invalid_value(path, f"Invalid array: {path}")
    return [_text(f"{path}[{index}]", item) or "" for index, item in enumerate(raw)]


def _hash(schema: Mapping[str, Coercer]) -> Coercer:
    def coerce(path: str, raw: Any) -> dict[str, Any] | None:
        if raw == "":
            return None
        if not isinstance(raw, Mapping):
            raise errors.invalid_value(path, f"Invalid object: {path}")
        return coerce_mapping(schema, raw, prefix=path)

    return coerce


def _hashes(schema: Mapping[str, Coercer]) -> Coercer:
    element = _hash(schema)

    def coerce(path: str, raw: Any) -> list[Any]:
        if not isinstance(raw, list):
            raise errors.invalid_value(path, f"Invalid array: {path}")
        return [element(f"{path}[{index}]", item) for index, item in enumerate(raw)]

    return coerce


_ADDRESS = _hash(
    {name: _text for name in ("city", "country", "line1", "line2", "postal_code", "state")}
)
_SHIPPING = _hash({"address": _ADDRESS, "name": _text, "phone": _text})
_RECURRING = _hash({"interval": _text, "interval_count": _integer, "usage_type": _text})
_SUBSCRIPTION_ITEMS = _hashes({"price": _text, "quantity": _integer})

_CUSTOMER: dict[str, Coercer] = {
    "address": _ADDRESS,
    "balance": _integer,
    "description": _text,
    "email": _text,
    "invoice_prefix": _text,
    "metadata": _metadata,
    "name": _text,
    "phone": _text,
    "preferred_locales": _strings,
    "shipping": _SHIPPING,
    "tax_exempt": _text,
}
_PRODUCT: dict[str, Coercer] = {
    "active": _boolean,
    "default_price": _text,
    "description": _text,
    "images": _strings,
    "metadata": _metadata,
    "name": _text,
    "shippable": _boolean,
    "statement_descriptor": _text,
    "tax_code": _text,
    "unit_label": _text,
    "url": _text,
}
_PRICE_UPDATE: dict[str, Coercer] = {
    "active": _boolean,
    "lookup_key": _text,
    "metadata": _metadata,
    "nickname": _text,
    "tax_behavior": _text,
}
_PLAN_UPDATE: dict[str, Coercer] = {
    "active": _boolean,
    "metadata": _metadata,
    "nickname": _text,
    "product": _text,
    "trial_period_days": _integer,
}
_SUBSCRIPTION_UPDATE: dict[str, Coercer] = {
    "cancel_at_period_end": _boolean,
    "collection_method": _text,
    "days_until_due": _integer,
    "default_payment_method": _text,
    "description": _text,
    "items": _SUBSCRIPTION_ITEMS,
    "metadata": _metadata,
}
_INVOICE_UPDATE: dict[str, Coercer] = {
    "auto_advance": _boolean,
    "collection_method": _text,
    "description": _text,
    "due_date": _integer,
    "footer": _text,
    "metadata": _metadata,
}
_INVOICEITEM_UPDATE: dict[str, Coercer] = {
    "amount": _integer,
    "description": _text,
    "discountable": _boolean,
    "metadata": _metadata,
    "price": _text,
    "quantity": _integer,
}
_DESCRIBED: dict[str, Coercer] = {"description": _text, "metadata": _metadata}

CREATE_PARAMS: dict[str, dict[str, Coercer]] = {
    "customer": _CUSTOMER,
    "product": {**_PRODUCT, "id": _text},
    "price": {
        **_PRICE_UPDATE,
        "currency": _text,
        "product": _text,
        "recurring": _RECURRING,
        "unit_amount": _integer,
    },
    "coupon": {
        "amount_off": _integer,
        "currency": _text,
        "duration": _text,
        "duration_in_months": _integer,
        "id": _text,
        "max_redemptions": _integer,
        "metadata": _metadata,
        "name": _text,
        "percent_off": _decimal,
        "redeem_by": _integer,
    },
    "plan": {
        **_PLAN_UPDATE,
        "amount": _integer,
        "currency": _text,
        "id": _text,
        "interval": _text,
        "interval_count": _integer,
        "usage_type": _text,
    },
    "subscription": {**_SUBSCRIPTION_UPDATE, "currency": _text, "customer": _text},
    "invoice": {**_INVOICE_UPDATE, "currency": _text, "customer": _text, "subscription": _text},
    "invoiceitem": {
        **_INVOICEITEM_UPDATE,
        "currency": _text,
        "customer": _text,
        "invoice": _text,
    },
}
"""``POST /v1/<list>``: creatable types and their parameters."""

UPDATE_PARAMS: dict[str, dict[str, Coercer]] = {
    "customer": _CUSTOMER,
    "product": _PRODUCT,
    "price": _PRICE_UPDATE,
    "coupon": {"metadata": _metadata, "name": _text},
    "plan": _PLAN_UPDATE,
    "subscription": _SUBSCRIPTION_UPDATE,
    "invoice": _INVOICE_UPDATE,
    "invoiceitem": _INVOICEITEM_UPDATE,
    "charge": {
        **_DESCRIBED,
        "fraud_details": _hash({"user_report": _text}),
        "receipt_email": _text,
        "shipping": _SHIPPING,
        "transfer_group": _text,
    },
    "payment_intent": {**_DESCRIBED, "receipt_email": _text},
    "setup_intent": _DESCRIBED,
    "refund": {"metadata": _metadata},
    "dispute": {"metadata": _metadata},
    "payout": {"metadata": _metadata},
    "transfer": _DESCRIBED,
}
"""``POST /v1/<list>/<id>``: updatable types and their parameters."""

REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {
    "product": ("name",),
    "price": ("currency", "product"),
    "coupon": ("duration",),
    "plan": ("currency", "interval", "product"),
    "subscription": ("customer", "items"),
    "invoice": ("customer",),
    "invoiceitem": ("customer",),
}


def coerce_mapping(
    schema: Mapping[str, Coercer], raw: Mapping[str, Any], *, prefix: str = ""
) -> dict[str, Any]:
    """Convert ``raw`` form values with ``schema``.

    Raises:
        StripeError: 400 for an unknown parameter or a value of the wrong kind.
    """
    converted: dict[str, Any] = {}
    for name, value in raw.items():
        path = f"{prefix}[{name}]" if prefix else name
        coercer = schema.get(name)
        if coercer is None:
            raise errors.unknown_parameter(path)
        converted[name] = coercer(path, value)
    return converted


def coerce_create(type_name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Convert and check the parameters of ``POST /v1/<list>``.

    Raises:
        StripeError: 400 for unknown, invalid or missing parameters.
    """
    converted = coerce_mapping(CREATE_PARAMS[type_name], raw)
    for name in REQUIRED_ON_CREATE.get(type_name, ()):
        if converted.get(name) in (None, "", []):
            raise errors.invalid_value(name, f"Missing required param: {name}.")
    if type_name == "coupon" and (converted.get("percent_off") is None) == (
        converted.get("amount_off") is None
    ):
        raise errors.invalid_request(
            "You must pass exactly one of percent_off or amount_off.", param="percent_off"
        )
    return converted


def coerce_update(type_name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Convert and check the parameters of ``POST /v1/<list>/<id>``.

    Raises:
        StripeError: 400 for unknown or invalid parameters.
    """
    return coerce_mapping(UPDATE_PARAMS[type_name], raw)
