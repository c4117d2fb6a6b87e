"""Every notebook runs headless against a DuckDB loaded from the Stripe sandbox and plots."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO_ROOT / "notebooks"
DATASET = "stripe_sandbox"
"""`pipelines/stripe_pipeline.py --sandbox` loads the sandbox's dataset, never a real `stripe`."""
MODELS_DATASET = f"{DATASET}_models"
"""Where the dbt models (`models/stripe/`) the notebook reads are built."""
MIN_PNG_BYTES = 5_000
"""An empty matplotlib figure saves to about 2 KB; a plot with data is well above this."""

EXPECTED_PLOTS = {
    "stripe_explore.py": [
        "customers_by_month.png",
        "revenue_by_month.png",
        "mrr.png",
        "daily_overview.png",
        "charges_by_status_currency.png",
    ],
    "sync_health.py": ["throughput.png", "errors_per_run.png", "freshness.png"],
}


def clean_env(dlt_home: Path, database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(
        DLT_DATA_DIR=str(dlt_home),
        DESTINATION__DUCKDB__CREDENTIALS=str(database),
        RUNTIME__DLTHUB_TELEMETRY="false",
    )
    return env


def has_table(database: Path, table: str, dataset: str = DATASET) -> bool:
    with duckdb.connect(str(database), read_only=True) as con:
        return bool(
            con.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [dataset, table],
            ).fetchall()
        )


def build_models(root: Path, env: dict[str, str]) -> None:
    """Builds the dbt models the notebook reads (when the run did not refresh them)."""
    pytest.importorskip("dbt.adapters.duckdb", reason="needs the models extra (dbt-duckdb)")
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.models", "stripe", "--sandbox", "--no-test"],
        cwd=root,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def ledger_rows_from_tables(database: Path, dlt_home: Path) -> None:
    """Writes `_sync_runs` rows for the loaded tables (until the pipeline writes its own)."""
    import dlt

    from sources.kit.ledger import SyncMonitor, write_ledger
    from sources.kit.monitor import SUCCESS

    with duckdb.connect(str(database), read_only=True) as con:
        counts = {
            table: con.execute(f'SELECT COUNT(*) FROM {DATASET}."{table}"').fetchone()[0]  # noqa: S608
            for (table,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "AND table_name NOT LIKE '\\_%' ESCAPE '\\' AND table_name NOT LIKE '%\\_\\_%' "
                "ESCAPE '\\'",
                [DATASET],
            ).fetchall()
        }
    pipeline = dlt.attach(pipeline_name=DATASET, pipelines_dir=str(dlt_home / "pipelines"))
    pipeline.destination = dlt.destinations.duckdb(credentials=str(database))
    for attempt, throttled in enumerate((0, 3)):
        monitor = SyncMonitor("stripe", f"notebook-test-{attempt}-{uuid.uuid4().hex[:6]}")
        for table, rows in counts.items():
            monitor.record(table, loaded=rows, pages=max(1, rows // 100))
        monitor.finish()
        stats = {t: {"requests": 2, "throttled_429": throttled} for t in counts}
        write_ledger(pipeline, monitor.ledger_rows(SUCCESS, http_stats_by_label=stats))


@pytest.fixture(scope="module")
def loaded_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DuckDB file loaded by `stripe_pipeline.py --sandbox`, with a `_sync_runs` ledger."""
    root = tmp_path_factory.mktemp("notebooks")
    database = root / "stripe_sandbox_data.duckdb"
    dlt_home = root / "dlt_home"
    dlt_home.mkdir()
    env = clean_env(dlt_home, database)
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "pipelines" / "stripe_pipeline.py"),
            "--sandbox",
            "--sandbox-volume",
            "20",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert database.exists() and has_table(database, "charges"), result.stderr[-3000:]
    if not has_table(database, "_sync_runs"):
        ledger_rows_from_tables(database, dlt_home)
    assert has_table(database, "_sync_runs")
    if not has_table(database, "stripe__mrr_by_month", MODELS_DATASET):
        build_models(root, env)
    yield database


@pytest.mark.e2e
@pytest.mark.parametrize("notebook", sorted(EXPECTED_PLOTS), ids=lambda n: n.removesuffix(".py"))
def test_notebook_runs_headless_and_plots(
    notebook: str, loaded_duckdb: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plots"

    result = subprocess.run(
        [
            sys.executable,
            str(NOTEBOOKS / notebook),
            "--db",
            str(loaded_duckdb),
            "--dataset",
            DATASET,
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    for plot in EXPECTED_PLOTS[notebook]:
        path = out / plot
        assert path.exists(), f"{notebook} did not save {plot}"
        assert path.read_bytes().startswith(b"\x89PNG")
        assert path.stat().st_size > MIN_PNG_BYTES, f"{plot} looks empty"


@pytest.mark.e2e
@pytest.mark.parametrize("notebook", sorted(EXPECTED_PLOTS), ids=lambda n: n.removesuffix(".py"))
def test_notebook_is_valid_marimo(notebook: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "marimo", "check", str(NOTEBOOKS / notebook)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("notebook", sorted(EXPECTED_PLOTS), ids=lambda n: n.removesuffix(".py"))
def test_a_missing_database_is_one_line(notebook: str, tmp_path: Path) -> None:
    missing = tmp_path / "never_loaded.duckdb"

    result = subprocess.run(
        [sys.executable, str(NOTEBOOKS / notebook), "--db", str(missing), "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert str(missing) in lines[0] and "does not exist" in lines[0]
    assert not missing.exists()  # nothing created in its place
