"""Explore the Stripe data loaded by ``pipelines/stripe_pipeline.py`` (a marimo notebook).

Interactive:  marimo edit notebooks/stripe_explore.py -- --db stripe_data.duckdb
Headless:     python notebooks/stripe_explore.py --db stripe_data.duckdb --out notebook_output

Options (or environment): ``--db`` (``SLUICE_DUCKDB``, default ``stripe_data.duckdb``),
``--dataset`` (``SLUICE_DATASET``, default ``stripe``), ``--out`` (``SLUICE_NOTEBOOK_OUT``,
default ``notebook_output``): every plot is also saved there as PNG.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import json
    import os
    from collections import defaultdict
    from datetime import datetime, timezone
    from pathlib import Path

    import duckdb
    import marimo as mo
    from matplotlib.figure import Figure

    return Figure, Path, datetime, defaultdict, duckdb, json, mo, os, timezone


@app.cell
def _(Path, mo, os):
    _args = mo.cli_args()
    db_path = str(_args.get("db") or os.environ.get("SLUICE_DUCKDB", "stripe_data.duckdb"))
    dataset = str(_args.get("dataset") or os.environ.get("SLUICE_DATASET", "stripe"))
    out_dir = Path(str(_args.get("out") or os.environ.get("SLUICE_NOTEBOOK_OUT", "notebook_output")))
    if not db_path.startswith(("md:", ":")) and not Path(db_path).is_file():
        # duckdb.connect(read_only=True) on a missing file ends in a long traceback.
        _missing = (
            f"DuckDB file {db_path} does not exist: load it first (`sluice run stripe`; "
            "`--sandbox` loads stripe_sandbox_data.duckdb) or pass --db (SLUICE_DUCKDB)"
        )
        if mo.running_in_notebook():
            mo.stop(True, mo.md(f"**{_missing}**"))
        else:
            raise SystemExit(_missing)
    out_dir.mkdir(parents=True, exist_ok=True)
    mo.md(f"# Stripe data\n\nDatabase `{db_path}`, dataset `{dataset}`; plots saved to `{out_dir}`.")
    return dataset, db_path, out_dir


@app.cell
def _(dataset, db_path, duckdb):
    def query(sql, params=None):
        """Rows of ``sql`` as dicts; ``{ds}`` in ``sql`` is the quoted dataset name.

        Each query opens its own read-only connection, so an open notebook never keeps
        the pipeline from writing to the file.
        """
        with duckdb.connect(db_path, read_only=True) as _con:
            cursor = _con.execute(sql.replace("{ds}", f'"{dataset}"'), params or [])
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def columns_of(table):
        """Column names of ``dataset.table`` (empty when the table does not exist)."""
        rows = query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [dataset, table],
        )
        return {r["column_name"] for r in rows}

    def table_exists(table):
        """Whether ``dataset.table`` exists."""
        return bool(columns_of(table))

    return columns_of, query, table_exists


@app.cell
def _():
    ZERO_DECIMAL = {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
        "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    }

    def major_units(amount, currency):
        """Stripe amounts are in the currency's minor unit (cents) except zero-decimal ones."""
        return (amount or 0) / (1 if str(currency).lower() in ZERO_DECIMAL else 100)

    def save(fig, out_dir, name):
        """Saves a figure as PNG in the output folder and returns it for display."""
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=100)
        return fig

    return major_units, save


@app.cell
def _(mo):
    mo.md("""
    ## Customers
    """)
    return


@app.cell
def _(Figure, columns_of, mo, out_dir, query, save, table_exists):
    if table_exists("customers"):
        _live = "WHERE COALESCE(deleted, FALSE) = FALSE"
        _total = query(f"SELECT COUNT(*) AS n FROM {{ds}}.customers {_live}")[0]["n"]
        customers_by_month = query(
            "SELECT strftime(date_trunc('month', created), '%Y-%m') AS month, COUNT(*) AS new "
            f"FROM {{ds}}.customers {_live} GROUP BY 1 ORDER BY 1"
        )
        _countries = query(
            "SELECT COALESCE(address__country, '?') AS country, COUNT(*) AS customers "
            f"FROM {{ds}}.customers {_live} GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
        ) if "address__country" in columns_of("customers") else []
        _fig = Figure(figsize=(9, 3.5))
        _ax = _fig.subplots()
        _ax.bar([r["month"] for r in customers_by_month], [r["new"] for r in customers_by_month])
        _ax.set_title(f"New customers per month ({_total} customers)")
        _ax.set_ylabel("customers")
        customers_fig = save(_fig, out_dir, "customers_by_month.png")
        _view = mo.vstack([customers_fig, mo.ui.table(_countries, label="Top countries")])
    else:
        customers_by_month = []
        _view = mo.md("_No `customers` table in this dataset._")
    _view
    return


