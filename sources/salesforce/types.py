"""Exact number columns typed from describe's ``precision`` and ``scale``.

Salesforce describes every number field with "precision: ... the maximum number of
digits that can be stored, including all numbers to the left and to the right of the
decimal point" and "scale: ... number of digits to the right of the decimal point"
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm,
Field). Currency fields load as ``decimal(precision, scale)``; a value that does not
fit its column (more fractional digits than the scale, or more whole digits than
``precision - scale``) would fail the whole load, so it is a dead letter instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from dlt.common.schema.typing import TColumnSchema

from sources.kit.validation import RecordValidator

Digits = tuple[int, int]
"""``(precision, scale)`` of one decimal column."""

FALLBACK_DIGITS: Digits = (18, 2)
"""Used when describe gives no precision (Salesforce's currency default is 18, 2)."""

MAX_PRECISION = 38
"""Widest decimal the destinations take (DuckDB, Postgres numeric in dlt)."""


def digits_of(entry: Mapping[str, Any]) -> Digits:
    """``(precision, scale)`` of a describe field entry, bounded to what loads."""
    precision, scale = entry.get("precision"), entry.get("scale")
    if not isinstance(precision, int) or isinstance(precision, bool) or precision <= 0:
        return FALLBACK_DIGITS
    scale = scale if isinstance(scale, int) and not isinstance(scale, bool) else 0
    precision = min(precision, MAX_PRECISION)
    return precision, max(0, min(scale, precision))


def decimal_column(digits: Digits, nullable: bool) -> TColumnSchema:
    """The dlt column hint of a decimal field."""
    precision, scale = digits
    return {"data_type": "decimal", "precision": precision, "scale": scale, "nullable": nullable}


def misfit(value: Any, digits: Digits) -> Optional[str]:
    """Why ``value`` does not fit ``decimal(precision, scale)`` (no value in the text)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None  # not a number: the type check names it
    if not number.is_finite():
        return "is not a finite number"
    precision, scale = digits
    exponent = number.normalize().as_tuple().exponent
    fraction = max(0, -exponent) if isinstance(exponent, int) else 0
    whole = len(str(abs(int(number)))) if abs(number) >= 1 else 0
    if fraction > scale:
        return f"has {fraction} decimal places, more than scale {scale}"
    if whole > precision - scale:
        return f"has {whole} whole digits, more than {precision - scale} (precision {precision})"
    return None


def to_decimal(text: str) -> Any:
    """A Bulk API CSV number as an exact ``Decimal``, or the text as is (the guard then
    names the column)."""
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def decimal_violation(record: Mapping[str, Any], decimals: Mapping[str, Digits]) -> Optional[str]:
    """The first decimal field of ``record`` whose value does not fit its column."""
    for name, digits in decimals.items():
        reason = misfit(record.get(name), digits)
        if reason:
            precision, scale = digits
            return f"field '{name}' {reason}: does not fit decimal({precision},{scale})"
    return None


class DecimalFitValidator(RecordValidator):
    """The kit's validator, plus: every decimal value fits its describe precision/scale."""

    def __init__(self, *args: Any, decimals: Mapping[str, Digits], **kwargs: Any) -> None:
        """Creates the validator; ``decimals`` maps field to ``(precision, scale)``."""
        super().__init__(*args, **kwargs)
        self._decimals = dict(decimals)

    def extra_violation(self, record: dict[str, Any]) -> Optional[str]:
        """The first decimal that does not fit, else None (after the kit's checks)."""
        return decimal_violation(record, self._decimals)
