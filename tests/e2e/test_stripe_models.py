"""End to end: the sandbox with the MRR scenario, loaded into DuckDB, then the dbt models.

The expected figures below were worked out by hand from the stories in
``sandbox/stripe/scenarios.py`` (not computed from them): a test that derived them with
code would share the model's mistakes.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from pipelines import stripe_pipeline
from sandbox.stripe import StripeSandbox
from sandbox.stripe.scenarios import month_starts
from sources.kit.models import ModelsOutcome, run_models

pytest.importorskip("dbt.adapters.duckdb", reason="needs the models extra (dbt-duckdb)")

MODELS = "stripe_models"

# Hand computation. Each story bills on the 1st of the month; M5 is the current month.
# MRR of a month = the monthly price of the period covering the month's last instant
# (the current month: now); an annual $300 plan is 300 / 12 = 25.00 a month; JPY has no
# minor unit, so 5,000 (smallest unit) is 5,000 yen, not 50.
#
#  story   month  currency  mrr      movement      why
MRR_TABLE = """
   ada     M1     usd         10.00  new           Starter $10 from M1
   ada     M2     usd         10.00  unchanged
   ada     M3     usd         10.00  unchanged
   ada     M4     usd         10.00  unchanged
   ada     M5     usd         10.00  unchanged     (the M2 refund is not MRR)
   ben     M1     usd         10.00  new           Starter $10
   ben     M2     usd         30.00  expansion     upgraded to Pro $30 at the M2 renewal
   ben     M3     usd         30.00  unchanged     (M3's first payment failed, then paid)
   ben     M4     usd         30.00  unchanged
   ben     M5     usd         30.00  unchanged
   cleo    M1     usd         30.00  new           Pro $30
   cleo    M2     usd         30.00  unchanged
   cleo    M3     usd         10.00  contraction   downgraded to Starter $10 at M3
   cleo    M4     usd         10.00  unchanged
   cleo    M5     usd         10.00  unchanged
   dan     M1     usd         10.00  new           Starter $10
   dan     M2     usd          0.00  churned       canceled on M2 day 10, mid-period
   eve     M1     usd         10.00  new           Starter $10, one period only
   eve     M2     usd          0.00  churned       ended when the M1 period did
   eve     M4     usd         30.00  reactivated   came back on Pro $30 (M3: no row)
   eve     M5     usd         30.00  unchanged
   fritz   M1     eur         40.00  new           Team EUR 20 x 2 seats
   fritz   M2     eur         40.00  unchanged
   fritz   M3     eur         60.00  expansion     a third seat
   fritz   M4     eur         60.00  unchanged
   fritz   M5     eur         60.00  unchanged
   hana    M2     jpy       5000.00  new           Team JPY 5,000 from M2
   hana    M3     jpy       5000.00  unchanged
   hana    M4     jpy       5000.00  unchanged
   hana    M5     jpy       5000.00  unchanged
   ian     M1     usd         25.00  new           Pro annual $300 / 12
   ian     M2     usd         25.00  unchanged
   ian     M3     usd         25.00  unchanged
   ian     M4     usd         25.00  unchanged
   ian     M5     usd         25.00  unchanged
"""

# Movement amounts of the rows that move (the others are all zero).
#  story  month  column            amount
MOVEMENT_AMOUNTS = """
   ada    M1     new_mrr            10.00
   ben    M2     expansion_mrr      20.00
   cleo   M3     contraction_mrr   -20.00
   dan    M2     churned_mrr       -10.00
   eve    M2     churned_mrr       -10.00
   eve    M4     reactivation_mrr   30.00
   fritz  M3     expansion_mrr      20.00
   hana   M2     new_mrr          5000.00
"""

# Customer overview, in the settlement currency (usd). Charges settle at 1:1 for usd and
# at 0.0067 per yen (5,000 JPY = $33.50); fees are 2.9% + 30 cents per charge
# ($10: 0.59, $30: 1.17, $33.50: 1.27) and a lost dispute adds a $15 fee.
#  story  charges  failed  refunds  disputes  gross    refunded  disputed  fees   ltv
OVERVIEW_TABLE = """
   ada    5        0       1        0          50.00   10.00      0.00     2.95   40.00
   ben    5        1       0        0         130.00    0.00      0.00     5.27  130.00
   cleo   5        0       0        1          90.00    0.00     30.00    19.11   60.00
   dan    2        0       0        0          20.00    0.00      0.00     1.18   20.00
   hana   4        0       0        0         134.00    0.00      0.00     5.08  134.00
   ian    1        0       0        0         300.00    0.00      0.00     9.00  300.00
"""
# ada: 5 x $10; refund of the M2 $10 -> 40. ben: 10 + 4 x 30 = 130; fees 0.59 + 4 x 1.17.
# cleo: 30 + 30 + 3 x 10 = 90, minus the $30 M1 charge lost in dispute; fees
# 2 x 1.17 + 3 x 0.59 + 15 = 19.11. hana: 4 x 33.50; fees 4 x (0.97 + 0.30) = 5.08.


@dataclass(frozen=True)
class Loaded:
    """The scenario's DuckDB file, the pipeline that loaded it and the models' outcome."""

    db: Path
    pipeline: dlt.Pipeline
    outcome: ModelsOutcome
    months: list[dt.date]


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.strip().splitlines()]


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """Loads the sandbox with the MRR scenario once, then builds the models."""
    tmp = tmp_path_factory.mktemp("stripe_models")
    db = tmp / "stripe_data.duckdb"
    with (
        pytest.MonkeyPatch.context() as env,
        StripeSandbox(seed=42, volume=20, rate_limit=0, scenario="mrr") as sandbox,
    ):
        env.setenv("DLT_DATA_DIR", str(tmp / "dlt_home"))
        env.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
        env.setenv("SOURCES__STRIPE__BASE_URL", sandbox.base_url)
        env.setenv("SOURCES__STRIPE__API_KEY", sandbox.api_key)
        env.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(db))
        months = [
            dt.datetime.fromtimestamp(t, dt.timezone.utc).date()
            for t in month_starts(int(sandbox.clock()))
        ]
        assert stripe_pipeline.main([]) == 0
        pipeline = dlt.attach(pipeline_name="stripe")
        outcome = run_models(pipeline, "stripe")
        yield Loaded(db, pipeline, outcome, months)


def customer_ids(db: Path) -> dict[str, str]:
    """Story key (``ada``) -> customer id, from the scenario's e-mail addresses."""
    found = query(
        db, "select email, id from stripe.customers where email like '%@scenario.example'"
    )
    return {email.split("@")[0]: customer_id for email, customer_id in found}


def mrr_rows(db: Path, customer_id: str) -> list[tuple[Any, ...]]:
    return query(
        db,
        f"select month, currency, mrr, movement from {MODELS}.stripe__mrr_by_month "
        "where customer_id = ? order by month, currency",
        customer_id,
    )


@pytest.mark.e2e
def test_every_model_builds_and_its_tests_pass(loaded: Loaded) -> None:
    built = {model.name: model.status for model in loaded.outcome.models}
    assert built == {
        name: "success"
        for name in (
            "stripe__balance_transactions",
            "stripe__invoice_details",
            "stripe__invoice_line_item_details",
            "stripe__subscription_details",
            "stripe__mrr_by_month",
            "stripe__customer_overview",
            "stripe__daily_overview",
        )
    }
    assert loaded.outcome.tests and not loaded.outcome.failed_tests


@pytest.mark.e2e
def test_mrr_by_month_equals_the_hand_computed_table(loaded: Loaded) -> None:
    ids = customer_ids(loaded.db)
    expected: dict[str, list[tuple[Any, ...]]] = {}
    for story, month, currency, mrr, movement, *_ in rows(MRR_TABLE):
        expected.setdefault(story, []).append(
            (loaded.months[int(month[1:]) - 1], currency, Decimal(mrr), movement)
        )
    for story, wanted in expected.items():
        assert mrr_rows(loaded.db, ids[story]) == wanted, story


@pytest.mark.e2e
def test_mrr_movement_amounts_equal_the_hand_computed_changes(loaded: Loaded) -> None:
    ids = customer_ids(loaded.db)
    columns = ["new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"]
    for story, month, column, amount in rows(MOVEMENT_AMOUNTS):
        found = query(
            loaded.db,
            f"select {', '.join(columns)}, mrr_change from {MODELS}.stripe__mrr_by_month "
            "where customer_id = ? and month = ?",
            ids[story],
            loaded.months[int(month[1:]) - 1],
        )
        assert len(found) == 1, (story, month)
        values = dict(zip([*columns, "mrr_change"], found[0], strict=True))
        assert values.pop(column) == Decimal(amount), (story, month)
        assert values.pop("mrr_change") == Decimal(amount), (story, month)
        assert set(values.values()) == {Decimal(0)}, (story, month)


@pytest.mark.e2e
def test_customer_overview_equals_the_hand_computed_figures(loaded: Loaded) -> None:
    ids = customer_ids(loaded.db)
    for story, charges, failed, refunds, disputes, *money in rows(OVERVIEW_TABLE):
        found = query(
            loaded.db,
            f"select charge_count, failed_charge_count, refund_count, dispute_count, "
            f"gross_amount, refunded_amount, disputed_amount, fees, lifetime_value, "
            f"settlement_currency from {MODELS}.stripe__customer_overview where customer_id = ?",
            ids[story],
        )
        assert found == [
            (int(charges), int(failed), int(refunds), int(disputes), *map(Decimal, money), "usd")
        ], story


@pytest.mark.e2e
def test_first_and_latest_charge_of_a_customer(loaded: Loaded) -> None:
    dan = customer_ids(loaded.db)["dan"]
    first, latest = query(
        loaded.db,
        f"select first_charge_at, latest_charge_at from {MODELS}.stripe__customer_overview "
        "where customer_id = ?",
        dan,
    )[0]
    # dan paid on M1 and M2, each a second after the invoice was created at midnight
    assert (first.date(), latest.date()) == (loaded.months[0], loaded.months[1])


@pytest.mark.e2e
def test_subscription_details_of_scenario_customers(loaded: Loaded) -> None:
    ids = customer_ids(loaded.db)
    found = dict(
        query(
            loaded.db,
            f"select customer_id, status || ' ' || current_monthly_amount || ' ' || invoice_count "
            f"from {MODELS}.stripe__subscription_details where customer_id in (?, ?, ?)",
            ids["ben"],
            ids["dan"],
            ids["ian"],
        )
    )
    assert found == {
        ids["ben"]: "active 30.0000 5",  # on Pro since M2: its items bill $30 a month now
        ids["dan"]: "canceled 0.0000 2",
        ids["ian"]: "active 25.0000 1",  # one annual invoice, $300 / 12
    }


@pytest.mark.e2e
def test_invoice_details_carry_lines_products_and_payment(loaded: Loaded) -> None:
    hana = customer_ids(loaded.db)["hana"]
    found = query(
        loaded.db,
        f"select status, currency, total, line_count, product_names, latest_charge_status "
        f"from {MODELS}.stripe__invoice_details where customer_id = ? order by created_at",
        hana,
    )
    assert found == [("paid", "jpy", Decimal(5000), 1, "Scenario Team", "succeeded")] * 4
    lines = query(
        loaded.db,
        f"select line_type, amount, recurring_interval, product_name, subscription_status "
        f"from {MODELS}.stripe__invoice_line_item_details where customer_id = ?",
        hana,
    )
    assert lines == [("subscription", Decimal(5000), "month", "Scenario Team", "active")] * 4


@pytest.mark.e2e
def test_balance_transactions_know_their_source_and_customer(loaded: Loaded) -> None:
    cleo = customer_ids(loaded.db)["cleo"]
    found = query(
        loaded.db,
        f"select source_type, count(*), sum(amount), sum(fee) "
        f"from {MODELS}.stripe__balance_transactions where customer_id = ? "
        "group by source_type order by source_type",
        cleo,
    )
    assert found == [
        ("charge", 5, Decimal("90.00"), Decimal("4.11")),
        ("dispute", 1, Decimal("-30.00"), Decimal("15.00")),
    ]
    unmatched = query(
        loaded.db,
        f"select count(*) from {MODELS}.stripe__balance_transactions "
        "where source_type in ('charge', 'refund') and customer_id is null",
    )
    assert unmatched == [(0,)]


@pytest.mark.e2e
def test_daily_overview_has_every_day_and_adds_up(loaded: Loaded) -> None:
    days, first, last, gross, fees = query(
        loaded.db,
        f"select count(*), min(date_day), max(date_day), sum(gross_charges), sum(fees) "
        f"from {MODELS}.stripe__daily_overview",
    )[0]
    assert days == (last - first).days + 1
    assert last == dt.datetime.now(dt.timezone.utc).date()
    assert (gross, fees) == query(
        loaded.db,
        f"select sum(amount) filter (where source_type = 'charge'), sum(fee) "
        f"from {MODELS}.stripe__balance_transactions",
    )[0]


@pytest.mark.e2e
def test_models_read_embedded_lines_before_the_child_tables_exist(
    loaded: Loaded, tmp_path: Path
) -> None:
    """A load from before the child tables (lines only in invoices.lines__data): same MRR."""
    copy = tmp_path / "older.duckdb"
    shutil.copy(loaded.db, copy)
    with duckdb.connect(str(copy)) as con:
        # embed the lines as Stripe does (and older loads stored them), then drop the table
        con.execute("alter table stripe.invoices add column lines__data json")
        con.execute(
            """
            update stripe.invoices set lines__data = (
                select to_json(list({
                    'id': l.id, 'amount': l.amount, 'currency': l.currency,
                    'quantity': l.quantity, 'subscription': l.subscription,
                    'period': {'start': epoch(l.period__start)::bigint,
                               'end': epoch(l.period__end)::bigint},
                    'parent': {'type': l.parent__type,
                               'subscription_item_details': l.parent__subscription_item_details},
                    'pricing': {'price_details': l.pricing__price_details}
                }))
                from stripe.invoice_line_items as l where l.invoice_id = invoices.id
            )
            """
        )
        con.execute("drop table stripe.invoice_line_items")
        con.execute("drop table stripe.subscription_items")
        con.execute(f"drop schema {MODELS} cascade")
    pipeline = dlt.pipeline(
        pipeline_name="stripe_models_older",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(copy)),
        dataset_name="stripe",
    )
    outcome = run_models(pipeline, "stripe", test=False)
    assert all(model.ok for model in outcome.models)
    ids = customer_ids(copy)
    for story in ("ben", "eve", "hana", "ian"):
        assert mrr_rows(copy, ids[story]) == mrr_rows(loaded.db, ids[story]), story


def test_the_scenario_adds_its_customers_and_leaves_the_seeded_account_as_it_was() -> None:
    now = 1_790_000_000  # any fixed time: both accounts are generated at it

    def customers(sandbox: StripeSandbox) -> dict[str, str]:
        return {c["id"]: c["email"] for c in sandbox.store.listable("customers")}

    plain = customers(StripeSandbox(seed=42, volume=20, now=lambda: now))
    with_scenario = customers(StripeSandbox(seed=42, volume=20, now=lambda: now, scenario="mrr"))

    added = {k: v for k, v in with_scenario.items() if k not in plain}
    assert {k: with_scenario[k] for k in plain} == plain
    assert sorted(email.split("@")[0] for email in added.values()) == [
        "ada",
        "ben",
        "cleo",
        "dan",
        "eve",
        "fritz",
        "hana",
        "ian",
    ]


def test_an_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sandbox scenario 'nope': choose one of mrr"):
        StripeSandbox(seed=42, volume=2, scenario="nope")
