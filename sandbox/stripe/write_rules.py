"""Switchable rejections of updates, so tests can make a write fail on purpose.

Stripe itself only refuses what its documented checks refuse (metadata limits and the
like, see ``params.py``); a rule here stands in for anything else a real account would
refuse (a Radar rule, a closed customer), answered as Stripe answers invalid parameters:
400 ``invalid_request_error`` with the offending ``param``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors

Condition = Callable[[Mapping[str, Any]], bool]
"""Given ``{"id": <object id>, **update params}``: True rejects the update."""


@dataclass(frozen=True)
class WriteRule:
    """One active rejection rule.

    Attributes:
        type_name: Object type it guards (``customer``, ``subscription``...).
        name: Name to remove it by.
        when: The rejection condition.
        message: The error message answered.
        param: The ``param`` of the error (e.g. ``metadata[tier]``).
    """

    type_name: str
    name: str
    when: Condition
    message: str
    param: str | None = None


class WriteRules:
    """The active rules; thread-safe, changes apply to the next request.

    Example:
        >>> sandbox.write_rules.add(
        ...     "customer", "no_vip", lambda p: p.get("metadata", {}).get("tier") == "vip",
        ...     "VIP tier is not allowed", param="metadata[tier]")
    """

    def __init__(self) -> None:
        """Start with no rules."""
        self._rules: list[WriteRule] = []
        self._lock = threading.Lock()

    def add(
        self, type_name: str, name: str, when: Condition, message: str, *, param: str | None = None
    ) -> WriteRule:
        """Activate a rule and return it."""
        rule = WriteRule(type_name, name, when, message, param)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, name: str) -> None:
        """Deactivate every rule named ``name``."""
        with self._lock:
            self._rules = [r for r in self._rules if r.name != name]

    def clear(self) -> None:
        """Deactivate every rule."""
        with self._lock:
            self._rules.clear()

    def check(self, type_name: str, obj_id: str, params: Mapping[str, Any]) -> None:
        """Refuse an update a rule rejects.

        Raises:
            StripeError: 400 ``invalid_request_error`` of the first rule that matches.
        """
        with self._lock:
            rules = [r for r in self._rules if r.type_name == type_name]
        subject = {"id": obj_id, **params}
        for rule in rules:
            if rule.when(subject):
                raise errors.invalid_request(rule.message, param=rule.param)
