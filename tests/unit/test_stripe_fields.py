"""Stripe's unix-time fields, from the SDK: fields.json in sync, column names, hints."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sources.stripe import fieldgen
from sources.stripe.fields import (
    column_name,
    describe_column,
    field_description,
    object_types,
    unix_time_columns,
    unix_time_fields,
)
from sources.stripe.settings import RESOURCES
from sources.stripe.spec import column_hints

REGENERATE = "python -m sources.stripe.fieldgen"

STRIPE_FIXTURES = Path(__file__).resolve().parents[2] / "sandbox/stripe/data/fixtures.json"
"""Stripe's published example objects (openapi/fixtures3.json), generated from its spec."""

FIXTURE_UNIX_TIME = 1234567890
"""The value Stripe's fixture generator writes into top-level ``format: unix-time``
fields (every one of them holds it, and no other field does)."""


def test_fields_json_matches_the_installed_sdk() -> None:
    committed = fieldgen.FIELDS_FILE.read_text(encoding="utf-8")
    generated_with = json.loads(committed)["_sdk"]

    assert committed == fieldgen.render(fieldgen.generate()), (
        f"{fieldgen.FIELDS_FILE} (from stripe {generated_with}) is stale for the installed "
        f"stripe SDK: run {REGENERATE} and review the unix-time changes"
    )


def test_every_resource_and_child_object_is_described() -> None:
    expected = {r.object_type for r in RESOURCES} | {"line_item", "subscription_item", "discount"}

    assert expected <= set(object_types())


@pytest.mark.parametrize(
    ("object_type", "columns"),
    [
        ("subscription", {"cancel_at", "billing_cycle_anchor", "canceled_at", "trial_end"}),
        (
            "invoice",
            {
                "effective_at",
                "next_payment_attempt",
                "status_transitions__paid_at",
                "webhooks_delivered_at",
                "period_start",
                "due_date",
            },
        ),
        ("customer", {"discount__start", "discount__end", "created"}),
        ("coupon", {"redeem_by"}),
        ("product", {"updated"}),
        ("dispute", {"evidence_details__due_by"}),
        ("payment_intent", {"canceled_at"}),
        ("line_item", {"period__start", "period__end"}),
        ("subscription_item", {"current_period_start", "current_period_end"}),
    ],
)
def test_missed_timestamps_of_the_issue_are_columns(object_type: str, columns: set[str]) -> None:
    assert columns <= set(unix_time_columns(object_type))


def test_nested_paths_are_recorded_but_only_flattened_ones_are_columns() -> None:
    assert "discount.coupon.redeem_by" in unix_time_fields("customer")
    assert "discount__coupon__redeem_by" not in unix_time_columns("customer")
    assert "discount__coupon__redeem_by" in unix_time_columns("customer", max_nesting=2)


def test_column_name_follows_dlt_flattening() -> None:
    assert column_name("created") == "created"
    assert column_name("status_transitions.paid_at") == "status_transitions__paid_at"
    assert column_name("discount.source.coupon", max_nesting=1) is None
    assert column_name("status_transitions.paid_at", max_nesting=0) is None


@pytest.mark.parametrize(
    ("name", "description"),
    [
        ("days_until_due", "Number of days a customer has to pay invoices."),
        ("day_of_month", "The day of the month of the billing_cycle_anchor."),
        ("exp_year", "Four-digit number representing the card's expiration year."),
        ("amount", "Amount in cents (or local equivalent) to be transferred."),
        ("expires_after_days", "The number of calendar days before a Boleto voucher expires."),
    ],
)
def test_durations_counts_and_amounts_are_not_times(name: str, description: str) -> None:
    assert not fieldgen.is_unix_time(name, description)


@pytest.mark.parametrize(
    ("name", "description"),
    [
        (
            "created",
            "Time at which the object was created. Measured in seconds since the Unix epoch.",
        ),
        (
            "cancel_at",
            "A date in the future at which the subscription will automatically get canceled",
        ),
        ("start", "Date that the coupon was applied."),
        ("transitioned_at", "Unix timestamp in seconds of when the subscription status changed."),
        ("billing_cycle_anchor", "The reference point... The timestamp is in UTC format."),
    ],
)
def test_points_in_time_are_times(name: str, description: str) -> None:
    assert fieldgen.is_unix_time(name, description)


def test_column_hints_declare_every_unix_time_column_a_timestamp() -> None:
    for resource in RESOURCES:
        hints = column_hints(resource)
        for column in (resource.time_field, *unix_time_columns(resource.object_type)):
            assert hints[column].get("data_type") == "timestamp", (resource.name, column)


def test_descriptions_come_from_the_sdk() -> None:
    assert "paid" in field_description("invoice", "status_transitions__paid_at")
    assert field_description("invoice", "deleted_at") == ""
    assert field_description("no_such_object", "id") == ""
    with pytest.raises(KeyError, match="fieldgen"):
        unix_time_fields("no_such_object")


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "fields.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(fieldgen, "FIELDS_FILE", stale)

    assert fieldgen.main(["--check"]) == 1
    assert fieldgen.main([]) == 0
    assert fieldgen.main(["--check"]) == 0


def test_loaded_columns_are_described_per_table() -> None:
    assert "paid" in describe_column("invoices", "status_transitions__paid_at")
    assert describe_column("customers", "deleted").startswith("Added by sluice")
    assert "`invoices`" in describe_column("invoice_line_items", "invoice_id")
    assert describe_column("disputes__balance_transactions", "amount") == ""


def integer_fields(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, int]]:
    """(dotted path, value) of every integer in a record, nested dicts included."""
    for key, value in record.items():
        if isinstance(value, dict):
            yield from integer_fields(value, f"{prefix}{key}.")
        elif isinstance(value, int) and not isinstance(value, bool):
            yield f"{prefix}{key}", value


def test_the_sdk_reading_agrees_with_stripes_example_objects() -> None:
    examples = json.loads(STRIPE_FIXTURES.read_text(encoding="utf-8"))["resources"]
    described = [t for t in object_types() if t in examples]
    assert len(described) >= 17

    for object_type in described:
        times = set(unix_time_fields(object_type))
        for path, value in integer_fields(examples[object_type]):
            if value == FIXTURE_UNIX_TIME:
                assert path in times, f"{object_type}.{path} is a unix time in Stripe's spec"
            elif "." not in path:
                assert path not in times, f"{object_type}.{path} is no unix time in the spec"
