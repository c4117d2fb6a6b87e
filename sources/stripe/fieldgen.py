"""Generates ``sources/stripe/fields.json``: Stripe's fields and which are unix times.

Stripe's OpenAPI spec marks every unix-time field ``format: unix-time``, but the spec
(``openapi/spec3.json`` of stripe/openapi, tens of MB) is not at hand offline, nor in
the repository snapshot available to this project. The ``stripe`` SDK is
generated from that spec: its typed resource classes carry every field's type and
description. This script reads them without importing the types (they hide behind
``TYPE_CHECKING``): it parses each module with :mod:`ast`, follows a field's annotation
into nested ``StripeObject`` classes (dicts in the payload) and records, per object type,
every field path with its description and whether it is a unix time.

python -m sources.stripe.fieldgen            # rewrite sources/stripe/fields.json
python -m sources.stripe.fieldgen --check    # exit 1 when the file is stale

A field is a unix time when the SDK types it ``int`` and its name or description says
it is a point in time (see :func:`is_unix_time`). Two tests check the verdicts:
``tests/unit/test_stripe_fields.py`` against Stripe's example objects (generated from the
spec, they hold 1234567890 in every top-level unix-time field) and
``tests/e2e/test_stripe_timestamps.py`` against loaded sandbox data.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Optional

__all__ = [
    "FIELDS_FILE",
    "OBJECT_CLASSES",
    "generate",
    "is_unix_time",
    "main",
    "render",
]

FIELDS_FILE = Path(__file__).with_name("fields.json")
"""The committed output (read by :mod:`sources.stripe.fields`)."""

OBJECT_CLASSES: Mapping[str, str] = {
    "customer": "Customer",
    "product": "Product",
    "price": "Price",
    "coupon": "Coupon",
    "plan": "Plan",
    "charge": "Charge",
    "refund": "Refund",
    "dispute": "Dispute",
    "payment_intent": "PaymentIntent",
    "setup_intent": "SetupIntent",
    "invoice": "Invoice",
    "invoiceitem": "InvoiceItem",
    "subscription": "Subscription",
    "payout": "Payout",
    "transfer": "Transfer",
    "balance_transaction": "BalanceTransaction",
    "event": "Event",
    # Child objects: loaded as their own tables (invoice lines, subscription items) or
    # embedded in their parents (a customer's or a subscription's discount).
    "line_item": "InvoiceLineItem",
    "subscription_item": "SubscriptionItem",
    "discount": "Discount",
}
"""Object type (the payload's ``object`` field) -> class name exported by ``stripe``."""

MAX_DEPTH = 3
"""Deepest unix-time field path recorded (``a.b.c``), past what the loader flattens."""

DESCRIBED_DEPTH = 2
"""Fields are recorded (for their descriptions) down to ``a.b``; deeper ones only when
unix times: the loader keeps deeper values whole in JSON columns (max_table_nesting=1),
so their descriptions would document no column and only bloat the file."""

LEGACY_FIELDS: Mapping[str, Mapping[str, str]] = {
    "subscription": {
        "current_period_start": "Start of the current period that the subscription has "
        "been invoiced for (moved to subscription items in API 2025-03-31).",
        "current_period_end": "End of the current period that the subscription has been "
        "invoiced for; at the end of this period, a new invoice will be created "
        "(moved to subscription items in API 2025-03-31).",
    },
    "invoice": {
        "subscription_proration_date": "Only set for upcoming invoices that preview "
        "prorations: the time used to calculate prorations (removed in API 2025-03-31).",
    },
}
"""Unix-time fields of the pinned API version (2024-06-20) that the SDK no longer has.

The SDK follows the newest API version; sluice pins ``2024-06-20`` (settings.STRIPE_VERSION),
whose payloads still carry these. Descriptions are Stripe's docs of that version.
"""

LEGACY_OBJECTS: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "Subscription": {
        "discount": (
            "Discount",
            "Describes the current discount applied to this "
            "subscription, if there is one (replaced by `discounts` in API 2025-03-31).",
        ),
    },
    "Invoice": {
        "discount": (
            "Discount",
            "Describes the current discount applied to this "
            "invoice, if there is one (replaced by `discounts` in API 2025-03-31).",
        ),
    },
    "Discount": {
        "coupon": (
            "Coupon",
            "The coupon applied to create this discount (moved to "
            "`source.coupon` in API 2025-03-31).",
        ),
    },
}
"""Embedded objects of the pinned API version that the SDK no longer has, by the SDK
class that held them: field -> (SDK class of the embedded object, description). Their
fields are read from the SDK like any other."""

