"""Sync health from the run ledger ``_sync_runs`` (a marimo notebook).

Interactive:  marimo edit notebooks/sync_health.py -- --db stripe_data.duckdb
Headless:     python notebooks/sync_health.py --db stripe_data.duckdb --out notebook_output

Options (or environment): ``--db`` (``SLUICE_DUCKDB``, default ``stripe_data.duckdb``),
``--dataset`` (``SLUICE_DATASET``, default ``stripe``), ``--out`` (``SLUICE_NOTEBOOK_OUT``,
default ``notebook_output``). Freshness SLAs come from ``[sources.<source>.sla]`` in
``.dlt/config.toml``, judged by the same rules as ``pipelines/status.py``.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import os
    from collections import defaultdict
    from datetime import datetime, timezone
    from pathlib import Path

    import dlt
    import duckdb
    import marimo as mo
    from matplotlib.figure import Figure

    from sources.kit.health import SlaPolicy, assess, format_seconds

    return (
        Figure,
        Path,
        SlaPolicy,
        assess,
        datetime,
        defaultdict,
        dlt,
        duckdb,
        format_seconds,
        mo,
        os,
        timezone,
    )


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
    mo.md(
        f"# Sync health\n\nLedger `{dataset}._sync_runs` in `{db_path}`; plots saved to `{out_dir}`."
    )
    return dataset, db_path, out_dir


@app.cell
def _(dataset, db_path, duckdb, timezone):
    def read_runs():
        """Every ledger row as a dict, oldest first, timestamps in UTC ([] without a ledger)."""
        with duckdb.connect(db_path, read_only=True) as _con:
            exists = _con.execute(
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = '_sync_runs'",
                [dataset],
            ).fetchall()
            if not exists:
                return []
            cursor = _con.execute(
                f'SELECT * FROM "{dataset}"._sync_runs ORDER BY started_at, resource'
            )
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        for row in rows:
            for key in ("started_at", "finished_at"):
                row[key] = row[key].astimezone(timezone.utc)
        return rows

    ledger_rows = read_runs()
    return (ledger_rows,)


@app.cell
def _(defaultdict, ledger_rows, mo):
    def per_run(rows):
        """One summary per run: throughput, errors, 429s, failed resources."""
        grouped = defaultdict(list)
        for row in rows:
            grouped[row["run_id"]].append(row)
        summaries = []
        for run_id, group in grouped.items():
            resources = [r for r in group if not r["resource"].startswith("_")]
            duration = max(r["duration_s"] for r in group) or 0.0
            loaded = sum(r["records_loaded"] for r in group)
            summaries.append({
                "run_id": run_id,
                "started_at": min(r["started_at"] for r in group),
                "status": group[0]["run_status"],
                "records_loaded": loaded,
                "duration_s": duration,
                "records_per_s": loaded / duration if duration > 0 else 0.0,
                "api_requests": sum(r["api_requests"] for r in group),
                "retries": sum(r["retries"] for r in group),
                "throttled_429": sum(r["throttled_429"] for r in group),
                "server_errors": sum(r["server_errors"] for r in group),
                "circuit_trips": sum(r["circuit_trips"] for r in group),
                "failed_resources": sum(1 for r in resources if r["status"] == "failed"),
                "dead_lettered": sum(r["records_dead_lettered"] for r in group),
            })
        return sorted(summaries, key=lambda s: s["started_at"])

    runs = per_run(ledger_rows)
    mo.md(
        f"{len(runs)} run(s), {len(ledger_rows)} ledger row(s)."
        if runs
        else "_No runs recorded yet: run a pipeline first._"
    )
    return (runs,)


@app.cell
def _(mo):
    mo.md("""
    ## Throughput over time
    """)
    return


@app.cell
def _(Figure, mo, out_dir, runs):
    def run_label(run):
        """A run's x-axis label: when it started."""
        return run["started_at"].strftime("%m-%d %H:%M:%S")

    if runs:
        _fig = Figure(figsize=(11, 3.5))
        _rate_ax, _loaded_ax = _fig.subplots(1, 2)
        _labels = [run_label(r) for r in runs]
        _rate_ax.plot(_labels, [r["records_per_s"] for r in runs], marker="o")
        _rate_ax.set_title("Records loaded per second, per run")
        _rate_ax.set_ylabel("records/s")
        _loaded_ax.bar(_labels, [r["records_loaded"] for r in runs])
        _loaded_ax.set_title("Records loaded per run")
        for _ax in (_rate_ax, _loaded_ax):
            _ax.tick_params(axis="x", labelrotation=45)
        _fig.tight_layout()
        _fig.savefig(out_dir / "throughput.png", dpi=100)
        throughput_fig = _fig
        _view = throughput_fig
    else:
        _view = mo.md("_Nothing to plot._")
    _view
    return (run_label,)


