"""End to end: Stripe deletes reach DuckDB the way the real API reports them.

The sandbox reports a delete as Stripe does: a ``<object>.deleted`` event carrying the
object as it was, without a ``deleted`` field, and the object gone from lists
(../shared/stripe/README.md). The incremental poll reads deletes from the event type;
a complete re-list (expired events cursor) finds the objects it no longer lists; events
that share one second give the current object whatever order they are listed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pendulum
import pytest

from pipelines import stripe_pipeline
from sandbox.stripe import StripeSandbox

pytestmark = pytest.mark.e2e

DELETABLE = ("customers", "products", "coupons", "plans", "invoiceitems")
RESOURCES = ",".join((*DELETABLE, "subscriptions", "invoices"))
TYPE_OF = {
    "customers": "customer",
    "products": "product",
    "coupons": "coupon",
    "plans": "plan",
    "invoiceitems": "invoiceitem",
}
DLT_COLUMNS = ("_dlt_id", "_dlt_load_id", "_dlt_parent_id", "_dlt_root_id")


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def by_id(db: Path, table: str) -> dict[str, dict[str, Any]]:
    """Every row of ``table`` without dlt's ids, by object id."""
    return {
        r["id"]: {k: v for k, v in r.items() if k not in DLT_COLUMNS}
        for r in rows(db, f"SELECT * FROM stripe.{table}")
    }


def nested_rows(db: Path, table: str, nested: str) -> dict[str, list[Any]]:
    """A nested table's rows (without dlt's ids), by their root object's id, in list order."""
    found = rows(
        db,
        f"SELECT r.id AS root, c.* FROM stripe.{nested} c "
        f"JOIN stripe.{table} r ON c._dlt_parent_id = r._dlt_id ORDER BY r.id, c._dlt_list_idx",
    )
    grouped: dict[str, list[Any]] = {}
    for row in found:
        grouped.setdefault(row.pop("root"), []).append(
            {k: v for k, v in row.items() if k not in DLT_COLUMNS}
        )
    return grouped


def without_delete_columns(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("deleted", "deleted_at")}


def expire_events_cursors(resources: Iterator[str] | tuple[str, ...]) -> None:
    """Moves saved events cursors past Stripe's 30-day retention (the run re-lists)."""
    pipeline = dlt.attach(pipeline_name="stripe")
    with pipeline.managed_state(extract_state=False) as state:
        for resource in resources:
            state["sources"]["stripe"]["resources"][resource]["events_cursor"] -= 31 * 24 * 3600


def delete_one_of_each(sandbox: StripeSandbox) -> dict[str, str]:
    """Deletes one listed object of every deletable type; returns their ids by resource.

    The customer deleted has a live subscription (Stripe cancels it first) and a
    non-empty nested list (``preferred_locales``).
    """
    store = sandbox.store
    live_subs = {s["customer"] for s in store.listable("subscriptions") if s["status"] == "active"}
    customer = next(
        c for c in store.listable("customers") if c["id"] in live_subs and c["preferred_locales"]
    )
    pending = [i for i in store.listable("invoiceitems") if i["invoice"] is None]
    chosen = {
        "customers": customer["id"],
        "products": store.listable("products")[-1]["id"],
        "coupons": store.listable("coupons")[0]["id"],
        "plans": store.listable("plans")[0]["id"],
        "invoiceitems": (pending or store.listable("invoiceitems"))[0]["id"],
    }
    for resource, obj_id in chosen.items():
        store.delete(TYPE_OF[resource], obj_id)
    return chosen


def test_incremental_run_marks_deleted_objects_from_their_delete_events(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[[StripeSandbox], None],
    duckdb_path: Path,
    columnar: bool,
) -> None:
    point_at(stripe_sandbox)
    assert stripe_pipeline.main(["--resources", RESOURCES]) == 0
    before = {t: by_id(duckdb_path, t) for t in DELETABLE}
    deleted = delete_one_of_each(stripe_sandbox)
    canceled = [
        s["id"]
        for s in stripe_sandbox.store.listable("subscriptions")
        if s["customer"] == deleted["customers"] and s["status"] == "canceled"
    ]

    assert stripe_pipeline.main(["--resources", RESOURCES]) == 0

    for resource, obj_id in deleted.items():
        row = by_id(duckdb_path, resource)[obj_id]
        assert row["deleted"] is True and row["deleted_at"] is not None, resource
        # The delete event carries the full prior object: the row keeps its columns.
        assert without_delete_columns(row) == without_delete_columns(before[resource][obj_id])
    live = [
        r for t in DELETABLE for i, r in by_id(duckdb_path, t).items() if i not in deleted.values()
    ]
    assert live and all(r["deleted"] is False for r in live)
    subscriptions = by_id(duckdb_path, "subscriptions")
    assert canceled
    for sub_id in canceled:  # a cancel (customer.subscription.deleted) is not a delete
        assert (subscriptions[sub_id]["status"], subscriptions[sub_id]["deleted"]) == (
            "canceled",
            False,
        )


