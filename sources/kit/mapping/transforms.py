"""The transform registry: named, reusable value transforms that mappings refer to.

A transform takes the value read from the source (a tuple of values when a field
declares several ``sources``, ``None`` when it declares none) and a
:class:`TransformContext` (the field's ``args`` and an injected clock), and returns
the target value. It raises :class:`TransformError` with a short reason (never the
value itself, which may be personal data) when it cannot.

Built-ins: ``lower``, ``upper``, ``trim``, ``minor_units_to_decimal`` (alias
``cents_to_amount``), ``epoch_to_timestamp``, ``enum``, ``join``, ``concat``,
``constant``, ``now``, ``coalesce``, ``email_domain``, ``to_text``, ``to_bool``.
Register your own with :func:`register_transform`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pendulum

__all__ = [
    "THREE_DECIMAL_CURRENCIES",
    "ZERO_DECIMAL_CURRENCIES",
    "TransformContext",
    "TransformError",
    "TransformFn",
    "currency_exponent",
    "get_transform",
    "is_registered",
    "register_transform",
    "registered_transforms",
    "unregister_transform",
]

ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif", "clp", "djf", "gnf", "isk", "jpy", "kmf", "krw", "mga", "pyg",
        "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    }
)  # fmt: skip
"""Currencies whose smallest unit is the whole unit (ISO 4217 exponent 0)."""

THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd"})
"""Currencies with three decimal places (ISO 4217 exponent 3)."""

DEFAULT_EXPONENT = 2


class TransformError(ValueError):
    """A transform cannot produce a value; the message says why (without the value)."""


def utc_now() -> pendulum.DateTime:
    """The default clock of :class:`TransformContext`."""
    return pendulum.now("UTC")


@dataclass(frozen=True)
class TransformContext:
    """What a transform gets besides the value.

    Attributes:
        args: The field's ``args`` from the mapping spec.
        now: Clock for ``now`` (injected in tests).
    """

    args: Mapping[str, Any] = field(default_factory=dict)
    now: Callable[[], datetime] = utc_now


TransformFn = Callable[[Any, TransformContext], Any]
"""``fn(value, context) -> target value``."""

_lock = threading.Lock()
_registry: dict[str, TransformFn] = {}


def register_transform(name: str, fn: TransformFn, *, replace: bool = False) -> None:
    """Registers a transform under ``name`` for mapping specs to use.

    Register before loading the specs that use it: unknown names fail the load.

    Args:
        name: Name used in ``transform = "..."``.
        fn: The transform.
        replace: Allow replacing an existing transform of that name.

    Raises:
        ValueError: ``name`` is taken and ``replace`` is false.
    """
    with _lock:
        if name in _registry and not replace:
            raise ValueError(f"transform {name!r} is already registered")
        _registry[name] = fn


def unregister_transform(name: str) -> None:
    """Removes a transform (no error when absent)."""
    with _lock:
        _registry.pop(name, None)


def is_registered(name: str) -> bool:
    """Whether a transform of that name exists."""
    with _lock:
        return name in _registry


def registered_transforms() -> list[str]:
    """Names of every registered transform, sorted."""
    with _lock:
        return sorted(_registry)


def get_transform(name: str) -> TransformFn:
    """The transform registered under ``name``.

    Raises:
        KeyError: No such transform.
    """
    with _lock:
        return _registry[name]


def currency_exponent(currency: str) -> int:
    """Decimal places of a currency's major unit (``jpy`` 0, ``kwd`` 3, others 2).

    Args:
        currency: ISO 4217 code, any case.

    Returns:
        The exponent.
    """
    code = currency.strip().lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return DEFAULT_EXPONENT


# -- built-ins ----------------------------------------------------------------------------


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TransformError(f"{what} expects text, got {type(value).__name__}")
    return value


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TransformError(f"{what} expects an integer, got {type(value).__name__}")
    return value


def _values(value: Any, what: str) -> Sequence[Any]:
    if isinstance(value, (list, tuple)):
        return value
    raise TransformError(f"{what} expects several values (use 'sources'), got one")


def lower(value: Any, ctx: TransformContext) -> Any:
    """Lower-cases text; ``None`` stays ``None``."""
    return None if value is None else _text(value, "lower").lower()


def upper(value: Any, ctx: TransformContext) -> Any:
    """Upper-cases text; ``None`` stays ``None``."""
    return None if value is None else _text(value, "upper").upper()


def trim(value: Any, ctx: TransformContext) -> Any:
    """Strips surrounding whitespace; blank text becomes ``None``."""
    if value is None:
        return None
    return _text(value, "trim").strip() or None


def minor_units_to_decimal(value: Any, ctx: TransformContext) -> Any:
    """Minor units (cents) to a ``Decimal`` amount by the currency's exponent.

    The value is ``(amount, currency)`` (``sources = ["amount", "currency"]``), or the
    amount alone with ``args.currency`` fixed. ``jpy`` 500 -> 500, ``usd`` 1999 -> 19.99,
    ``kwd`` 1999 -> 1.999.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise TransformError("minor_units_to_decimal expects (amount, currency)")
        amount, currency = value
    else:
        amount, currency = value, ctx.args.get("currency")
    if amount is None:
        return None
    minor = _integer(amount, "minor_units_to_decimal amount")
    if currency is None:
        raise TransformError("minor_units_to_decimal needs a currency, got none")
    exponent = currency_exponent(_text(currency, "minor_units_to_decimal currency"))
    return Decimal(minor).scaleb(-exponent)


