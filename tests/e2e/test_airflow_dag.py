"""The Airflow DAG imports cleanly in Airflow 3 and its runs load one lasting DuckDB file
and leave run-ledger rows (its own virtualenv beside the project's).

Airflow pins hundreds of packages of its own, so it lives in ``.venv-airflow`` (built
on first use: Airflow 3 plus sluice's core dependencies, about a minute) instead of the
test environment with Dagster. The DAG is parsed by Airflow's own ``DagBag``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sandbox.stripe import StripeSandbox

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_VENV = REPO / ".venv-airflow"
AIRFLOW_REQUIREMENT = "apache-airflow>=3,<4"

PARSE = """
import json
from airflow.models import DagBag
bag = DagBag(dag_folder="dags")
dag = bag.dags.get("stripe_sync")
print(json.dumps({
    "errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "dags": sorted(bag.dags),
    "tasks": [t.task_id for t in dag.tasks] if dag else [],
    "schedule": str(getattr(dag, "schedule", None)) if dag else None,
}))
"""


def airflow_python() -> Path:
    """The virtualenv's interpreter, building the virtualenv when it is missing or broken."""
    python = AIRFLOW_VENV / "bin" / "python"
    if python.exists():
        check = subprocess.run([str(python), "-c", "import airflow, dlt"], capture_output=True)
        if check.returncode == 0:
            return python
    subprocess.run([sys.executable, "-m", "venv", str(AIRFLOW_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", AIRFLOW_REQUIREMENT, "-e", str(REPO)],
        check=True,
        timeout=900,
    )
    return python


@pytest.mark.timeout(1200)
def test_stripe_dag_imports_cleanly_in_airflow(tmp_path: Path) -> None:
    python = airflow_python()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "SOURCES__STRIPE__API_KEY": "sk_test_dag_parse",
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
    }
    out = subprocess.run(
        [str(python), "-c", PARSE], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    parsed = json.loads(out.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}
    assert parsed["dags"] == ["stripe_sync"]
    assert parsed["tasks"] and all(t.startswith("stripe.") for t in parsed["tasks"])
    assert "0 * * * *" in parsed["schedule"]


def airflow(python: Path, env: dict[str, str], cwd: Path, *args: str) -> Any:
    command = [str(python), "-m", "airflow", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.timeout(1500)
def test_two_dag_runs_keep_one_duckdb_file_and_leave_ledger_rows(
    tmp_path: Path, stripe_sandbox: StripeSandbox
) -> None:
    python = airflow_python()
    project = tmp_path / "project"  # the DAG resolves its DuckDB file beside its own folder
    (project / "dags").mkdir(parents=True)
    shutil.copy(REPO / "dags" / "dag_stripe.py", project / "dags" / "dag_stripe.py")
    workdir = tmp_path / "worker"
    workdir.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DESTINATION__")},
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
        "PYTHONPATH": str(REPO),
        "SOURCES__STRIPE__BASE_URL": stripe_sandbox.base_url,
        "SOURCES__STRIPE__API_KEY": stripe_sandbox.api_key,
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    migrated = airflow(python, env, workdir, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    for day in ("2026-01-01", "2026-01-02"):
        ran = airflow(python, env, workdir, "dags", "test", "stripe_sync", day)
        assert ran.returncode == 0, (ran.stdout + ran.stderr)[-3000:]

    database = project / "stripe_data.duckdb"
    assert database.exists()
    with duckdb.connect(str(database), read_only=True) as con:
        runs = con.execute(
            "SELECT run_id, sum(records_loaded), count(*) FROM stripe._sync_runs "
            "WHERE resource <> '_source' GROUP BY run_id ORDER BY min(started_at)"
        ).fetchall()
        customers = con.execute("SELECT count(*) FROM stripe.customers").fetchone()
    assert [count for _, _, count in runs] == [17, 17]  # one row per resource and run
    assert runs[0][1] > 0 and runs[1][1] == 0  # the second run went on from the cursors
    assert customers == (len(stripe_sandbox.store.listable("customers")),)
