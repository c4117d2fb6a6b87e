"""``expand[]``: replace referenced ids with the objects they name."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import errors

Fetch = Callable[[str, str], "Mapping[str, Any] | None"]
"""``fetch(type_name, obj_id)`` returns the object (or its deleted stub) or ``None``."""

EXPANDABLE: dict[str, str] = {
    "balance_transaction": "balance_transaction",
    "charge": "charge",
    "customer": "customer",
    "default_price": "price",
    "failure_balance_transaction": "balance_transaction",
    "invoice": "invoice",
    "latest_charge": "charge",
    "latest_invoice": "invoice",
    "payment_intent": "payment_intent",
    "product": "product",
    "subscription": "subscription",
}
"""Expandable field names and the type of object they reference."""

MAX_DEPTH = 4


def list_paths(paths: Sequence[str]) -> list[str]:
    """Return the per-record paths of a list's ``expand`` (``data.customer`` -> ``customer``).

    Raises:
        StripeError: 400 for a path not starting with ``data.``.
    """
    stripped = []
    for path in paths:
        if not path.startswith("data."):
            raise _not_expandable(path)
        stripped.append(path[len("data.") :])
    return stripped


def expand(obj: Mapping[str, Any], paths: Sequence[str], fetch: Fetch) -> dict[str, Any]:
    """Return a copy of ``obj`` with every dotted path in ``paths`` expanded.

    Raises:
        StripeError: 400 for a field that cannot be expanded or a path nested too deeply.
    """
    result = dict(obj)
    for path in paths:
        parts = path.split(".")
        if len(parts) > MAX_DEPTH:
            raise errors.invalid_request(
                f"You cannot expand more than {MAX_DEPTH} levels of a property.", param="expand"
            )
        result = _expand_path(result, parts, path, fetch)
    return result


def _expand_path(
    obj: Mapping[str, Any], parts: Sequence[str], path: str, fetch: Fetch
) -> dict[str, Any]:
    head, rest = parts[0], parts[1:]
    type_name = EXPANDABLE.get(head)
    if type_name is None or head not in obj:
        raise _not_expandable(path)
    value = obj[head]
    if isinstance(value, str):
        value = fetch(type_name, value) or value
    if rest and isinstance(value, Mapping):
        value = _expand_path(value, rest, path, fetch)
    return {**obj, head: value}


def _not_expandable(path: str) -> errors.StripeError:
    return errors.invalid_request(f"This property cannot be expanded ({path}).", param="expand")
