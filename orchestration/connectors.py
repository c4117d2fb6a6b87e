"""What an orchestrator needs of each connector: its pipeline and its source, twice.

Dagster reads a source once when it loads the definitions, only for the names of its
resources (the asset keys); that source must make no request, since the definitions
load in ``dagster dev`` and in every run worker, with or without credentials. Each run
then builds the source from the real configuration (``sources.<name>.*``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dlt
from requests.auth import HTTPBasicAuth

from pipelines.common import default_pipelines_dir, make_destination
from sources.gmail import gmail_source
from sources.gmail.settings import DEFAULT_RESOURCES as GMAIL_RESOURCES
from sources.kit.settings import str_list
from sources.salesforce import salesforce_source
from sources.salesforce.helpers import select_objects
from sources.servicenow import make_client as make_servicenow_client
from sources.servicenow import servicenow_source
from sources.slack import slack_source
from sources.slack.settings import DEFAULT_RESOURCES as SLACK_RESOURCES
from sources.stripe import make_client as make_stripe_client
from sources.stripe import stripe_source

DEFINITION_KEY = "sk_test_asset_definitions"
"""Stripe key of the client used only to list the resources (no request is made)."""
DEFINITION_URL = "https://definitions.invalid"
"""ServiceNow instance of the client used only to list the tables (never contacted:
``.invalid`` cannot resolve, RFC 2606)."""


@dataclass(frozen=True)
class Connector:
    """One connector as an orchestrator runs it.

    Attributes:
        name: Pipeline, dataset, dlt source and Dagster group name.
        definition_source: The source for asset keys; makes no request.
        run_source: The source of a run, from ``sources.<name>.*``.
        cron: When the schedule runs it.
    """

    name: str
    definition_source: Callable[[], Any]
    run_source: Callable[[], Any]
    cron: str


def sync_pipeline(name: str) -> dlt.Pipeline:
    """The pipeline the ``sluice`` command runs for this connector (name, dataset,
    destination, state folder), so ``pipelines/status.py`` reads what Dagster loaded."""
    destination_name = str(dlt.config.get("sluice.destination") or "duckdb")
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=default_pipelines_dir(name),
        destination=make_destination(destination_name, name, name),
        dataset_name=name,
    )


def stripe_definition_source() -> Any:
    """Stripe's source on a client with a dummy key (every resource, no request)."""
    return stripe_source(client=make_stripe_client(api_key=DEFINITION_KEY))


def servicenow_definition_source() -> Any:
    """ServiceNow's source on a client of an unresolvable instance (no request: the
    source only lists when it runs)."""
    auth = HTTPBasicAuth("definitions", "definitions")
    return servicenow_source(client=make_servicenow_client(base_url=DEFINITION_URL, auth=auth))


def salesforce_definition_source() -> Any:
    """Placeholders named like the configured sObjects' resources.

    ``salesforce_source`` fetches a token and each object's describe while it is built,
    so the asset keys come from the configured names instead (a resource is named after
    its object in lower case, as the describe spells it).
    """
    configured: Any = dlt.config.get("sources.salesforce.objects")
    names = select_objects(str_list(configured, "sources.salesforce.objects"))
    return placeholder_source("salesforce", [name.lower() for name in names])


def placeholder_source(name: str, resources: Sequence[str]) -> Any:
    """A source of empty resources with these names, only for their asset keys.

    dagster-dlt keys an asset ``dlt_<source name>_<resource name>`` and maps a run's
    resources back to the assets by the same key (``dagster_dlt/translator.py``,
    ``_default_asset_key_fn``; ``resource.py``, ``_run``), so names are all that matter.
    """

    @dlt.source(name=name)
    def placeholders() -> Any:
        return [dlt.resource([], name=resource) for resource in resources]

    return placeholders()


CONNECTORS: tuple[Connector, ...] = (
    Connector("stripe", stripe_definition_source, stripe_source, "0 * * * *"),
    # Offsets spread the hourly syncs of one deployment over the hour.
    Connector("salesforce", salesforce_definition_source, salesforce_source, "20 * * * *"),
    Connector("servicenow", servicenow_definition_source, servicenow_source, "40 * * * *"),
    # Built from their resource names: both sources read their secrets when built.
    Connector(
        "slack", lambda: placeholder_source("slack", SLACK_RESOURCES), slack_source, "10 * * * *"
    ),
    Connector(
        "gmail", lambda: placeholder_source("gmail", GMAIL_RESOURCES), gmail_source, "50 * * * *"
    ),
)
