"""Formula fields, evaluated when records are read, as Salesforce does.

A formula field's value is computed at read time and never stored, so a change of what
it depends on (a related record, ``TODAY()``) changes the value without touching the
record's ``SystemModstamp`` ("Formulas are calculated at runtime and are not stored in
the database", Salesforce Help, Formula Operators and Functions by Context; see also
https://www.getclientell.com/salesforce-glossary/formula-field: formulas "do not trigger
... re-evaluation on referenced records ... the formula simply recalculates on the next
read"). Only the formulas ``schema.py`` declares are understood.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from typing import Any, Optional

from .schema import OBJECTS

Lookup = Callable[[str, str], Optional[Mapping[str, Any]]]
"""``(object, id) -> record`` for cross-object references."""
Evaluator = Callable[[Mapping[str, Any], Lookup, float], Any]


def _account_industry(record: Mapping[str, Any], lookup: Lookup, now: float) -> Any:
    account_id = record.get("AccountId")
    account = lookup("Account", str(account_id)) if account_id else None
    return account.get("Industry") if account is not None else None


def _days_open(record: Mapping[str, Any], lookup: Lookup, now: float) -> Any:
    created = record.get("CreatedDate")
    if not isinstance(created, str):
        return None
    day = datetime.fromisoformat(created[:10]).date()
    today = datetime.fromtimestamp(now, tz=timezone.utc).date()
    return float((today - day).days) if isinstance(day, date) else None


EVALUATORS: Mapping[str, Evaluator] = {
    "Account.Industry": _account_industry,
    "TODAY() - DATEVALUE(CreatedDate)": _days_open,
}


def formula_fields(object_name: str) -> dict[str, str]:
    """``{field: formula}`` of an object's formula fields."""
    return {f.name: f.formula for f in OBJECTS[object_name] if f.formula is not None}


def evaluate(
    object_name: str, record: dict[str, Any], lookup: Lookup, now: float
) -> dict[str, Any]:
    """``record`` with its formula fields computed as of ``now`` (unix seconds)."""
    for name, formula in formula_fields(object_name).items():
        record[name] = EVALUATORS[formula](record, lookup, now)
    return record
