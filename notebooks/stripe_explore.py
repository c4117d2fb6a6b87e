"""Explore the Stripe data loaded by ``pipelines/stripe_pipeline.py`` (a marimo notebook).

Interactive:  marimo edit notebooks/stripe_explore.py -- --db stripe_data.duckdb
Headless:     python notebooks/stripe_explore.py --db stripe_data.duckdb --out notebook_output

Options (or environment): ``--db`` (``SLUICE_DUCKDB``, default ``stripe_data.duckdb``),
``--dataset`` (``SLUICE_DATASET``, default ``stripe``), ``--out`` (``SLUICE_NOTEBOOK_OUT``,
default ``notebook_output``): every plot is also saved there as PNG.

Revenue, MRR, customers and the daily overview read the dbt models in ``<dataset>_models``
(``models/stripe/``, refreshed after each load or by ``sluice models stripe``); the notebook
never re-derives them, so it shows the same figures as any other tool reading the models.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import os
    from collections import defaultdict
    from pathlib import Path

    import duckdb
    import marimo as mo
    from matplotlib.figure import Figure

    return Figure, Path, defaultdict, duckdb, mo, os


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
    models_dataset = f"{dataset}_models"

    def query(sql, params=None):
        """Rows of ``sql`` as dicts; ``{ds}`` is the quoted dataset, ``{ms}`` its models'.

        Each query opens its own read-only connection, so an open notebook never keeps
        the pipeline from writing to the file.
        """
        _sql = sql.replace("{ds}", f'"{dataset}"').replace("{ms}", f'"{models_dataset}"')
        with duckdb.connect(db_path, read_only=True) as _con:
            cursor = _con.execute(_sql, params or [])
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def model_exists(model):
        """Whether the dbt model ``model`` has been built in the models dataset."""
        return bool(query(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [models_dataset, model],
        ))

    def no_model(model):
        """What to show when a model is missing."""
        return mo.md(
            f"_No `{models_dataset}.{model}`: build the models with `sluice models stripe` "
            "(needs `pip install 'sluice[models]'`)._"
        )

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

    return columns_of, model_exists, no_model, query, table_exists


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
def _(Figure, mo, model_exists, no_model, out_dir, query, save):
    if model_exists("stripe__customer_overview"):
        _live = "WHERE NOT COALESCE(is_deleted, FALSE)"
        _total = query(f"SELECT COUNT(*) AS n FROM {{ms}}.stripe__customer_overview {_live}")[0]["n"]
        customers_by_month = query(
            "SELECT strftime(date_trunc('month', created_at), '%Y-%m') AS month, COUNT(*) AS new "
            f"FROM {{ms}}.stripe__customer_overview {_live} GROUP BY 1 ORDER BY 1"
        )
        _top = query(
            "SELECT customer_name, country, lifetime_value, settlement_currency, charge_count, "
            "failed_charge_count, refund_count, dispute_count, latest_charge_at "
            f"FROM {{ms}}.stripe__customer_overview {_live} "
            "ORDER BY lifetime_value DESC LIMIT 10"
        )
        _fig = Figure(figsize=(9, 3.5))
        _ax = _fig.subplots()
        _ax.bar([r["month"] for r in customers_by_month], [r["new"] for r in customers_by_month])
        _ax.set_title(f"New customers per month ({_total} customers)")
        _ax.set_ylabel("customers")
        customers_fig = save(_fig, out_dir, "customers_by_month.png")
        _view = mo.vstack([
            customers_fig, mo.ui.table(_top, label="Top customers by lifetime value"),
        ])
    else:
        customers_by_month = []
        _view = no_model("stripe__customer_overview")
    _view
    return


@app.cell
def _(mo):
    mo.md("""
    ## Revenue by month (paid invoices, `stripe__invoice_details`)
    """)
    return


@app.cell
def _(Figure, defaultdict, mo, model_exists, no_model, out_dir, query, save):
    if model_exists("stripe__invoice_details"):
        # amounts are already in major units of each invoice's currency
        revenue_by_month = [
            {**r, "revenue": float(r["revenue"])}
            for r in query(
                "SELECT strftime(date_trunc('month', created_at), '%Y-%m') AS month, currency, "
                "SUM(amount_paid) AS revenue, COUNT(*) AS invoices "
                "FROM {ms}.stripe__invoice_details WHERE status = 'paid' "
                "GROUP BY 1, 2 ORDER BY 1, 2"
            )
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
        _view = no_model("stripe__invoice_details")
    _view
    return


@app.cell
def _(mo):
    mo.md("""
    ## MRR (`stripe__mrr_by_month`)

    MRR per customer and month from invoice history, per currency (never summed across
    currencies), with each month's movement: new, expansion, contraction, churned,
    reactivated. The rules are in `models/stripe/models/marts/marts.yml`.
    """)
    return


@app.cell
def _(Figure, defaultdict, mo, model_exists, no_model, out_dir, query, save):
    if model_exists("stripe__mrr_by_month"):
        mrr_history = [
            {**r, "mrr": float(r["mrr"])}
            for r in query(
                "SELECT strftime(month, '%Y-%m') AS month, currency, SUM(mrr) AS mrr, "
                "COUNT(*) FILTER (WHERE mrr > 0) AS customers "
                "FROM {ms}.stripe__mrr_by_month GROUP BY 1, 2 ORDER BY 1, 2"
            )
        ]
        mrr_movements = [
            {k: (float(v) if k.endswith("_mrr") else v) for k, v in r.items()}
            for r in query(
                "SELECT strftime(month, '%Y-%m') AS month, currency, "
                "SUM(new_mrr) AS new_mrr, SUM(expansion_mrr) AS expansion_mrr, "
                "SUM(reactivation_mrr) AS reactivation_mrr, "
                "SUM(contraction_mrr) AS contraction_mrr, SUM(churned_mrr) AS churned_mrr "
                "FROM {ms}.stripe__mrr_by_month GROUP BY 1, 2 ORDER BY 1, 2"
            )
        ]
        _latest = max((r["month"] for r in mrr_history), default=None)
        current_mrr = defaultdict(float)
        for _r in mrr_history:
            if _r["month"] == _latest:
                current_mrr[_r["currency"]] += _r["mrr"]
        _fig = Figure(figsize=(11, 3.5))
        _now_ax, _history_ax = _fig.subplots(1, 2)
        _currencies = sorted(current_mrr)
        _now_ax.bar([c.upper() for c in _currencies], [current_mrr[c] for c in _currencies])
        _now_ax.set_title(f"MRR by currency, {_latest}")
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
        _view = mo.vstack([mrr_fig, mo.ui.table(mrr_movements, label="MRR movements")])
    else:
        mrr_history, mrr_movements = [], []
        _view = no_model("stripe__mrr_by_month")
    _view
    return


@app.cell
def _(mo):
    mo.md("""
    ## Daily overview (`stripe__daily_overview`)
    """)
    return


@app.cell
def _(Figure, mo, model_exists, no_model, out_dir, query, save):
    if model_exists("stripe__daily_overview"):
        daily = [
            {k: (float(v) if hasattr(v, "is_finite") else v) for k, v in r.items()}
            for r in query(
                "SELECT date_day, settlement_currency, gross_charges, refunds, dispute_losses, "
                "fees, net, cumulative_net, new_customer_count, failed_charge_count "
                "FROM {ms}.stripe__daily_overview ORDER BY date_day"
            )
        ]
        _currency = (daily[-1]["settlement_currency"] or "").upper() if daily else ""
        _fig = Figure(figsize=(11, 3.5))
        _day_ax, _total_ax = _fig.subplots(1, 2)
        _days = [r["date_day"] for r in daily]
        _day_ax.bar(_days, [r["gross_charges"] for r in daily], label="gross charges")
        _day_ax.bar(_days, [-r["refunds"] - r["dispute_losses"] for r in daily],
                    label="refunds and disputes")
        _day_ax.set_title(f"Charges per day ({_currency})")
        _day_ax.legend()
        _total_ax.plot(_days, [r["cumulative_net"] for r in daily])
        _total_ax.set_title(f"Cumulative net after fees ({_currency})")
        _fig.autofmt_xdate()
        daily_fig = save(_fig, out_dir, "daily_overview.png")
        _view = mo.vstack([daily_fig, mo.ui.table(daily[-31:], label="Last 31 days")])
    else:
        daily = []
        _view = no_model("stripe__daily_overview")
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
