"""The canonical models: one definition of each table every connector maps into.

Rows are one per source record, keyed by ``(source_system, source_id)``; ``customer_id``
is the canonical customer id from the crosswalk (``NULL`` while a match is ambiguous).
Amounts are decimals in the major unit (``19.99``), never minor units.

``canonical_payments`` holds every charge (each attempt) and every payment intent that
has no charge yet; a payment intent is represented by its charges as soon as it has one
(its own row is removed, see ``superseded_by`` in :mod:`.spec`), so no amount is counted
twice. ``canonical_subscription_items`` holds every item of every subscription.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from dlt.common.schema.typing import TColumnSchema

__all__ = [
    "SUPERSEDED_COLUMN",
    "CANONICAL_CUSTOMERS",
    "CANONICAL_DATASET",
    "CANONICAL_MODELS",
    "CANONICAL_PAYMENTS",
    "CANONICAL_SUBSCRIPTIONS",
    "CANONICAL_SUBSCRIPTION_ITEMS",
    "CanonicalModel",
    "model_named",
]

CANONICAL_DATASET = "canonical"
"""Dataset the canonical models (and the crosswalk) load into."""

AMOUNT: TColumnSchema = {"data_type": "decimal", "precision": 38, "scale": 3, "nullable": True}
"""Amounts: three decimals hold every ISO 4217 currency (``kwd`` 1.999)."""

SUPERSEDED_COLUMN = "superseded"
"""dlt ``hard_delete`` column of a mapping with ``superseded_by``: true removes the row."""


@dataclass(frozen=True)
class CanonicalModel:
    """A canonical table: its name, key and explicit column types.

    Attributes:
        name: Table name (``canonical_payments``).
        primary_key: Columns identifying a row (merge key).
        columns: Every column, in order, with its dlt type.
        customer_ref: Column holding the source system's customer id, which the
            crosswalk turns into ``customer_id``; None for a model without one.
        description: One line for the docs.
    """

    name: str
    primary_key: tuple[str, ...]
    columns: Mapping[str, TColumnSchema]
    customer_ref: Optional[str] = "customer_source_id"
    description: str = ""

    def required_columns(self) -> list[str]:
        """Columns that may not be null."""
        return [n for n, c in self.columns.items() if c.get("nullable") is False]


def _key(data_type: str) -> TColumnSchema:
    return {"data_type": data_type, "nullable": False}  # type: ignore[typeddict-item]


def _col(data_type: str) -> TColumnSchema:
    return {"data_type": data_type, "nullable": True}  # type: ignore[typeddict-item]


IDENTITY: Mapping[str, TColumnSchema] = {
    "source_system": _key("text"),
    "source_id": _key("text"),
    "customer_id": _col("text"),
}

CANONICAL_CUSTOMERS = CanonicalModel(
    name="canonical_customers",
    primary_key=("source_system", "source_id"),
    columns={
        **IDENTITY,
        "email": _col("text"),
        "email_domain": _col("text"),
        "name": _col("text"),
        "phone": _col("text"),
        "country": _col("text"),
        "currency": _col("text"),
        "created_at": _key("timestamp"),
        "is_deleted": _col("bool"),
        "mapped_at": _key("timestamp"),
    },
    customer_ref="source_id",
    description="People and companies that pay, one row per source record.",
)

CANONICAL_PAYMENTS = CanonicalModel(
    name="canonical_payments",
    primary_key=("source_system", "source_id"),
    columns={
        **IDENTITY,
        "customer_source_id": _col("text"),
        "payment_intent_source_id": _col("text"),
        "amount": dict(AMOUNT),  # type: ignore[dict-item]
        "amount_refunded": dict(AMOUNT),  # type: ignore[dict-item]
        "currency": _key("text"),
        "status": _key("text"),
        "payment_method_type": _col("text"),
        "description": _col("text"),
        "created_at": _key("timestamp"),
        "mapped_at": _key("timestamp"),
    },
    description="Money movements from a customer, status in "
    "succeeded / pending / failed / refunded / canceled / unknown.",
)

CANONICAL_SUBSCRIPTIONS = CanonicalModel(
    name="canonical_subscriptions",
    primary_key=("source_system", "source_id"),
    columns={
        **IDENTITY,
        "customer_source_id": _col("text"),
        "status": _key("text"),
        "currency": _col("text"),
        "started_at": _col("timestamp"),
        "canceled_at": _col("timestamp"),
        "ended_at": _col("timestamp"),
        "created_at": _key("timestamp"),
        "mapped_at": _key("timestamp"),
    },
    description="Recurring agreements, status in "
    "trialing / active / past_due / paused / canceled / incomplete / unknown; "
    "what they bill is in canonical_subscription_items.",
)

CANONICAL_SUBSCRIPTION_ITEMS = CanonicalModel(
    name="canonical_subscription_items",
    primary_key=("source_system", "source_id"),
    columns={
        "source_system": _key("text"),
        "source_id": _key("text"),
        "subscription_source_id": _key("text"),
        "price_source_id": _col("text"),
        "product_source_id": _col("text"),
        "unit_amount": dict(AMOUNT),  # type: ignore[dict-item]
        "currency": _col("text"),
        "billing_interval": _col("text"),
        "billing_interval_count": _col("bigint"),
        "quantity": _col("bigint"),
        "current_period_start": _col("timestamp"),
        "current_period_end": _col("timestamp"),
        "created_at": _col("timestamp"),
        "mapped_at": _key("timestamp"),
    },
    customer_ref=None,
    description="Every item (price x quantity) of a subscription, one row per source item; "
    "join to canonical_subscriptions on (source_system, subscription_source_id = source_id).",
)

CANONICAL_MODELS: Mapping[str, CanonicalModel] = {
    m.name: m
    for m in (
        CANONICAL_CUSTOMERS,
        CANONICAL_PAYMENTS,
        CANONICAL_SUBSCRIPTIONS,
        CANONICAL_SUBSCRIPTION_ITEMS,
    )
}
"""Every canonical model by table name."""


def model_named(name: str) -> CanonicalModel:
    """The canonical model called ``name``.

    Raises:
        KeyError: No such model.
    """
    return CANONICAL_MODELS[name]
