"""Dagster definitions: one asset per resource of every connector, built with Dagster's
dlt integration.

``dagster dev -m orchestration.dagster_defs`` serves the Stripe, Salesforce and
ServiceNow assets, each connector with an hourly schedule (``<name>_sync_schedule``).
Each source is configured exactly like the ``sluice`` command's: ``sources.<name>.*``
from ``.dlt/config.toml``, ``.dlt/secrets.toml`` or the environment, and the destination
through dlt's config (DuckDB ``<name>_data.duckdb`` by default,
``SLUICE__DESTINATION=postgres`` ... for another one). A run that cannot start (a missing
key, a refused credential) fails with one line naming what to fix.
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations.
import logging
from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSelection,
    Definitions,
    Failure,
    ScheduleDefinition,
    define_asset_job,
)
from dagster._core.errors import DagsterUserCodeProcessError
from dagster._utils.error import SerializableErrorInfo
from dagster_dlt import DagsterDltResource, dlt_assets

from orchestration.connectors import CONNECTORS, Connector, sync_pipeline
from pipelines.common import explain
from sources.kit.destinations import loader_file_format

logger = logging.getLogger("sluice.orchestration")


class OneLineFailure(DagsterUserCodeProcessError, Failure):
    """A ``Failure`` Dagster reports as its one line, without a stack of its own frames.

    Dagster reports a ``DagsterUserCodeProcessError`` as the error it carries (how errors
    of another process reach it); this one carries the failure's line and no frames,
    where a plain ``Failure`` is printed with some twenty lines of Dagster's execution.
    """

    def __init__(self, line: str) -> None:
        """A failure with ``line`` as its description; retrying would fail the same way."""
        error = SerializableErrorInfo(
            message=f"{Failure.__module__}.{Failure.__qualname__}: {line}\n",
            stack=[],
            cls_name=Failure.__name__,
        )
        DagsterUserCodeProcessError.__init__(self, line, user_code_process_error_infos=[error])
        # Failure's own fields (what Dagster reads of a failure), set once more by name.
        self.description = line
        self.metadata = {}
        self.allow_retries = False


def build_assets(connector: Connector) -> AssetsDefinition:
    """One Dagster asset per resource of the connector; materialising runs its pipeline."""

    @dlt_assets(
        dlt_source=connector.definition_source(),
        dlt_pipeline=sync_pipeline(connector.name),
        name=connector.name,
        group_name=connector.name,
    )
    def assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        yield from run_connector(context, dlt, connector)

    return assets


def run_connector(
    context: AssetExecutionContext, dlt: DagsterDltResource, connector: Connector
) -> Iterator[Any]:
    """Builds the source from the configuration and runs it.

    Raises:
        Failure: The run failed; its description is one line saying what to fix (the
            cause stays out of it: Dagster would print its whole traceback).
    """
    try:
        pipeline = sync_pipeline(connector.name)
        yield from dlt.run(
            context=context,
            dlt_source=connector.run_source(),
            dlt_pipeline=pipeline,
            loader_file_format=loader_file_format(pipeline),
        )
    except Exception as exc:  # noqa: BLE001 - every failure is told in one line
        line = f"{connector.name}: {explain(exc)}"
        context.log.error(line)
        raise OneLineFailure(line) from None


def build_stripe_assets() -> AssetsDefinition:
    """The Stripe assets (one per resource)."""
    return build_assets(next(c for c in CONNECTORS if c.name == "stripe"))


def build_definitions() -> Definitions:
    """Every connector's assets and schedule, and the ``dlt`` resource.

    A connector whose settings cannot give its asset keys (an unknown name in
    ``sources.<name>.resources``) is left out with one error line naming the setting,
    instead of a traceback that stops every connector's definitions from loading.
    """
    assets = []
    jobs = []
    schedules = []
    for connector in CONNECTORS:
        try:
            built = build_assets(connector)
        except Exception as exc:  # noqa: BLE001 - told in one line, the others still load
            logger.error(
                "%s: %s (its assets are left out of the Dagster definitions)",
                connector.name,
                explain(exc),
            )
            continue
        job = define_asset_job(f"{connector.name}_sync", selection=AssetSelection.assets(built))
        assets.append(built)
        jobs.append(job)
        schedules.append(ScheduleDefinition(job=job, cron_schedule=connector.cron))
    return Definitions(
        assets=assets, jobs=jobs, schedules=schedules, resources={"dlt": DagsterDltResource()}
    )


defs = build_definitions()
