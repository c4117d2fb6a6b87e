"""The Stripe pipeline as one plain ``pipeline.run`` call, for ``dlt deploy``.

``dlt deploy`` reads the script it deploys and looks for ``dlt.pipeline(...)`` and
``pipeline.run(...)``; ``pipelines/stripe_pipeline.py`` hides both behind its run ledger, so this
script is the deployable entry point (same source, destination and configuration):

    dlt deploy orchestration/stripe_job.py airflow-composer
    dlt deploy orchestration/stripe_job.py github-action --schedule "*/30 * * * *"
"""

import dlt

from pipelines.common import default_pipelines_dir, make_destination
from sources.kit.destinations import loader_options
from sources.stripe import stripe_source


def load_stripe() -> None:
    """Runs one Stripe sync into the configured destination (DuckDB by default).

    The state lives where the ``sluice`` command keeps it (``default_pipelines_dir``),
    so a deployed job and ``sluice run stripe`` continue from the same cursors.
    """
    pipeline = dlt.pipeline(
        pipeline_name="stripe",
        pipelines_dir=default_pipelines_dir("stripe"),
        destination=make_destination("duckdb", "stripe", "stripe"),
        dataset_name="stripe",
    )
    load_info = pipeline.run(stripe_source(), **loader_options(pipeline))
    load_info.raise_on_failed_jobs()


if __name__ == "__main__":
    load_stripe()
