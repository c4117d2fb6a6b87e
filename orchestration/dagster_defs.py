"""Dagster definitions: one asset per Stripe resource, built with Dagster's dlt integration.

``dagster dev -m orchestration.dagster_defs`` serves them with an hourly schedule. The
source is configured exactly like ``pipelines/stripe.py``: ``sources.stripe.*`` from
``.dlt/config.toml``, ``.dlt/secrets.toml`` or the environment (``SOURCES__STRIPE__API_KEY``),
and the destination through dlt's config (DuckDB ``stripe_data.duckdb`` by default,
``SLUICE__DESTINATION=postgres`` ... for another one).
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations.
from collections.abc import Iterator
from typing import Any

import dlt
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSelection,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
)
from dagster_dlt import DagsterDltResource, dlt_assets

from pipelines.common import make_destination
from sources.kit.destinations import loader_file_format
from sources.stripe import make_client, stripe_source

PIPELINE_NAME = "stripe"
DATASET_NAME = "stripe"
DEFINITION_KEY = "sk_test_asset_definitions"
"""Key of the client used only to list the source's resources when Dagster loads the
definitions (no request is made); runs build the source from the real configuration."""


def stripe_pipeline() -> dlt.Pipeline:
    """The same pipeline ``pipelines/stripe.py`` runs (name, dataset, destination)."""
    destination_name = str(dlt.config.get("sluice.destination") or "duckdb")
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=make_destination(destination_name, PIPELINE_NAME, DATASET_NAME),
        dataset_name=DATASET_NAME,
    )


def stripe_definition_source() -> Any:
    """The source as Dagster inspects it for asset keys (every resource, no requests)."""
    return stripe_source(client=make_client(api_key=DEFINITION_KEY))


def build_stripe_assets() -> AssetsDefinition:
    """One Dagster asset per Stripe resource; materialising runs the dlt pipeline."""

    @dlt_assets(
        dlt_source=stripe_definition_source(),
        dlt_pipeline=stripe_pipeline(),
        name="stripe",
        group_name="stripe",
    )
    def stripe_assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        pipeline = stripe_pipeline()
        yield from dlt.run(
            context=context,
            dlt_source=stripe_source(),
            dlt_pipeline=pipeline,
            loader_file_format=loader_file_format(pipeline),
        )

    return stripe_assets


def build_definitions() -> Definitions:
    """The assets, the ``dlt`` resource and an hourly schedule of the whole source."""
    assets = build_stripe_assets()
    job = define_asset_job("stripe_sync", selection=AssetSelection.assets(assets))
    return Definitions(
        assets=[assets],
        jobs=[job],
        schedules=[ScheduleDefinition(job=job, cron_schedule="0 * * * *")],
        resources={"dlt": DagsterDltResource()},
    )


defs = build_definitions()