def test_relist_after_an_expired_cursor_marks_what_is_no_longer_listed(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[[StripeSandbox], None],
    duckdb_path: Path,
    columnar: bool,
) -> None:
    point_at(stripe_sandbox)
    assert stripe_pipeline.main(["--resources", RESOURCES]) == 0
    before = {t: by_id(duckdb_path, t) for t in DELETABLE}
    locales_before = nested_rows(duckdb_path, "customers", "customers__preferred_locales")
    deleted = delete_one_of_each(stripe_sandbox)
    expire_events_cursors(DELETABLE)
    started = int(time.time())

    assert stripe_pipeline.main(["--resources", RESOURCES]) == 0

    finished = int(time.time())
    for resource in DELETABLE:
        after = by_id(duckdb_path, resource)
        assert set(after) == set(before[resource]), resource  # no row lost, none added
        for obj_id, row in after.items():
            if obj_id == deleted[resource]:
                assert row["deleted"] is True, resource
                assert started - 1 <= row["deleted_at"].timestamp() <= finished, resource
            else:
                assert row["deleted"] is before[resource][obj_id]["deleted"], (resource, obj_id)
            # Nothing else changed: every other column as it was loaded.
            assert without_delete_columns(row) == without_delete_columns(
                before[resource][obj_id]
            ), (resource, obj_id)
    locales_after = nested_rows(duckdb_path, "customers", "customers__preferred_locales")
    assert locales_before[deleted["customers"]]  # the deleted customer had nested rows
    assert locales_after == locales_before


def test_relist_does_not_mark_objects_older_than_the_start_date(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[[StripeSandbox], None],
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(stripe_sandbox)
    assert stripe_pipeline.main(["--resources", "customers"]) == 0
    customers = stripe_sandbox.store.listable("customers")  # newest first
    cutoff = customers[len(customers) // 2]["created"]
    newer = next(c["id"] for c in customers if c["created"] > cutoff)
    stripe_sandbox.store.delete("customer", newer)
    expire_events_cursors(("customers",))
    monkeypatch.setenv("SOURCES__STRIPE__START_DATE", str(pendulum.from_timestamp(cutoff)))

    assert stripe_pipeline.main(["--resources", "customers"]) == 0

    flags = {i: r["deleted"] for i, r in by_id(duckdb_path, "customers").items()}
    assert flags[newer] is True
    assert [i for i, d in flags.items() if d] == [newer]  # older ones were only not listed


def test_full_refresh_loads_what_stripe_lists_without_resurrecting_deletes(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[[StripeSandbox], None],
    duckdb_path: Path,
) -> None:
    point_at(stripe_sandbox)
    assert stripe_pipeline.main(["--resources", "customers"]) == 0
    gone = stripe_sandbox.store.listable("customers")[0]["id"]
    stripe_sandbox.store.delete("customer", gone)

    assert stripe_pipeline.main(["--resources", "customers", "--full-refresh"]) == 0

    loaded = by_id(duckdb_path, "customers")
    assert set(loaded) == {c["id"] for c in stripe_sandbox.store.listable("customers")}
    assert all(r["deleted"] is False for r in loaded.values())


def change_in_one_second(sandbox: StripeSandbox) -> tuple[str, str, str]:
    """Same-second changes: a customer renamed three times, an invoice finalized and paid,
    a product updated then deleted."""
    store = sandbox.store
    at = store.now()
    customer = store.listable("customers")[0]["id"]
    for name in ("First", "Second", "Third"):
        store.update("customer", customer, at=at, name=name)
    draft = store.create("invoice", at=at, customer=customer, status="draft")
    store.update("invoice", draft["id"], at=at, event_type="invoice.finalized", status="open")
    store.update("invoice", draft["id"], at=at, event_type="invoice.paid", status="paid")
    product = store.listable("products")[0]["id"]
    store.update("product", product, at=at, name="Renamed")
    store.delete("product", product, at=at)
    return customer, draft["id"], product


@pytest.mark.parametrize("reverse", [False, True], ids=["newest-first", "oldest-first"])
def test_same_second_events_load_the_current_objects_in_either_list_order(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[[StripeSandbox], None],
    duckdb_path: Path,
    reverse: bool,
) -> None:
    point_at(stripe_sandbox)
    resources = "customers,invoices,products"
    assert stripe_pipeline.main(["--resources", resources]) == 0
    customer, invoice, product = change_in_one_second(stripe_sandbox)
    # Stripe lists newest first, but not in a documented order within one second.
    stripe_sandbox.set_faults(reverse_same_second_events=reverse)
    stripe_sandbox.stats.reset()

    assert stripe_pipeline.main(["--resources", resources]) == 0

    store = stripe_sandbox.store
    assert (
        by_id(duckdb_path, "customers")[customer]["name"]
        == store.get("customer", customer)["name"]
        == "Third"
    )
    assert by_id(duckdb_path, "invoices")[invoice]["status"] == "paid"
    assert by_id(duckdb_path, "products")[product]["deleted"] is True
    for table in ("customers", "invoices"):
        loaded = {
            i: (r["deleted"], r.get("name") or r.get("status"))
            for i, r in by_id(duckdb_path, table).items()
        }
        listed = {
            o["id"]: (False, o.get("name") if table == "customers" else o["status"])
            for o in store.listable(table)
        }
        assert {i: v for i, v in loaded.items() if not v[0]} == listed, table
    # Ambiguous objects were retrieved once each, the delete needed no retrieve.
    assert stripe_sandbox.stats.by_path.get(f"/v1/customers/{customer}") == 1
    assert stripe_sandbox.stats.by_path.get(f"/v1/invoices/{invoice}") == 1
    assert f"/v1/products/{product}" not in stripe_sandbox.stats.by_path