_TIME_NAME = re.compile(
    r"(^|_)(created|updated|date|start|end|expires|arrival|available_on|due_by)$"
    r"|_at$|_on$|^(start|end)_|(^|_)period_(start|end)$|(^|_)(trial|current_period)_(start|end)$"
    r"|_anchor$"
)
"""Names Stripe gives points in time (``created``, ``cancel_at``, ``period_end``...)."""

_EPOCH_TEXT = re.compile(r"unix epoch|unix timestamp|seconds since the epoch", re.IGNORECASE)
"""Stripe's standard wording for epoch seconds: decisive on its own."""

_TIME_TEXT = re.compile(
    r"\btimestamp\b|\b(date|time)\b( and time)? (at which|when|that|on which)"
    r"|^(the )?(date|time)\b|\bdate (the|that|of|on|this|when)\b",
    re.IGNORECASE,
)
"""Other descriptions of points in time ("Date that the coupon was applied", "The time at
which payment will next be attempted", "The timestamp is in UTC format")."""

_NOT_TIME_TEXT = re.compile(
    r"^(the )?(number|count|amount|day of|days|hour|minute|month|year|quantity|interval)\b"
    r"|\bnumber of (days|seconds|minutes|hours|months)\b|\bin (days|seconds|minutes)\b",
    re.IGNORECASE,
)
"""Integers that are durations, counts or calendar parts, not points in time."""


@dataclass(frozen=True)
class Field:
    """One field path of an object type.

    Attributes:
        path: Dotted path in the payload (``status_transitions.paid_at``).
        description: The SDK's docstring, whitespace collapsed.
        unix_time: Whether the value is seconds since the Unix epoch.
    """

    path: str
    description: str
    unix_time: bool


@dataclass(frozen=True)
class _ClassRef:
    """A class definition found in a parsed SDK module."""

    module: str
    node: ast.ClassDef
    scopes: tuple[ast.ClassDef, ...]


def is_unix_time(name: str, description: str) -> bool:
    """Whether an ``int`` field is a point in time, from its name and description.

    Stripe describes most of them "Measured in seconds since the Unix epoch"; others say
    "Date that the coupon was applied" or "The timestamp is in UTC format". A time-like
    name counts unless the description says it is a duration, count or calendar part
    (``days_until_due``, ``billing_cycle_anchor_config.day_of_month``).

    Args:
        name: The field's own name (last path segment).
        description: Its description.

    Returns:
        True for epoch seconds.
    """
    if _EPOCH_TEXT.search(description):
        return True
    if _NOT_TIME_TEXT.search(description.strip()):
        return False
    return bool(_TIME_TEXT.search(description) or _TIME_NAME.search(name))


def generate() -> dict[str, dict[str, object]]:
    """Every recorded field of every object type, read from the installed SDK.

    Returns:
        ``{object_type: {"unix_time": [path, ...], "descriptions": {path: text}}}``,
        sorted (paths are dotted: ``status_transitions.paid_at``).
    """
    result: dict[str, dict[str, object]] = {}
    for object_type, class_name in sorted(OBJECT_CLASSES.items()):
        fields = {f.path: f for f in _fields_of(_exported_class(class_name), "", 1, ())}
        for path, description in LEGACY_FIELDS.get(object_type, {}).items():
            fields.setdefault(path, Field(path, description, unix_time=True))
        result[object_type] = {
            "unix_time": sorted(path for path, f in fields.items() if f.unix_time),
            "descriptions": {
                path: f.description
                for path, f in sorted(fields.items())
                if f.unix_time or path.count(".") < DESCRIBED_DEPTH
            },
        }
    return result