@app.cell
def _(mo):
    mo.md("""
    ## Errors and 429s per run
    """)
    return


@app.cell
def _(Figure, mo, out_dir, run_label, runs):
    if runs:
        _series = (
            ("throttled_429", "429s"),
            ("retries", "retries"),
            ("server_errors", "5xx"),
            ("circuit_trips", "circuit trips"),
            ("failed_resources", "failed resources"),
        )
        _fig = Figure(figsize=(11, 3.5))
        _ax = _fig.subplots()
        _width = 0.8 / len(_series)
        for _i, (_key, _name) in enumerate(_series):
            _ax.bar(
                [x + _i * _width for x in range(len(runs))],
                [r[_key] for r in runs],
                width=_width,
                label=_name,
            )
        _ax.set_xticks(
            [x + 0.4 - _width / 2 for x in range(len(runs))], [run_label(r) for r in runs]
        )
        _ax.set_title("Errors and throttling per run")
        _ax.legend()
        _fig.tight_layout()
        _fig.savefig(out_dir / "errors_per_run.png", dpi=100)
        errors_fig = _fig
        _table = [
            {k: r[k] for k in ("run_id", "status", "api_requests", "retries", "throttled_429",
                               "server_errors", "circuit_trips", "failed_resources",
                               "dead_lettered")}
            for r in runs
        ]
        _view = mo.vstack([errors_fig, mo.ui.table(_table)])
    else:
        _view = mo.md("_Nothing to plot._")
    _view
    return


@app.cell
def _(mo):
    mo.md("""
    ## Freshness per resource (against its SLA)
    """)
    return


@app.cell
def _(SlaPolicy, assess, datetime, dlt, format_seconds, ledger_rows, timezone):
    def sla_policies(sources):
        """SLA policy per source from ``[sources.<source>.sla]`` (defaults when absent)."""
        policies = {}
        for source in sources:
            try:
                table = dlt.config.get(f"sources.{source}.sla")
            except Exception:  # noqa: BLE001 - no config: default SLAs
                table = None
            policies[source] = SlaPolicy.from_config(table)
        return policies

    checked_at = datetime.now(timezone.utc)
    health = assess(
        ledger_rows, sla_policies({r["source"] for r in ledger_rows}), checked_at
    ) if ledger_rows else []
    health_table = [
        {
            "source": h.source,
            "resource": h.resource,
            "health": h.health,
            "freshness": format_seconds(h.freshness_s),
            "sla": format_seconds(h.sla_s),
            "error rate": f"{100 * h.error_rate:.0f}%",
            "throughput/s": round(h.throughput_rps, 1) if h.throughput_rps is not None else None,
            "why": "; ".join(h.reasons),
        }
        for h in health
    ]
    return health, health_table


@app.cell
def _(Figure, format_seconds, health, health_table, mo, out_dir):
    _colors = {"Healthy": "tab:green", "Degraded": "tab:orange", "Failed": "tab:red"}
    if health:
        _fig = Figure(figsize=(10, 0.35 * len(health) + 1.5))
        _ax = _fig.subplots()
        _names = [f"{h.source}.{h.resource}" for h in health]
        # Share of the SLA used: the same scale for a 2-hour and a 26-hour SLA.
        _used = [
            100.0 * h.freshness_s / h.sla_s if h.freshness_s is not None else 100.0
            for h in health
        ]
        _ax.barh(_names, _used, color=[_colors[h.health] for h in health])
        for _y, (_h, _value) in enumerate(zip(health, _used)):
            _ax.annotate(
                f" {format_seconds(_h.freshness_s)} of {format_seconds(_h.sla_s)}",
                (_value, _y), va="center", fontsize=8,
            )
        _ax.axvline(100.0, color="black", linestyle="--", label="SLA")
        _ax.set_xlim(0, max(120.0, max(_used) * 1.25))
        _ax.set_xlabel("age of the data, % of its SLA")
        _ax.set_title("Freshness per resource (colour: health)")
        _ax.invert_yaxis()
        _ax.legend(loc="lower right")
        _fig.tight_layout()
        _fig.savefig(out_dir / "freshness.png", dpi=100)
        freshness_fig = _fig
        _view = mo.vstack([freshness_fig, mo.ui.table(health_table)])
    else:
        _view = mo.md("_Nothing to plot._")
    _view
    return


if __name__ == "__main__":
    app.run()