@app.cell
def _(mo):
    mo.md("""
    ## Revenue by month (paid invoices)
    """)
    return


@app.cell
def _(
    Figure,
    defaultdict,
    major_units,
    mo,
    out_dir,
    query,
    save,
    table_exists,
):
    if table_exists("invoices"):
        _rows = query(
            "SELECT strftime(date_trunc('month', created), '%Y-%m') AS month, "
            "lower(currency) AS currency, SUM(amount_paid) AS paid, COUNT(*) AS invoices "
            "FROM {ds}.invoices WHERE status = 'paid' AND COALESCE(deleted, FALSE) = FALSE "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
        revenue_by_month = [
            {**r, "revenue": major_units(r["paid"], r["currency"])} for r in _rows
        ]
        _months = sorted({r["month"] for r in revenue_by_month})
        _by_currency = defaultdict(dict)
        for _r in revenue_by_month:
            _by_currency[_r["currency"]][_r["month"]] = _r["revenue"]
        _fig = Figure(figsize=(9, 3.5))
        _ax = _fig.subplots()
        _width = 0.8 / max(1, len(_by_currency))
        for _i, (_currency, _values) in enumerate(sorted(_by_currency.items())):
            _x = [m + _i * _width for m in range(len(_months))]
            _ax.bar(_x, [_values.get(m, 0) for m in _months], width=_width, label=_currency.upper())
        _ax.set_xticks([m + 0.4 - _width / 2 for m in range(len(_months))], _months)
        _ax.set_title("Revenue by month from paid invoices")
        _ax.set_ylabel("amount (major units)")
        _ax.legend()
        revenue_fig = save(_fig, out_dir, "revenue_by_month.png")
        _view = mo.vstack([revenue_fig, mo.ui.table(revenue_by_month)])
    else:
        revenue_by_month = []
        _view = mo.md("_No `invoices` table in this dataset._")
    _view
    return


@app.cell
def _(mo):
    mo.md("""
    ## MRR from subscriptions

    Each subscription item contributes `unit_amount x quantity`, normalised to a month
    (`year` / 12, `week` x 52 / 12, `day` x 365 / 12, divided by `interval_count`).
    Current MRR counts `active` and `past_due` subscriptions; the monthly history counts a
    subscription from its start until it ended, without its trial.
    """)
    return


@app.cell
def _(columns_of, json, query, table_exists):
    MONTHS_PER_INTERVAL = {"month": 1.0, "year": 12.0, "week": 12 / 52, "day": 12 / 365}

    def item_rows():
        """Subscription items from the child table, or from the JSON ``items__data`` column."""
        _base = (
            "s.id AS subscription, s.status, lower(s.currency) AS currency, s.start_date, "
            "COALESCE(s.ended_at, s.canceled_at) AS ended_at, s.trial_end"
        )
        if table_exists("subscriptions__items__data"):
            return query(
                f"SELECT {_base}, i.quantity, i.price__unit_amount AS unit_amount, "
                "i.price__recurring__interval AS interval, "
                "i.price__recurring__interval_count AS interval_count "
                "FROM {ds}.subscriptions s JOIN {ds}.subscriptions__items__data i "
                "ON i._dlt_parent_id = s._dlt_id WHERE COALESCE(s.deleted, FALSE) = FALSE"
            )
        if "items__data" not in columns_of("subscriptions"):
            return []
        _items = []
        for _sub in query(
            f"SELECT {_base}, s.items__data FROM {{ds}}.subscriptions s "
            "WHERE COALESCE(s.deleted, FALSE) = FALSE"
        ):
            _raw = _sub.pop("items__data")
            for _item in (json.loads(_raw) if isinstance(_raw, str) else _raw) or []:
                _price = _item.get("price") or {}
                _recurring = _price.get("recurring") or {}
                _items.append({
                    **_sub,
                    "quantity": _item.get("quantity"),
                    "unit_amount": _price.get("unit_amount"),
                    "interval": _recurring.get("interval"),
                    "interval_count": _recurring.get("interval_count"),
                })
        return _items

    def monthly_amount(item):
        """An item's amount per month in minor units (0 for unknown intervals)."""
        months = MONTHS_PER_INTERVAL.get(str(item["interval"]))
        if not months:
            return 0.0
        per_period = (item["unit_amount"] or 0) * (item["quantity"] or 1)
        return per_period / (months * (item["interval_count"] or 1))

    subscription_items = item_rows() if table_exists("subscriptions") else []
    return monthly_amount, subscription_items


@app.cell
def _(
    Figure,
    datetime,
    defaultdict,
    major_units,
    mo,
    monthly_amount,
    out_dir,
    save,
    subscription_items,
    timezone,
):
    def month_ends(first, last):
        """``(YYYY-MM, end of that month)`` for every month from ``first`` to ``last``."""
        ends = []
        year, month = first.year, first.month
        while (year, month) <= (last.year, last.month):
            next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
            ends.append((f"{year}-{month:02d}", datetime(next_year, next_month, 1, tzinfo=timezone.utc)))
            year, month = next_year, next_month
        return ends

    def counts_at(item, moment):
        """Whether an item is billed at ``moment`` (started, not ended, out of trial)."""
        if item["start_date"] is None or item["start_date"] >= moment:
            return False
        if item["ended_at"] is not None and item["ended_at"] < moment:
            return False
        return item["trial_end"] is None or item["trial_end"] < moment

    current_mrr = defaultdict(float)
    for _item in subscription_items:
        if _item["status"] in ("active", "past_due"):
            current_mrr[_item["currency"]] += major_units(monthly_amount(_item), _item["currency"])

    _starts = [i["start_date"] for i in subscription_items if i["start_date"] is not None]
    mrr_history = []
    if _starts:
        _now = datetime.now(timezone.utc)
        for _month, _end in month_ends(min(_starts), _now):
            _moment = min(_end, _now)
            for _currency in sorted({i["currency"] for i in subscription_items}):
                _total = sum(
                    major_units(monthly_amount(i), _currency)
                    for i in subscription_items
                    if i["currency"] == _currency and counts_at(i, _moment)
                )
                mrr_history.append(
                    {"month": _month, "currency": _currency, "mrr": _total}
                )

    if subscription_items:
        _fig = Figure(figsize=(11, 3.5))
        _now_ax, _history_ax = _fig.subplots(1, 2)
        _currencies = sorted(current_mrr)
        _now_ax.bar([c.upper() for c in _currencies], [current_mrr[c] for c in _currencies])
        _now_ax.set_title("Current MRR by currency")
        _now_ax.set_ylabel("MRR (major units)")
        for _currency in sorted({r["currency"] for r in mrr_history}):
            _points = [r for r in mrr_history if r["currency"] == _currency]
            _history_ax.plot(
                [p["month"] for p in _points], [p["mrr"] for p in _points],
                marker="o", label=_currency.upper(),
            )
        _history_ax.set_title("MRR at month end (current month: now)")
        _history_ax.legend()
        mrr_fig = save(_fig, out_dir, "mrr.png")
        _view = mo.vstack([
            mrr_fig,
            mo.ui.table([{"currency": c.upper(), "mrr": round(v, 2)} for c, v in current_mrr.items()]),
        ])
    else:
        _view = mo.md("_No subscriptions in this dataset._")
    _view
    return


@app.cell
def _(mo):
    mo.md("""
    ## Charges by status and currency
    """)
    return


@app.cell
def _(Figure, major_units, mo, out_dir, query, save, table_exists):
    if table_exists("charges"):
        charges_by_status = [
            {**r, "amount": major_units(r["amount_minor"], r["currency"])}
            for r in query(
                "SELECT status, lower(currency) AS currency, COUNT(*) AS charges, "
                "SUM(amount) AS amount_minor FROM {ds}.charges "
                "WHERE COALESCE(deleted, FALSE) = FALSE GROUP BY 1, 2 ORDER BY 1, 2"
            )
        ]
        _statuses = sorted({r["status"] for r in charges_by_status})
        _currencies = sorted({r["currency"] for r in charges_by_status})
        _fig = Figure(figsize=(11, 3.5))
        _count_ax, _amount_ax = _fig.subplots(1, 2)
        for _ax, _field, _title in (
            (_count_ax, "charges", "Charges by status (count)"),
            (_amount_ax, "amount", "Charge amount by status (major units)"),
        ):
            _bottom = [0.0] * len(_statuses)
            for _currency in _currencies:
                _values = [
                    sum(r[_field] for r in charges_by_status
                        if r["status"] == s and r["currency"] == _currency)
                    for s in _statuses
                ]
                _ax.bar(_statuses, _values, bottom=_bottom, label=_currency.upper())
                _bottom = [b + v for b, v in zip(_bottom, _values)]
            _ax.set_title(_title)
            _ax.legend()
        charges_fig = save(_fig, out_dir, "charges_by_status_currency.png")
        _view = mo.vstack([charges_fig, mo.ui.table(charges_by_status)])
    else:
        charges_by_status = []
        _view = mo.md("_No `charges` table in this dataset._")
    _view
    return


if __name__ == "__main__":
    app.run()
