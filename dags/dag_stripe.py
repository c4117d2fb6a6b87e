"""Airflow DAG: the Stripe pipeline hourly, through dlt's ``PipelineTasksGroup``.

Started from what ``dlt deploy orchestration/stripe_job.py airflow-composer`` generates
(see README "Scheduling and scaling"), filled in with sluice's source and destination and
moved to Airflow 3's ``schedule`` argument. Secrets reach the source as in every other
sluice run: ``SOURCES__STRIPE__API_KEY`` (an Airflow environment variable or secret
backend entry) and the destination's ``DESTINATION__...`` keys.
"""

from datetime import timedelta
from pathlib import Path

import dlt
import pendulum
from dlt.helpers.airflow_helper import PipelineTasksGroup

try:  # Airflow 3
    from airflow.sdk import dag
except ImportError:  # Airflow 2
    from airflow.decorators import dag

from pipelines.common import make_destination
from sources.stripe import stripe_source

PROJECT_DIR = str(Path(__file__).resolve().parents[1])
"""Where a relative DuckDB file lives: ``PipelineTasksGroup`` gives every task a new
temporary folder, and a file resolved there was thrown away after each run."""

TASK_DEFAULTS = {
    "owner": "sluice",
    "depends_on_past": False,
    "retries": 0,  # sluice retries requests itself; a failed run resumes from its state
    "execution_timeout": timedelta(hours=6),
}


@dag(
    schedule="0 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one run of a pipeline at a time: its state is not shared safely
    default_args=TASK_DEFAULTS,
    tags=["sluice", "stripe"],
)
def stripe_sync() -> None:
    """Extracts, normalizes and loads every Stripe resource in one task group."""
    # Resolved before the task group moves dlt into its temporary folder.
    destination = make_destination("duckdb", "stripe", "stripe", base_dir=PROJECT_DIR)
    # The local state is wiped after each task; the next run restores it from the
    # destination (dlt keeps the state there), so cursors carry over.
    tasks = PipelineTasksGroup("stripe", use_data_folder=False, wipe_local_data=True)
    pipeline = dlt.pipeline(pipeline_name="stripe", dataset_name="stripe", destination=destination)
    # "none": one task runs the whole source (its resources share one rate limiter);
    # "parallel-isolated" would give each resource its own task and limiter.
    tasks.add_run(pipeline, stripe_source(), decompose="none", trigger_rule="all_done")


stripe_sync()
