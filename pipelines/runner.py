"""One runner for every connector: ``pipelines/<name>_pipeline.py`` declares, this runs.

A connector's script is a :class:`ConnectorRunner` (names, help texts, its sandbox
endpoint, client and source factories, its canonical mappings and the few hooks that are
truly its own) plus ``main()``. Everything else is here once: the shared flags, the
pipeline, the run ledger, ``--full-refresh``, the start-date notice, the run summary and
the canonical step (after the raw load, every raw load not mapped yet is mapped).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Optional

import dlt

from pipelines.common import (
    ClientSlot,
    full_refresh_mode,
    loaded_resources,
    make_pipeline,
    print_canonical_summary,
    print_run_summary,
    resolve_table_format,
    run_reporting_errors,
    setup_logging,
    summary_printer,
)
from pipelines.flags import (
    add_progress_flag,
    add_resources_flag,
    add_staging_flag,
    add_start_date_flag,
    add_table_format_flag,
    name_list,
)
from pipelines.user_errors import start_date_notice
from sources.kit.destinations import loader_file_format
from sources.kit.ledger import SyncMonitor, run_with_ledger
from sources.kit.mapping.system import CanonicalSystem
from sources.kit.memory import release_freed_memory
from sources.kit.models import refresh_models

Overrides = dict[str, Any]
"""Client settings the sandbox endpoint yields (empty against the real system)."""

UPSERT: Any = {"disposition": "merge", "strategy": "upsert"}
"""How a merge resource writes Delta tables: dlt merges open tables by upsert only."""


@dataclass
class RunContext:
    """What a hook sees of the run in progress."""

    args: argparse.Namespace
    pipeline: dlt.Pipeline
    client: Any
    run_id: str


@dataclass(frozen=True)
class ConnectorRunner:
    """One connector's script, declared.

    Attributes:
        name: Connector, config section (``sources.<name>``) and ledger integration.
        title: How the system is spelt in help texts (``Stripe``).
        pipeline_name: The dlt pipeline (and, unless ``dataset_name``, the dataset).
        endpoint: Context manager over the parsed flags yielding client overrides: the
            bundled emulator's with ``--sandbox``, none otherwise.
        client: Builds the checked client from the overrides (inside the run, so refused
            credentials still leave a ``failed`` ledger row).
        source: The dlt source factory (``client``, ``run_id``, ``monitor`` and the flags
            the user gave as keyword arguments).
        canonical: The system's canonical mappings (``sources/<name>/canonical.py``).
        resources_help: ``--resources`` help.
        start_date_bound: What ``--start-date`` bounds (``records whose X is``).
        canonical_help: ``--canonical`` help.
        dataset_name: The dataset when it is not the pipeline's name.
        resources_argument: The source's keyword for ``--resources``.
        resource_aliases: Deprecated names of ``--resources`` (``--objects``).
        parse_resources: Parses ``--resources`` (a known-names check, say).
        known_resources: Every resource, when the source has a fixed set; otherwise a
            full refresh of all loaded resources drops the whole source.
        source_takes_table_format: The source applies ``--table-format`` itself;
            otherwise the runner hints each selected resource.
        add_sandbox_flags: Adds the emulator's flags (seed, volume...).
        add_flags: Adds the connector's own flags (after the shared ones).
        choose_pipeline_name: The pipeline's name from the flags (default: fixed).
        check_source: Called once the source is selected, before the load.
        after_load: Called after the load, before the summary.
        summary_extra: Connector figures for the summary's request line.
    """

    name: str
    title: str
    pipeline_name: str
    endpoint: Callable[[argparse.Namespace], AbstractContextManager[Overrides]]
    client: Callable[[Overrides], Any]
    source: Callable[..., Any]
    canonical: CanonicalSystem
    resources_help: str
    start_date_bound: str
    canonical_help: str
    dataset_name: Optional[str] = None
    resources_argument: str = "resources"
    resource_aliases: Sequence[str] = ()
    parse_resources: Callable[[str], list[str]] = name_list
    known_resources: Sequence[str] = ()
    source_takes_table_format: bool = False
    add_sandbox_flags: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    add_flags: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    choose_pipeline_name: Optional[Callable[[argparse.Namespace], str]] = None
    check_source: Callable[[RunContext], None] = lambda context: None
    after_load: Callable[[RunContext], None] = lambda context: None
    summary_extra: Callable[[Any], str] = lambda client: ""

    def parse_args(self, argv: Optional[list[str]] = None) -> argparse.Namespace:
        """The script's command-line flags (see :func:`parse_args`)."""
        return parse_args(self, argv)

    def main(self, argv: Optional[list[str]] = None) -> int:
        """The script's entry point (see :func:`main`)."""
        return main(self, argv)

    def names(self, args: argparse.Namespace) -> tuple[str, str]:
        """The pipeline and dataset this run loads."""
        if self.choose_pipeline_name is not None:
            name = self.choose_pipeline_name(args)
            return name, name
        return self.pipeline_name, self.dataset_name or self.pipeline_name


