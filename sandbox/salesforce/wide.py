"""A wide custom object: real Accounts often carry hundreds of custom fields.

Listing every field of such an object in one ``GET .../query?q=`` overflows Salesforce's
URL limit (16,384 bytes for URI and headers: 414 URI Too Long, 431 Request Header Fields
Too Large, https://help.salesforce.com/s/articleView?id=000386264&type=1), which the
sandbox enforces (``api.py``).
"""

from __future__ import annotations

WIDE_OBJECT = "Wide__c"
"""API name of the wide object (not among the connector's default objects)."""

WIDE_FIELD_COUNT = 500
"""Custom fields of the wide object besides its audit fields."""


def wide_field_specs(count: int = WIDE_FIELD_COUNT) -> tuple[tuple[str, str, int, int], ...]:
    """``(name, type, precision, scale)`` of each custom field: text, with every tenth
    a currency field of scale 2 (as ``Amount``)."""
    specs: list[tuple[str, str, int, int]] = []
    for n in range(1, count + 1):
        name = f"Customer_Attribute_Field_{n:03d}__c"  # real names run up to 40 chars
        specs.append((name, "currency", 18, 2) if n % 10 == 0 else (name, "string", 0, 0))
    return tuple(specs)


def wide_values(record_number: int, count: int = WIDE_FIELD_COUNT) -> dict[str, object]:
    """Deterministic values for every custom field of one wide record."""
    values: dict[str, object] = {}
    for name, kind, _, _ in wide_field_specs(count):
        values[name] = (
            float(record_number * 100) + 0.25 if kind == "currency" else (f"{name}-{record_number}")
        )
    return values
