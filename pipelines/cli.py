"""The ``sluice`` command: one entry point, the same verbs for every connector.

sluice run stripe --sandbox                 # = python pipelines/stripe_pipeline.py --sandbox
sluice check servicenow                     # credentials accepted? one request, no load
sluice list                                 # connectors and their resources
sluice reset stripe --resources customers   # drop those resources' tables and state
sluice status                               # = python pipelines/status.py
sluice dead-letters list --pipeline stripe  # = python pipelines/dead_letters.py list ...
sluice webhooks drain stripe                # = python pipelines/stripe_webhooks.py drain
sluice webhooks serve slack                 # = python pipelines/slack_webhooks.py serve
sluice sandbox salesforce --port 12112      # an emulator, standalone
sluice sync accounts_to_salesforce --dry-run  # = python pipelines/sync.py (syncs/<name>.toml)

Each verb hands the rest of the command line to the module that already implements it, so
``python pipelines/<name>_pipeline.py`` and ``sluice`` take the same flags and print the same lines.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Optional

EXIT_USAGE = 2

EntryPoint = Callable[[Optional[list[str]]], int]


@dataclass(frozen=True)
class Connector:
    """What ``sluice`` knows of a connector: where its commands live and what it loads."""

    name: str
    runner: str
    """Module whose ``main(argv)`` runs one sync."""
    resources: Callable[[], Sequence[str]]
    """Everything it can load (``--resources`` picks some)."""
    defaults: Callable[[], Sequence[str]]
    """What a run loads when ``--resources`` is not given."""
    open_ended: Optional[str] = None
    """What else ``--resources`` takes, when any name the system has can be loaded."""
    sandbox: Optional[str] = None
    """Module whose ``main(argv)`` serves the emulator standalone, if it has one."""
    webhooks: Optional[str] = None
    """Module whose ``main(argv)`` serves, drains and reconciles webhooks, if any."""


def stripe_resources() -> Sequence[str]:
    from sources.stripe.settings import RESOURCES

    return [resource.name for resource in RESOURCES]


def salesforce_objects() -> Sequence[str]:
    from sources.salesforce.settings import DEFAULT_OBJECTS

    return DEFAULT_OBJECTS


def servicenow_tables() -> Sequence[str]:
    from sources.servicenow.settings import DEFAULT_TABLES

    return DEFAULT_TABLES


def slack_resources() -> Sequence[str]:
    from sources.slack.settings import RESOURCES

    return RESOURCES


def slack_defaults() -> Sequence[str]:
    from sources.slack.settings import DEFAULT_RESOURCES

    return DEFAULT_RESOURCES


def gmail_resources() -> Sequence[str]:
    from sources.gmail.settings import RESOURCES

    return RESOURCES


def gmail_defaults() -> Sequence[str]:
    from sources.gmail.settings import DEFAULT_RESOURCES

    return DEFAULT_RESOURCES


def files_resources() -> Sequence[str]:
    from sources.files.settings import RESOURCES

    return RESOURCES


def postgres_cdc_tables() -> Sequence[str]:
    from sources.postgres_cdc.settings import RESOURCES

    return RESOURCES


def shopify_resources() -> Sequence[str]:
    from sources.shopify.settings import RESOURCES

    return RESOURCES


def shopify_defaults() -> Sequence[str]:
    from sources.shopify.settings import DEFAULT_RESOURCES

    return DEFAULT_RESOURCES


CONNECTORS: dict[str, Connector] = {
    c.name: c
    for c in (
        Connector(
            "stripe",
            "pipelines.stripe_pipeline",
            stripe_resources,
            stripe_resources,
            sandbox="sandbox.stripe.__main__",
            webhooks="pipelines.stripe_webhooks",
        ),
        Connector(
            "salesforce",
            "pipelines.salesforce_pipeline",
            salesforce_objects,
            salesforce_objects,
            open_ended="any other sObject the org has",
            sandbox="sandbox.salesforce.__main__",
        ),
        Connector(
            "servicenow",
            "pipelines.servicenow_pipeline",
            servicenow_tables,
            servicenow_tables,
            open_ended="any other table the instance has",
            sandbox="sandbox.servicenow.__main__",
        ),
        Connector(
            "slack",
            "pipelines.slack_pipeline",
            slack_resources,
            slack_defaults,
            sandbox="sandbox.slack.__main__",
            webhooks="pipelines.slack_webhooks",
        ),
        Connector(
            "gmail",
            "pipelines.gmail_pipeline",
            gmail_resources,
            gmail_defaults,
            sandbox="sandbox.gmail.__main__",
        ),
        Connector(
            "shopify",
            "pipelines.shopify_pipeline",
            shopify_resources,
            shopify_defaults,
            sandbox="sandbox.shopify.__main__",
        ),
        Connector(
            "files",
            "pipelines.files_pipeline",
            files_resources,
            files_resources,
            open_ended="any drop configured under sources.files.drops",
            sandbox="sandbox.files.__main__",
        ),
        Connector(
            "postgres_cdc",
            "pipelines.postgres_cdc_pipeline",
            postgres_cdc_tables,
            postgres_cdc_tables,
            open_ended="any table of the source database with a primary key",
            sandbox="sandbox.postgres.__main__",
        ),
    )
}

TOOLS = {
    "status": "pipelines.status",
    "dead-letters": "pipelines.dead_letters",
    # reverse ETL: warehouse rows into Salesforce or Stripe (syncs/<name>.toml)
    "sync": "pipelines.sync",
}
CONNECTOR_TOOLS = {
    "check": "pipelines.check",
    "reset": "pipelines.reset",
    "models": "pipelines.models",
}
"""Verbs whose module takes the connector as its first argument."""


def entry_point(module: str) -> EntryPoint:
    """The ``main`` of a module, imported only when its verb is used."""
    main: EntryPoint = importlib.import_module(module).main
    return main


def sluice_version() -> str:
    """The installed package's version (``0+unknown`` in a bare checkout)."""
    try:
        return version("sluice")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """The verbs; each one's own flags are parsed by the module it hands over to."""
    names = ", ".join(CONNECTORS)
    parser = argparse.ArgumentParser(
        prog="sluice", description="Ingestion pipelines on dlt: run, watch and repair syncs."
    )
    parser.add_argument("--version", action="version", version=f"sluice {sluice_version()}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="<command>")
    run = verbs.add_parser("run", help=f"run one sync of a connector ({names})", add_help=False)
    run.add_argument("connector", metavar="<connector>")
    check = verbs.add_parser(
        "check", help="check a connector's credentials (one request, no load)", add_help=False
    )
    check.add_argument("connector", metavar="<connector>")
    verbs.add_parser("list", help="connectors and the resources each can load")
    reset = verbs.add_parser(
        "reset", help="drop the tables and state of some resources", add_help=False
    )
    reset.add_argument("connector", metavar="<connector>")
    models = verbs.add_parser(
        "models", help="rebuild a connector's dbt models now (no load)", add_help=False
    )
    models.add_argument("connector", metavar="<connector>")
    for verb in TOOLS:
        verbs.add_parser(verb, help=f"see sluice {verb} --help", add_help=False)
    hooks = verbs.add_parser("webhooks", help="serve|drain|reconcile <connector>", add_help=False)
    hooks.add_argument("command", metavar="serve|drain|reconcile")
    hooks.add_argument("connector", metavar="<connector>")
    emulator = verbs.add_parser("sandbox", help="serve a connector's emulator", add_help=False)
    emulator.add_argument("connector", metavar="<connector>")
    return parser


def connector_named(name: str) -> Connector:
    """The connector, or a usage line listing the known ones."""
    if name not in CONNECTORS:
        raise UsageError(f"unknown connector {name!r}: use one of {', '.join(CONNECTORS)}")
    return CONNECTORS[name]


class UsageError(Exception):
    """The command line names something sluice does not have."""


def list_connectors() -> int:
    """Prints each connector and its resources, or its defaults and what else it takes."""
    for connector in CONNECTORS.values():
        names = ", ".join(connector.resources())
        if connector.open_ended:
            names = f"{names} (defaults; --resources also takes {connector.open_ended})"
        elif list(connector.defaults()) != list(connector.resources()):
            names = f"{names} (default: {', '.join(connector.defaults())})"
        print(f"{connector.name}: {names}")
    return 0


def dispatch(args: argparse.Namespace, rest: list[str]) -> int:
    """Hands the command over to the module that implements it."""
    # The modules' parsers name the program after argv[0]: their usage lines then read
    # "sluice run stripe ...", the command the user typed.
    sys.argv[0] = " ".join(["sluice", args.verb, getattr(args, "connector", "")]).strip()
    if args.verb == "list":
        return list_connectors()
    if args.verb in TOOLS:
        return entry_point(TOOLS[args.verb])(rest)
    connector = connector_named(args.connector)
    if args.verb == "run":
        return entry_point(connector.runner)(rest)
    if args.verb in CONNECTOR_TOOLS:
        return entry_point(CONNECTOR_TOOLS[args.verb])([connector.name, *rest])
    if args.verb == "webhooks":
        if connector.webhooks is None:
            having = ", ".join(c.name for c in CONNECTORS.values() if c.webhooks)
            raise UsageError(f"{connector.name} has no webhooks (these have: {having})")
        return entry_point(connector.webhooks)([args.command, *rest])
    if connector.sandbox is None:
        raise UsageError(
            f"{connector.name}'s emulator runs in-process only: sluice run {connector.name} "
            "--sandbox"
        )
    return entry_point(connector.sandbox)(rest)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``sluice`` command."""
    args, rest = build_parser().parse_known_args(argv)
    if args.verb == "list" and rest:
        print(f"sluice list: unexpected {' '.join(rest)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return dispatch(args, rest)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