def parse_args(connector: ConnectorRunner, argv: Optional[list[str]] = None) -> argparse.Namespace:
    """The connector's command-line flags: the shared ones, then its own."""
    parser = argparse.ArgumentParser(
        description=f"Load {connector.title} into DuckDB or another dlt destination."
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help=f"start the bundled {connector.title} emulator in-process and load from it",
    )
    connector.add_sandbox_flags(parser)
    parser.add_argument(
        "--destination",
        default="duckdb",
        help="dlt destination name: duckdb (default), postgres, filesystem, snowflake, "
        "bigquery, motherduck, clickhouse, databricks, ... (configured through dlt config)",
    )
    add_resources_flag(
        parser,
        connector.resources_help,
        aliases=connector.resource_aliases,
        parse=connector.parse_resources,
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="drop the selected resources' tables and state (all of this source's when "
        "every one is selected), then load them again",
    )
    add_progress_flag(parser)
    add_start_date_flag(parser, connector.start_date_bound)
    add_staging_flag(parser)
    add_table_format_flag(parser)
    connector.add_flags(parser)
    parser.add_argument("--canonical", action="store_true", help=connector.canonical_help)
    parser.add_argument(
        "--no-models",
        action="store_true",
        help="skip refreshing the analyst models (models/<connector>/) after the load",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="log lines as text or one JSON object per line",
    )
    return parser.parse_args(argv)


def apply_table_format(source: Any, table_format: Optional[str]) -> None:
    """Delta (or Iceberg) tables for every selected resource; merges become upserts."""
    if not table_format:
        return
    for resource in source.resources.selected.values():
        hints: dict[str, Any] = {"table_format": table_format}
        if resource.write_disposition == "merge":
            hints["write_disposition"] = UPSERT
        resource.apply_hints(**hints)


def run(connector: ConnectorRunner, args: argparse.Namespace) -> int:
    """Builds and runs the pipeline, writes the run ledger, then prints the summary."""
    started = time.monotonic()
    release_freed_memory()
    run_id = uuid.uuid4().hex
    specs = connector.canonical.mappings() if args.canonical else []
    table_format = resolve_table_format(args.table_format, connector.name)
    pipeline_name, dataset_name = connector.names(args)
    with connector.endpoint(args) as overrides:
        pipeline = make_pipeline(
            pipeline_name,
            dataset_name,
            args.destination,
            staging=args.staging,
            table_format=table_format,
            progress=args.progress,
        )
        monitor = SyncMonitor(connector.name, run_id)
        slot: ClientSlot[Any] = ClientSlot()

        def build_source() -> Any:
            slot.client = connector.client(overrides)
            # Only flags the user gave: the rest resolves from sources.<name>.* config.
            given = {connector.resources_argument: args.resources, "start_date": args.start_date}
            if connector.source_takes_table_format:
                given["table_format"] = table_format
            source = connector.source(
                client=slot.client,
                run_id=run_id,
                monitor=monitor,
                **{k: v for k, v in given.items() if v is not None},
            )
            if not connector.source_takes_table_format:
                apply_table_format(source, table_format)
            selected = list(source.resources.selected.keys())
            slot.tables = [*selected, "_dead_letters"]
            # dlt reads the pipeline's refresh when run() is given none; it depends on
            # the selection, known only now.
            every = connector.known_resources or loaded_resources(pipeline)
            pipeline.refresh = (
                full_refresh_mode(pipeline, selected, every) if args.full_refresh else None
            )
            notice = start_date_notice(
                args.start_date, selected, loaded_resources(pipeline), args.full_refresh
            )
            if notice:
                print(f"note: {notice}", file=sys.stderr)
            connector.check_source(RunContext(args, pipeline, slot.client, run_id))
            return source

        try:
            run_with_ledger(
                pipeline,
                build_source,
                monitor,
                slot,
                breakers=slot,
                loader_file_format=loader_file_format(pipeline),
            )
        finally:
            pipeline.refresh = None  # a hook (the webhook drain) may run on this pipeline
        assert slot.client is not None
        connector.after_load(RunContext(args, pipeline, slot.client, run_id))
        print_run_summary(
            pipeline,
            slot.client.session,
            slot.tables,
            time.monotonic() - started,
            extra=connector.summary_extra(slot.client),
        )
        if args.canonical:
            # maps from the raw tables every load not mapped yet, this run's and any other's
            outcome = connector.canonical.run(pipeline, specs, run_id=run_id)
            print_canonical_summary(outcome)
        refresh_models(
            pipeline, connector.name, enabled=not args.no_models, echo=summary_printer("models")
        )
    return 0


def main(connector: ConnectorRunner, argv: Optional[list[str]] = None) -> int:
    """A connector script's entry point: one clear line and a non-zero exit on any error."""
    args = parse_args(connector, argv)
    setup_logging(args.verbose, args.log_format)
    return run_reporting_errors(lambda: run(connector, args))