def render(data: Mapping[str, object]) -> str:
    """The file text of ``fields.json`` (stable: sorted keys, two-space indent)."""
    header = {"_generated_by": "python -m sources.stripe.fieldgen", "_sdk": _sdk_version()}
    return json.dumps({**header, **data}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    """Writes ``fields.json`` (or, with ``--check``, says whether it is current)."""
    parser = argparse.ArgumentParser(prog="python -m sources.stripe.fieldgen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        current = FIELDS_FILE.read_text(encoding="utf-8") if FIELDS_FILE.exists() else ""
        if current != text:
            sys.stderr.write(f"{FIELDS_FILE} is stale: run python -m sources.stripe.fieldgen\n")
            return 1
        return 0
    FIELDS_FILE.write_text(text, encoding="utf-8")
    sys.stdout.write(f"{FIELDS_FILE}\n")
    return 0


def _sdk_version() -> str:
    import stripe

    return str(stripe.VERSION)


def _exported_class(class_name: str) -> _ClassRef:
    """The class ``stripe.<class_name>``, as parsed from its module's source."""
    import stripe

    cls = getattr(stripe, class_name)
    found = _find_class(cls.__module__, class_name, ())
    if found is None:
        raise LookupError(f"stripe.{class_name}: no class definition in {cls.__module__}")
    return found


@cache
def _module_tree(module: str) -> ast.Module:
    source = inspect.getsource(importlib.import_module(module))
    return ast.parse(source)


@cache
def _imports(module: str) -> dict[str, tuple[str, str]]:
    """Names imported by a module (``TYPE_CHECKING`` blocks too) -> (module, name)."""
    names: dict[str, tuple[str, str]] = {}
    for node in ast.walk(_module_tree(module)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stripe"):
            for alias in node.names:
                names[alias.asname or alias.name] = (node.module, alias.name)
    return names


def _find_class(module: str, name: str, scopes: tuple[ast.ClassDef, ...]) -> Optional[_ClassRef]:
    """Resolves a class name as Python would: enclosing classes, module, imports."""
    for depth in range(len(scopes), -1, -1):
        body = scopes[depth - 1].body if depth else _module_tree(module).body
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return _ClassRef(module, node, scopes[:depth])
    imported = _imports(module).get(name)
    if imported is not None and imported != (module, name):
        return _find_class(*imported, ())
    return None


def _fields_of(ref: _ClassRef, prefix: str, depth: int, seen: tuple[str, ...]) -> Iterator[Field]:
    """The fields of one class (and of the nested objects it holds), as paths."""
    key = f"{ref.module}.{ref.node.name}"
    if depth > MAX_DEPTH or key in seen:
        return
    inner_scopes = (*ref.scopes, ref.node)
    body = ref.node.body
    for index, node in enumerate(body):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        if name.isupper() or name.startswith("_"):
            continue  # ClassVar constants (OBJECT_NAME) and private attributes
        path = f"{prefix}{name}"
        description = _docstring_after(body, index)
        kind = _kind(node.annotation)
        if kind == "int":
            yield Field(path, description, is_unix_time(name, description))
        elif kind is not None:
            nested = _find_class(ref.module, kind, inner_scopes)
            if nested is None:
                yield Field(path, description, unix_time=False)
                continue
            yield Field(path, description, unix_time=False)
            yield from _fields_of(nested, f"{path}.", depth + 1, (*seen, key))
        else:
            yield Field(path, description, unix_time=False)
    yield from _legacy_fields_of(ref, prefix, depth, (*seen, key))


def _legacy_fields_of(
    ref: _ClassRef, prefix: str, depth: int, seen: tuple[str, ...]
) -> Iterator[Field]:
    """The :data:`LEGACY_OBJECTS` of an exported class (a nested class never has any)."""
    if ref.scopes:
        return
    for name, (class_name, description) in LEGACY_OBJECTS.get(ref.node.name, {}).items():
        path = f"{prefix}{name}"
        yield Field(path, description, unix_time=False)
        yield from _fields_of(_exported_class(class_name), f"{path}.", depth + 1, seen)


def _docstring_after(body: list[ast.stmt], index: int) -> str:
    """The attribute docstring (a string expression right after the annotation)."""
    if index + 1 < len(body):
        following = body[index + 1]
        if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            if isinstance(following.value.value, str):
                return " ".join(following.value.value.split())
    return ""


def _kind(annotation: ast.expr) -> Optional[str]:
    """``"int"``, the name of a nested object's class, or None for anything else.

    ``Optional[X]`` is X. Expandable fields (ids unless expanded), lists, unions of
    several types, strings, booleans and untyped dicts are None: the loader does not
    flatten them into typed columns.
    """
    inner = _unwrap_optional(annotation)
    if isinstance(inner, ast.Name):
        return "int" if inner.id == "int" else _object_name(inner.id)
    if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
        return _object_name(inner.value)
    return None


def _unwrap_optional(annotation: ast.expr) -> ast.expr:
    if isinstance(annotation, ast.Subscript) and _name(annotation.value) == "Optional":
        return _unwrap_optional(annotation.slice)
    return annotation


def _object_name(name: str) -> Optional[str]:
    """A class-looking name (nested objects are CamelCase); builtins are not objects."""
    if name in {"str", "bool", "float", "Any", "object"} or not name[:1].isupper():
        return None
    return name


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


if __name__ == "__main__":
    sys.exit(main())
