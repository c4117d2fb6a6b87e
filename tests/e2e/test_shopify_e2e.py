"""Shopify end to end into DuckDB: every object, incremental merges, deletes, bulk = paged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from sources.kit.webhooks.inbox import Inbox
from sources.shopify.webhooks import receiver_app
from tests.connector.shopify_helpers import TABLES, ids, load, pipeline, rows
from tests.webhook_helpers import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]


def expected(sandbox: Any) -> dict[str, set[str]]:
    store = sandbox.store
    products, orders = store.products(), store.orders()
    return {
        "products": {p["id"] for p in products},
        "product_variants": {v["id"] for p in products for v in p["variants"]},
        "customers": {c["id"] for c in store.customers()},
        "orders": {o["id"] for o in orders},
        "order_line_items": {i["id"] for o in orders for i in o["lineItems"]},
        "order_refunds": {r["id"] for o in orders for r in o["refunds"]},
        "order_fulfillments": {f["id"] for o in orders for f in o["fulfillments"]},
        "collections": {c["id"] for c in store.collections()},
        "inventory_levels": {level["id"] for level in store.inventory_levels()},
    }


def test_every_object_loads(shopify_sandbox: Any, tmp_path: Path) -> None:
    pipe = pipeline(tmp_path)
    load(pipe, shopify_sandbox, backfill="paged")
    want = expected(shopify_sandbox)
    for table in TABLES:
        assert ids(pipe, table) == want[table], table
    numeric = rows(pipe, "products", "id, legacy_resource_id")
    assert all(gid.endswith(f"/{number}") for gid, number in numeric)


def test_incremental_run_merges_updates_and_deletes(shopify_sandbox: Any, tmp_path: Path) -> None:
    sb = shopify_sandbox
    inbox_path = str(tmp_path / "inbox.sqlite")
    pipe = pipeline(tmp_path)
    load(pipe, sb, backfill="paged", webhook_inbox=inbox_path)
    with Inbox(inbox_path) as inbox, serve_in_thread(receiver_app(inbox, sb.webhook_secret)) as url:
        sb.send_webhooks_to(f"{url}/webhooks/shopify")
        sb.advance(3600)
        products, customers = sb.store.products(), sb.store.customers()
        sb.update("product", products[0]["id"], title="Renamed")
        sb.delete("product", products[1]["id"])  # a deletion event and a webhook
        sb.delete("customer", customers[0]["id"])  # only a webhook tells
        created = sb.create("customer", firstName="New")
        sb.send_webhooks_to(None)
    load(pipe, sb, backfill="paged", webhook_inbox=inbox_path)
    assert rows(pipe, "products", "title")  # loaded
    with pipe.sql_client() as sql:
        title = sql.execute_sql("SELECT title FROM products WHERE id = %s", products[0]["id"])
        flags: dict[str, bool] = dict(
            cast(Any, sql.execute_sql("SELECT id, deleted FROM products"))
        )
        people: dict[str, bool] = dict(
            cast(Any, sql.execute_sql("SELECT id, deleted FROM customers"))
        )
    assert title == [("Renamed",)]
    assert flags[products[1]["id"]] is True and flags[products[0]["id"]] is False
    assert people[customers[0]["id"]] is True and people[created] is False
    assert len(flags) == len(products)  # merged, no duplicates
    with Inbox(inbox_path) as inbox:
        # the delete webhooks were drained (updates stay for whoever reads them)
        assert [e.type for e in inbox.pending(100) if e.type.endswith("/delete")] == []


@pytest.mark.parametrize("seed", [42, 7], ids=["seed42", "seed7"])
def test_bulk_and_paged_backfills_give_identical_tables(
    shopify_sandbox_factory: Any, tmp_path: Path, seed: int
) -> None:
    sandbox = shopify_sandbox_factory(seed=seed)
    paged, bulk = pipeline(tmp_path, "paged"), pipeline(tmp_path, "bulk")
    load(paged, sandbox, backfill="paged")
    load(bulk, sandbox, backfill="bulk")
    assert sandbox.stats.bulk_operations == 5
    for table in TABLES:
        loaded = paged.default_schema.get_table_columns(table)
        columns = ", ".join(sorted(c for c in loaded if not c.startswith("_dlt")))
        assert sorted(rows(paged, table, columns), key=repr) == sorted(
            rows(bulk, table, columns), key=repr
        ), table


def test_cli_sandbox_run_loads_every_table(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "shopify_pipeline.py"),
            "--sandbox",
            "--no-models",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for table in TABLES:
        assert table in result.stdout
    assert "0 throttled" in result.stdout
