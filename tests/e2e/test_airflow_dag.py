"""The Airflow DAG imports cleanly in Airflow 3 (its own virtualenv beside the project's).

Airflow pins hundreds of packages of its own, so it lives in ``.venv-airflow`` (built
on first use: Airflow 3 plus sluice's core dependencies, about a minute) instead of the
test environment with Dagster. The DAG is parsed by Airflow's own ``DagBag``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
