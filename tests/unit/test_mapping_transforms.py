"""Unit: the built-in mapping transforms and the transform registry."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pendulum
import pytest

from sources.kit.mapping.transforms import (
    TransformContext,
    TransformError,
    currency_exponent,
    get_transform,
    register_transform,
    unregister_transform,
)

FIXED = pendulum.datetime(2024, 5, 1, 12, 0, 0, tz="UTC")


def run(name: str, value: Any, args: dict[str, Any] | None = None) -> Any:
    return get_transform(name)(value, TransformContext(args=args or {}, now=lambda: FIXED))


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (500, "jpy", Decimal("500")),
        (1999, "usd", Decimal("19.99")),
        (1999, "USD", Decimal("19.99")),
        (1999, "kwd", Decimal("1.999")),
        (-250, "eur", Decimal("-2.50")),
        (0, "krw", Decimal("0")),
        (12345, "xyz", Decimal("123.45")),
    ],
    ids=[
        "jpy-zero-decimal",
        "usd",
        "upper-case-code",
        "kwd-three-decimal",
        "negative",
        "krw-zero",
        "unknown-currency-two-decimals",
    ],
)
def test_minor_units_to_decimal_uses_the_currency_exponent(
    amount: int, currency: str, expected: Decimal
) -> None:
    result = run("minor_units_to_decimal", (amount, currency))
    assert isinstance(result, Decimal)
    assert result == expected
    assert str(result) == str(expected)


def test_minor_units_to_decimal_takes_a_fixed_currency_from_args() -> None:
    assert run("cents_to_amount", 1999, {"currency": "bhd"}) == Decimal("1.999")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (("19.99", "usd"), "integer"),
        ((True, "usd"), "integer"),
        ((100, None), "needs a currency"),
        ((100, 5), "expects text"),
        ((1, 2, 3), r"expects \(amount, currency\)"),
    ],
    ids=["text-amount", "bool-amount", "no-currency", "numeric-currency", "three-values"],
)
def test_minor_units_to_decimal_refuses_bad_input(value: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        run("minor_units_to_decimal", value)


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("jpy", 0), ("VND", 0), ("bhd", 3), ("omr", 3), ("tnd", 3), ("jod", 3), ("gbp", 2)],
    ids=["jpy", "vnd", "bhd", "omr", "tnd", "jod", "gbp"],
)
def test_currency_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        (1714564800, {}, pendulum.datetime(2024, 5, 1, 12, tz="UTC")),
        (1714564800.5, {}, pendulum.datetime(2024, 5, 1, 12, 0, 0, 500000, tz="UTC")),
        (1714564800000, {"unit": "ms"}, pendulum.datetime(2024, 5, 1, 12, tz="UTC")),
        (
            datetime(2024, 5, 1, 14, tzinfo=pendulum.timezone("Europe/Berlin")),
            {},
            pendulum.datetime(2024, 5, 1, 12, tz="UTC"),
        ),
    ],
    ids=["seconds", "fractional", "milliseconds", "aware-datetime"],
)
def test_epoch_to_timestamp_is_timezone_aware_utc(
    value: Any, args: dict[str, Any], expected: datetime
) -> None:
    result = run("epoch_to_timestamp", value, args)
    assert result == expected
    assert result.utcoffset() is not None and result.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "value",
    ["1714564800", True, datetime(2024, 5, 1, 12)],
    ids=["text", "bool", "naive-datetime"],
)
def test_epoch_to_timestamp_refuses_non_numbers(value: Any) -> None:
    with pytest.raises(TransformError):
        run("epoch_to_timestamp", value)


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("succeeded", {"values": {"succeeded": "paid"}, "default": "unknown"}, "paid"),
        ("weird", {"values": {"succeeded": "paid"}, "default": "unknown"}, "unknown"),
        (None, {"values": {}, "default": "unknown"}, None),
    ],
    ids=["mapped", "default-for-unknown", "null-stays-null"],
)
def test_enum(value: Any, args: dict[str, Any], expected: Any) -> None:
    assert run("enum", value, args) == expected


def test_enum_without_default_refuses_unknown_codes() -> None:
    with pytest.raises(TransformError, match="no mapping for 'weird'"):
        run("enum", "weird", {"values": {"a": "b"}})


@pytest.mark.parametrize(
    ("name", "value", "args", "expected"),
    [
        ("lower", "ADA@Example.COM", {}, "ada@example.com"),
        ("upper", "usd", {}, "USD"),
        ("trim", "  Ada  ", {}, "Ada"),
        ("trim", "   ", {}, None),
        ("lower", None, {}, None),
        ("coalesce", (None, "", "b", "c"), {}, "b"),
        ("coalesce", (None, None), {}, None),
        ("concat", ("Ada", None, "Lovelace"), {"separator": " "}, "Ada Lovelace"),
        ("join", ["en", "de"], {"separator": "|"}, "en|de"),
        ("constant", None, {"value": "stripe"}, "stripe"),
        ("now", None, {}, FIXED),
        ("email_domain", " Ada@Example.com ", {}, "example.com"),
        ("email_domain", "not-an-address", {}, None),
        ("to_bool", None, {"default": False}, False),
        ("to_bool", "yes", {}, True),
        ("to_text", 42, {}, "42"),
    ],
    ids=[
        "lower",
        "upper",
        "trim",
        "trim-blank",
        "null-passes",
        "coalesce-first",
        "coalesce-none",
        "concat",
        "join",
        "constant",
        "now-injected-clock",
        "email-domain",
        "email-domain-none",
        "to-bool-default",
        "to-bool-text",
        "to-text",
    ],
)
def test_simple_transforms(name: str, value: Any, args: dict[str, Any], expected: Any) -> None:
    assert run(name, value, args) == expected


@pytest.mark.parametrize(
    ("name", "value", "args"),
    [("lower", 5, {}), ("coalesce", "one", {}), ("constant", None, {})],
    ids=["lower-number", "coalesce-single-value", "constant-without-value"],
)
def test_transforms_refuse_bad_input(name: str, value: Any, args: dict[str, Any]) -> None:
    with pytest.raises(TransformError):
        run(name, value, args)


def test_custom_transform_registers_and_refuses_duplicates() -> None:
    register_transform("test_reverse", lambda v, ctx: v[::-1])
    try:
        assert run("test_reverse", "abc") == "cba"
        with pytest.raises(ValueError, match="already registered"):
            register_transform("test_reverse", lambda v, ctx: v)
    finally:
        unregister_transform("test_reverse")
    with pytest.raises(KeyError):
        get_transform("test_reverse")


def test_transform_context_default_clock_is_aware() -> None:
    now = TransformContext().now()
    assert now.tzinfo is not None and now.astimezone(timezone.utc).utcoffset().total_seconds() == 0