def epoch_to_timestamp(value: Any, ctx: TransformContext) -> Any:
    """Unix time (``args.unit``: ``s`` default, or ``ms``) to a UTC-aware pendulum time.

    An aware ``datetime`` passes through (converted to UTC); naive ones are refused.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TransformError("epoch_to_timestamp got a datetime without a timezone")
        return pendulum.instance(value).in_timezone("UTC")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TransformError(f"epoch_to_timestamp expects a number, got {type(value).__name__}")
    unit = ctx.args.get("unit", "s")
    if unit not in ("s", "ms"):
        raise TransformError(f"epoch_to_timestamp unit must be 's' or 'ms', not {unit!r}")
    seconds = value / 1000 if unit == "ms" else value
    return pendulum.from_timestamp(seconds, tz="UTC")


def enum(value: Any, ctx: TransformContext) -> Any:
    """Maps a code through ``args.values``; unknown codes get ``args.default`` or fail."""
    if value is None:
        return None
    values = ctx.args.get("values") or {}
    key = str(value)
    if key in values:
        return values[key]
    if "default" in ctx.args:
        return ctx.args["default"]
    raise TransformError(f"enum has no mapping for {key!r} and no default")


def join(value: Any, ctx: TransformContext) -> Any:
    """Joins the non-null elements of a list with ``args.separator`` (default ``", "``)."""
    if value is None:
        return None
    items = _values(value, "join")
    return str(ctx.args.get("separator", ", ")).join(str(v) for v in items if v is not None)


def concat(value: Any, ctx: TransformContext) -> Any:
    """Concatenates several sources with ``args.separator`` (default none), nulls skipped."""
    parts = [str(v) for v in _values(value, "concat") if v is not None and v != ""]
    return str(ctx.args.get("separator", "")).join(parts) or None


def constant(value: Any, ctx: TransformContext) -> Any:
    """Always ``args.value``."""
    if "value" not in ctx.args:
        raise TransformError("constant needs args.value")
    return ctx.args["value"]


def now(value: Any, ctx: TransformContext) -> Any:
    """The time of mapping, from the injected clock."""
    return ctx.now()


def coalesce(value: Any, ctx: TransformContext) -> Any:
    """The first source value that is not null (or blank text)."""
    for item in _values(value, "coalesce"):
        if item is not None and item != "":
            return item
    return None


def email_domain(value: Any, ctx: TransformContext) -> Any:
    """The lower-cased domain of an e-mail address; ``None`` without an ``@``."""
    if value is None:
        return None
    _, at, domain = _text(value, "email_domain").strip().rpartition("@")
    return domain.lower() or None if at else None


def to_text(value: Any, ctx: TransformContext) -> Any:
    """Any scalar as text; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, (dict, list, tuple)):
        raise TransformError(f"to_text expects a scalar, got {type(value).__name__}")
    return str(value)


def to_bool(value: Any, ctx: TransformContext) -> Any:
    """Truthiness as a bool; ``None`` becomes ``args.default`` (or stays ``None``)."""
    if value is None:
        return ctx.args.get("default")
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return bool(value)


BUILT_INS: Mapping[str, TransformFn] = {
    "lower": lower,
    "upper": upper,
    "trim": trim,
    "minor_units_to_decimal": minor_units_to_decimal,
    "cents_to_amount": minor_units_to_decimal,
    "epoch_to_timestamp": epoch_to_timestamp,
    "enum": enum,
    "join": join,
    "concat": concat,
    "constant": constant,
    "now": now,
    "coalesce": coalesce,
    "email_domain": email_domain,
    "to_text": to_text,
    "to_bool": to_bool,
}
"""Transforms every mapping can use."""

for _name, _fn in BUILT_INS.items():
    register_transform(_name, _fn)
