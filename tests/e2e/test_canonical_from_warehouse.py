"""End to end: the canonical models are derived from the raw tables, whatever loaded them.

Plain runs first, ``--canonical`` later: every customer, charge, payment intent,
subscription and subscription item already in the raw dataset is mapped. A change that
arrives by webhook is mapped by the drain's canonical step. A kill -9 in the middle of a
canonical load, then a re-run, leaves exactly one row per canonical id.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import stripe_pipeline
from pipelines import stripe_webhooks as webhooks_cli
from sandbox.stripe import StripeSandbox
from sandbox.stripe.webhooks import WebhookSender
from sources.kit.mapping import currency_exponent
from sources.kit.webhooks.inbox import Inbox
from sources.stripe.webhooks import WEBHOOK_PATH, create_stripe_receiver
from tests.load_hold import hold_env, install_hook, kill_when
from tests.webhook_helpers import serve_in_thread

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
RAW = ["--resources", "customers,charges,payment_intents,subscriptions"]
SECRET = "whsec_canonical_e2e"
ITEMS = 15


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def ids(db: Path, sql: str) -> set[str]:
    return {str(r[0]) for r in query(db, sql)}


def canonical_ids(db: Path, table: str, where: str = "TRUE") -> set[str]:
    return ids(db, f"SELECT source_id FROM canonical.{table} WHERE {where}")  # noqa: S608


def add_many_item_subscription(sandbox: StripeSandbox) -> dict[str, Any]:
    """A subscription with more items than Stripe embeds (10), each its own price."""
    store = sandbox.store
    customer = store.listable("customers")[0]["id"]
    prices = [p for p in store.listable("prices") if p.get("recurring")]
    interval = prices[0]["recurring"]["interval"]
    currency = prices[0]["currency"]
    same = [
        p for p in prices if p["recurring"]["interval"] == interval and p["currency"] == currency
    ]
    while len(same) < ITEMS:
        same.append(
            store.create(
                "price",
                currency=currency,
                unit_amount=100 * (len(same) + 1),
                product=prices[0]["product"],
                recurring={"interval": interval},
            )
        )
    items = [{"price": p["id"], "quantity": n + 1} for n, p in enumerate(same[:ITEMS])]
    return store.create("subscription", customer=customer, items=items)


def assert_one_row_per_canonical_id(db: Path) -> None:
    for table in (
        "canonical_customers",
        "canonical_payments",
        "canonical_subscriptions",
        "canonical_subscription_items",
    ):
        [(rows, distinct)] = query(
            db,
            f"SELECT COUNT(*), COUNT(DISTINCT (source_system, source_id)) FROM canonical.{table}",  # noqa: S608
        )
        assert rows == distinct, table
    [(links, distinct)] = query(
        db, "SELECT COUNT(*), COUNT(DISTINCT (system, external_id)) FROM canonical.crosswalk"
    )
    assert links == distinct


def assert_everything_loaded_is_mapped(db: Path) -> None:
    """Every raw object is in its canonical table; payment intents are never doubled."""
    assert canonical_ids(db, "canonical_customers") == ids(db, "SELECT id FROM stripe.customers")
    assert canonical_ids(db, "canonical_subscriptions") == ids(
        db, "SELECT id FROM stripe.subscriptions"
    )
    assert canonical_ids(db, "canonical_subscription_items") == ids(
        db, "SELECT id FROM stripe.subscription_items"
    )
    charges = ids(db, "SELECT id FROM stripe.charges WHERE status IS NOT NULL")
    chargeless = ids(db, "SELECT id FROM stripe.payment_intents WHERE latest_charge IS NULL")
    assert chargeless, "the sandbox has payment intents without a charge"
    assert canonical_ids(db, "canonical_payments") == charges | chargeless
    assert not canonical_ids(db, "canonical_payments", "superseded")


def test_enabling_canonical_after_plain_runs_maps_everything_already_loaded(
    pointed: StripeSandbox, duckdb_path: Path
) -> None:
    many = add_many_item_subscription(pointed)
    assert stripe_pipeline.main(RAW) == 0
    customer = pointed.store.listable("customers")[1]["id"]
    pointed.store.update("customer", customer, name="Changed Between Plain Runs")
    assert stripe_pipeline.main(RAW) == 0
    assert not query(
        duckdb_path,
        "SELECT 1 FROM information_schema.tables WHERE table_schema = 'canonical' "
        "AND table_name = 'canonical_customers'",
    )

    # this run extracts customers only: the rest was loaded by the plain runs
    assert stripe_pipeline.main(["--canonical", "--resources", "customers"]) == 0

    assert_everything_loaded_is_mapped(duckdb_path)
    assert_one_row_per_canonical_id(duckdb_path)
    assert query(
        duckdb_path,
        f"SELECT name FROM canonical.canonical_customers WHERE source_id = '{customer}'",  # noqa: S608
    ) == [("Changed Between Plain Runs",)]

    items = query(
        duckdb_path,
        "SELECT source_id, price_source_id, quantity, unit_amount, billing_interval "
        "FROM canonical.canonical_subscription_items "
        f"WHERE subscription_source_id = '{many['id']}'",  # noqa: S608
    )
    expected = {
        i["id"]: (
            i["price"]["id"],
            i["quantity"],
            Decimal(i["price"]["unit_amount"]).scaleb(-currency_exponent(i["price"]["currency"])),
            i["price"]["recurring"]["interval"],
        )
        for i in many["items"]["data"]
    }
    assert len(expected) == ITEMS
    assert {r[0]: r[1:] for r in items} == expected


def test_an_item_removed_from_a_subscription_leaves_its_canonical_items(
    pointed: StripeSandbox, duckdb_path: Path
) -> None:
    many = add_many_item_subscription(pointed)
    assert stripe_pipeline.main([*RAW, "--canonical"]) == 0
    kept, removed = many["items"]["data"][:-1], many["items"]["data"][-1]
    pointed.store.update("subscription", many["id"], items=kept)
    assert stripe_pipeline.main([*RAW, "--canonical"]) == 0

    where = f"subscription_source_id = '{many['id']}'"
    assert canonical_ids(duckdb_path, "canonical_subscription_items", where) == {
        i["id"] for i in kept
    }
    assert removed["id"] not in canonical_ids(duckdb_path, "canonical_subscription_items")
    assert_everything_loaded_is_mapped(duckdb_path)
    assert_one_row_per_canonical_id(duckdb_path)


def test_payment_intents_appear_without_doubling_their_charges(
    pointed: StripeSandbox, duckdb_path: Path
) -> None:
    store = pointed.store
    customer = store.listable("customers")[0]["id"]
    waiting = store.create("payment_intent", amount=4200, currency="eur", customer=customer)
    assert stripe_pipeline.main([*RAW, "--canonical"]) == 0
    intents = {r["id"]: r for r in store.listable("payment_intents")}
    payments = dict(
        query(
            duckdb_path,
            "SELECT source_id, payment_intent_source_id FROM canonical.canonical_payments",
        )
    )
    assert payments[waiting["id"]] == waiting["id"]
    charged = {i for i, pi in intents.items() if pi.get("latest_charge")}
    assert charged and not charged & set(payments)  # represented by their charges
    assert {p for p in payments.values() if p} <= set(intents)

    # the waiting intent is charged: its own row goes, its charge's row comes
    charge = store.create("charge", amount=4200, currency="eur", customer=customer)
    store.update("payment_intent", waiting["id"], latest_charge=charge["id"], status="succeeded")
    assert stripe_pipeline.main([*RAW, "--canonical"]) == 0
    source_ids = canonical_ids(duckdb_path, "canonical_payments")
    assert waiting["id"] not in source_ids and charge["id"] in source_ids
    succeeded = query(
        duckdb_path,
        "SELECT SUM(amount) FROM canonical.canonical_payments "
        "WHERE status = 'succeeded' AND currency = 'EUR'",
    )
    raw_succeeded = query(
        duckdb_path,
        "SELECT SUM(amount) / 100 FROM stripe.charges WHERE status = 'succeeded' "
        "AND currency = 'eur'",
    )
    assert Decimal(succeeded[0][0]) == Decimal(raw_succeeded[0][0])


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[tuple[str, Inbox]]:
    box = Inbox(tmp_path / "inbox.sqlite3")
    with serve_in_thread(create_stripe_receiver(box, [SECRET])) as base:
        yield base + WEBHOOK_PATH, box
    box.close()


def test_a_change_delivered_by_webhook_is_mapped(
    pointed: StripeSandbox,
    duckdb_path: Path,
    inbox: tuple[str, Inbox],
    tmp_path: Path,
) -> None:
    assert stripe_pipeline.main([*RAW, "--canonical"]) == 0
    store = pointed.store
    customer = next(c for c in store.listable("customers") if c.get("email"))["id"]
    before = {e["id"] for e in store.listable("events")}
    store.update("customer", customer, name="Renamed By Webhook")
    changes = [e for e in store.listable("events") if e["id"] not in before]
    assert changes
    url, box = inbox
    sender = WebhookSender(SECRET)
    results = sender.send(url, [sender.delivery(e) for e in changes])
    assert all(r.status == 200 for r in results)

    assert (
        webhooks_cli.main(["drain", "--inbox", str(tmp_path / "inbox.sqlite3"), "--canonical"]) == 0
    )

    assert query(
        duckdb_path,
        f"SELECT name FROM canonical.canonical_customers WHERE source_id = '{customer}'",  # noqa: S608
    ) == [("Renamed By Webhook",)]
    assert_one_row_per_canonical_id(duckdb_path)


@pytest.mark.parametrize("held", ["canonical_customers", "crosswalk", "canonical_payments"])
def test_kill9_during_the_canonical_step_then_a_rerun_gives_one_row_per_id(
    pointed: StripeSandbox, duckdb_path: Path, dlt_home: Path, tmp_path: Path, held: str
) -> None:
    assert stripe_pipeline.main(RAW) == 0
    signals = tmp_path / "signals"
    env = {
        **os.environ,
        **hold_env((held,), signals, install_hook(tmp_path / "hook"), REPO_ROOT),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "pipelines" / "stripe_pipeline.py"),
            "--canonical",
            "--resources",
            "customers",
        ],
        cwd=REPO_ROOT,  # the project's .dlt/config.toml, as the in-process re-run reads it
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # the destination committed the held table's job; dlt has not recorded it (nor the
    # package, with the mapped load ids in its state)
    kill_when(process, (signals / held).exists, deadline_s=120.0, poll_s=0.001)

    assert stripe_pipeline.main(["--canonical", "--resources", "customers"]) == 0

    assert_one_row_per_canonical_id(duckdb_path)
    assert_everything_loaded_is_mapped(duckdb_path)
    assert stripe_pipeline.main(["--canonical", "--resources", "customers"]) == 0
    assert_one_row_per_canonical_id(duckdb_path)


def test_enabling_canonical_later_on_postgres_maps_everything_already_loaded(
    stripe_sandbox: StripeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    dlt_home: Path,
    postgres_dsn: str,
) -> None:
    import psycopg2

    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    many = add_many_item_subscription(stripe_sandbox)
    assert stripe_pipeline.main(["--destination", "postgres", *RAW]) == 0
    args = ["--destination", "postgres", "--canonical", "--resources", "customers"]
    assert stripe_pipeline.main(args) == 0
    assert stripe_pipeline.main(args) == 0  # nothing new: nothing mapped twice

    def pg(sql: str) -> set[Any]:
        with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
            cur.execute(sql)
            return {r[0] for r in cur.fetchall()}

    assert pg("SELECT source_id FROM canonical.canonical_customers") == pg(
        "SELECT id FROM stripe.customers"
    )
    items = pg(
        "SELECT source_id FROM canonical.canonical_subscription_items "
        f"WHERE subscription_source_id = '{many['id']}'"  # noqa: S608
    )
    assert items == {i["id"] for i in many["items"]["data"]}
    chargeless = pg("SELECT id FROM stripe.payment_intents WHERE latest_charge IS NULL")
    charges = pg("SELECT id FROM stripe.charges WHERE status IS NOT NULL")
    assert pg("SELECT source_id FROM canonical.canonical_payments") == charges | chargeless
    [rows] = pg("SELECT COUNT(*) - COUNT(DISTINCT source_id) FROM canonical.canonical_payments")
    assert rows == 0
