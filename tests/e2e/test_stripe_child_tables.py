"""End to end: every invoice line and subscription item lands in its own table.

Stripe embeds at most 10 lines of an invoice and 10 items of a subscription, with
``has_more`` and a ``url`` to page the rest (../shared/stripe/README.md). The loader pages
them into ``invoice_line_items`` (``invoice_id``) and ``subscription_items``
(``subscription_id``), and a changed parent replaces its children: a line removed from a
draft invoice disappears from the table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import stripe_pipeline
from sandbox.stripe import StripeSandbox

pytestmark = pytest.mark.e2e

RESOURCES = "invoices,subscriptions"
CHILDREN = {
    # child table: (parent type, parent column, parent field)
    "invoice_line_items": ("invoice", "invoice_id", "lines"),
    "subscription_items": ("subscription", "subscription_id", "items"),
}


def loaded_children(db: Path, table: str, parent_column: str) -> dict[str, set[str]]:
    """Child ids by parent id, as loaded."""
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(f"SELECT {parent_column}, id FROM stripe.{table}").fetchall()
    grouped: dict[str, set[str]] = {}
    for parent_id, child_id in found:
        grouped.setdefault(parent_id, set()).add(child_id)
    return grouped


def sandbox_children(sandbox: StripeSandbox, parent_type: str, field: str) -> dict[str, set[str]]:
    """Child ids by parent id, as the sandbox holds them whole (not truncated)."""
    found: dict[str, set[str]] = {}
    for parent in sandbox.store.listable(f"{parent_type}s"):
        entries = parent[field]["data"]
        if entries:
            found[parent["id"]] = {entry["id"] for entry in entries}
    return found


def invoice_with_lines(sandbox: StripeSandbox, count: int) -> str:
    """A draft invoice with ``count`` one-off lines; returns its id."""
    store = sandbox.store
    customer = store.listable("customers")[0]
    invoice = store.create("invoice", customer=customer["id"], currency="usd")
    lines = [
        store.factory.line_item(
            invoice["id"],
            amount=100 * (n + 1),
            currency="usd",
            description=f"Consulting hour {n + 1}",
            period=(invoice["created"], invoice["created"]),
        )
        for n in range(count)
    ]
    store.update("invoice", invoice["id"], lines=lines)
    return str(invoice["id"])


def subscription_with_items(sandbox: StripeSandbox, count: int) -> str:
    """A subscription with ``count`` items of distinct monthly USD prices; returns its id."""
    store = sandbox.store
    monthly = [
        p
        for p in store.listable("prices")
        if p["currency"] == "usd" and (p["recurring"] or {}).get("interval") == "month"
    ]
    assert len(monthly) >= count, "the seeded catalog has too few monthly USD prices"
    customer = store.listable("customers")[1]
    items = [{"price": price["id"]} for price in monthly[:count]]
    return str(store.create("subscription", customer=customer["id"], items=items)["id"])


def remove_first_child(sandbox: StripeSandbox, parent_type: str, parent_id: str, field: str) -> str:
    """Updates the parent without its first child; returns the removed child's id."""
    store = sandbox.store
    entries = store.get(parent_type, parent_id)[field]["data"]  # type: ignore[index]
    store.update(parent_type, parent_id, **{field: entries[1:]})
    return str(entries[0]["id"])


def assert_children_match(db: Path, sandbox: StripeSandbox) -> None:
    for table, (parent_type, parent_column, field) in CHILDREN.items():
        assert loaded_children(db, table, parent_column) == sandbox_children(
            sandbox, parent_type, field
        ), table


def parent_columns(db: Path, table: str) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'stripe' AND table_name = ?",
            [table],
        ).fetchall()
    return {name for (name,) in found}


def test_every_line_and_item_is_loaded_under_its_parent_also_after_one_is_removed(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[[StripeSandbox], None],
    duckdb_path: Path,
    columnar: bool,
) -> None:
    invoice_id = invoice_with_lines(stripe_sandbox, 25)
    subscription_id = subscription_with_items(stripe_sandbox, 15)
    point_at(stripe_sandbox)

    assert stripe_pipeline.main(["--resources", RESOURCES]) == 0

    lines = loaded_children(duckdb_path, "invoice_line_items", "invoice_id")
    items = loaded_children(duckdb_path, "subscription_items", "subscription_id")
    assert len(lines[invoice_id]) == 25
    assert len(items[subscription_id]) == 15
    assert_children_match(duckdb_path, stripe_sandbox)
    # The seeded account's own long lists (11-30 lines, 11-20 items) are complete too.
    assert sum(len(ids) > 10 for ids in lines.values()) >= 2
    assert sum(len(ids) > 10 for ids in items.values()) >= 2
    # The lists live in the child tables only, not as JSON on the parent.
    assert not {c for c in parent_columns(duckdb_path, "invoices") if c.startswith("lines")}
    assert not {c for c in parent_columns(duckdb_path, "subscriptions") if c.startswith("items")}

    removed_line = remove_first_child(stripe_sandbox, "invoice", invoice_id, "lines")
    removed_item = remove_first_child(stripe_sandbox, "subscription", subscription_id, "items")

    assert stripe_pipeline.main(["--resources", RESOURCES]) == 0

    lines = loaded_children(duckdb_path, "invoice_line_items", "invoice_id")
    items = loaded_children(duckdb_path, "subscription_items", "subscription_id")
    assert len(lines[invoice_id]) == 24 and removed_line not in lines[invoice_id]
    assert len(items[subscription_id]) == 14 and removed_item not in items[subscription_id]
    assert_children_match(duckdb_path, stripe_sandbox)


def child_rows(db: Path, table: str) -> dict[str, dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(f"SELECT * FROM stripe.{table}")
        names = [d[0] for d in cursor.description]
        found = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return {row["id"]: {k: v for k, v in row.items() if not k.startswith("_dlt")} for row in found}


def test_child_rows_carry_the_entry_fields_and_never_the_replacement_marker(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[[StripeSandbox], None],
    duckdb_path: Path,
) -> None:
    point_at(stripe_sandbox)

    assert stripe_pipeline.main(["--resources", RESOURCES]) == 0

    lines = child_rows(duckdb_path, "invoice_line_items")
    assert lines and not [i for i in lines if i.endswith("#replaced")]
    line = next(iter(lines.values()))
    assert line["invoice_id"] == line["invoice"]
    assert {"amount", "currency", "period__start", "period__end"} <= set(line)
    items = child_rows(duckdb_path, "subscription_items")
    item = next(iter(items.values()))
    assert item["subscription_id"] == item["subscription"]
    assert {"price__id", "quantity"} <= set(item)
