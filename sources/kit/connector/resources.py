"""What every resource of a connector is built from: selection, guard, dlt resource, run."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource

from sources.kit.columnar import ColumnarStep, add_columnar_step
from sources.kit.deadletters import RecordGuard
from sources.kit.errors import ConfigurationError
from sources.kit.monitor import SyncMonitor
from sources.kit.run_tracking import watch as watch_run
from sources.kit.validation import RecordValidator

from .spec import ConnectorSpec, ResourceSpec


def select_names(
    spec: ConnectorSpec,
    names: Optional[Sequence[str]],
    check: Optional[Callable[[str], str]] = None,
) -> list[str]:
    """The resources a run loads: the configured names, or the spec's defaults.

    Args:
        spec: The connector.
        names: The configured names (``sources.<name>.<resources_key>``), if any.
        check: For connectors that load any name the system has (any ServiceNow
            table, any sObject): validates one name, raising its own one-line error.
            Without it, only the declared resources are accepted.

    Returns:
        The names, first occurrence kept.

    Raises:
        ConfigurationError: A name is not one the connector can load.
    """
    chosen = list(dict.fromkeys(n.strip() for n in (names or spec.default_names()) if n.strip()))
    if check is not None:
        return [check(name) for name in chosen]
    known = spec.resource_names()
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ConfigurationError(
            f"unknown {spec.title} resource(s) {', '.join(unknown)} in "
            f"{spec.resources_setting}; choose from: {', '.join(known)}"
        )
    return chosen


def make_guard(
    spec: ConnectorSpec,
    resource: ResourceSpec,
    run_id: str,
    *,
    columns: Optional[Mapping[str, TColumnSchema]] = None,
    validator: Optional[RecordValidator] = None,
    write_disposition: Optional[str] = None,
    validator_type: type[RecordValidator] = RecordValidator,
    **checks: Any,
) -> RecordGuard:
    """Routes records that cannot be loaded as declared to ``_dead_letters``.

    Args:
        spec: The connector (its record shaper maps each record first).
        resource: The resource (key, cursor and required fields, column hints).
        run_id: Identifier of the run, stored with each dead letter.
        columns: Column hints known only at run time (from a describe call).
        validator: A ready validator instead of the one built from the resource.
        write_disposition: Another disposition than the resource's (columnar merge).
        validator_type: A subclass of the kit's validator with provider checks on top
            (Salesforce's decimals fitting their column).
        **checks: Further validator arguments (``strict_types``, ``check_columns``, or
            what ``validator_type`` adds).

    Returns:
        The guard.
    """
    required = tuple(
        dict.fromkeys((*((resource.cursor,) if resource.cursor else ()), *resource.required))
    )
    checker = validator or validator_type(
        primary_key=resource.primary_key,
        columns=columns if columns is not None else resource.columns,
        schema_getter=dlt.current.source_schema,
        table_name=resource.name,
        required=required,
        **checks,
    )
    return RecordGuard(
        source=spec.name,
        resource=resource.name,
        table_name=resource.name,
        validator=checker,
        mapper=spec.record_shaper,
        run_id=run_id,
        primary_key=resource.primary_key,
        write_disposition=write_disposition or resource.write_disposition,
    )


def make_resource(
    resource: ResourceSpec,
    rows: Iterator[Any],
    *,
    columns: Optional[Mapping[str, TColumnSchema]] = None,
    write_disposition: Any = None,
    step: Optional[ColumnarStep] = None,
    **hints: Any,
) -> DltResource:
    """The dlt resource of one declared resource, its rows from a connector hook.

    Args:
        resource: The declaration (name, key, disposition, column hints).
        rows: The generator that lists it (ends in the standard step: guard, counters).
        columns: Column hints known only at run time; the declared ones otherwise.
        write_disposition: Another disposition than the declared one (a dlt config).
        step: The columnar last step (:func:`sources.kit.connector.columnar_step`);
            ``rows`` then yields record pages (``emit_page(..., as_pages=True)``).
        **hints: Further ``dlt.resource`` hints (``table_format``...).

    Returns:
        A parallelized dlt resource.
    """
    key: Any = (
        list(resource.primary_key) if len(resource.primary_key) > 1 else resource.primary_key[0]
    )
    disposition: Any = write_disposition or resource.write_disposition
    built = dlt.resource(
        rows,
        name=resource.name,
        write_disposition=disposition,
        primary_key=key,
        columns=dict(columns if columns is not None else resource.columns),
        parallelized=True,
        **hints,
    )
    return built if step is None else add_columnar_step(built, step)


@dataclass(frozen=True)
class ConnectorRun:
    """What every resource of one run shares.

    Attributes:
        run_id: Identifier of the run (dead letters, ledger).
        monitor: The run ledger's counters.
    """

    run_id: str
    monitor: SyncMonitor


def start_run(
    spec: ConnectorSpec,
    client: Any,
    resources: Iterable[str],
    *,
    run_id: Optional[str] = None,
    monitor: Optional[SyncMonitor] = None,
) -> ConnectorRun:
    """Opens the run ledger of a source just built, whoever runs it.

    The monitor expects the selected resources, counts the client's requests and is
    registered with :mod:`sources.kit.run_tracking`, so a run from Dagster, Airflow, a
    notebook or ``dlt deploy`` leaves ``_sync_runs`` rows like the CLI's.

    Args:
        spec: The connector.
        client: Its client; one without a ``session`` (a test stand-in) only loses the
            request counts.
        resources: The resources the run loads.
        run_id: The caller's run id; a new one when omitted.
        monitor: The caller's monitor (the CLI writes its ledger itself).

    Returns:
        The run's id and monitor.
    """
    run_id = run_id or uuid.uuid4().hex
    monitor = monitor or SyncMonitor(spec.name, run_id)
    monitor.expect(list(resources))
    monitor.http_session = getattr(client, "session", None)
    watch_run(monitor)
    return ConnectorRun(run_id, monitor)
