"""The canonical load as a dlt source: mappings applied as a transform step.

Each mapping spec becomes one resource that reads its system's raw records, maps
them through a :class:`~sources.kit.deadletters.RecordGuard` (failures become
``_dead_letters`` rows with the reason, the rest load), adds the crosswalk's
``customer_id`` and loads into the spec's canonical table (merge on the model's key).
The same resource profiles the raw records and reports mapping drift against the
profile it keeps in its resource state. The crosswalk's new links and ambiguities
load as ``crosswalk`` and ``crosswalk_ambiguities``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from ..deadletters import RecordGuard, contract_for_dead_letters, register_replay_mapper
from ..monitor import SyncMonitor
from ..validation import RecordValidator, current_source_schema
from .apply import MappingError, RecordMapper, apply_mapping
from .crosswalk import (
    AMBIGUITIES_COLUMNS,
    AMBIGUITIES_TABLE,
    CROSSWALK_COLUMNS,
    CROSSWALK_TABLE,
    Crosswalk,
    Resolution,
)
from .drift import DriftReport, FieldProfile, detect_drift
from .models import CANONICAL_CUSTOMERS
from .spec import MappingSpec
from .transforms import utc_now

__all__ = [
    "CUSTOMER_ENTITY",
    "CanonicalContext",
    "canonical_source",
    "canonical_source_name",
    "resolve_customers",
]

CUSTOMER_ENTITY = "customer"
STATE_KEY = "source_fields"
"""Resource-state key of the field profile the drift check compares against."""

RecordReader = Callable[[str], Iterable[Any]]
"""``records(source_resource)`` -> the raw records of that resource for this run."""


def canonical_source_name(system: str) -> str:
    """Name of a system's canonical source (and schema, and pipeline): ``stripe_canonical``."""
    return f"{system}_canonical"


@dataclass
class CanonicalContext:
    """What the resources of one canonical load share.

    Attributes:
        system: Source system (``stripe``).
        run_id: Id of the run (stored with dead letters and links).
        crosswalk: Resolved crosswalk (existing links plus this run's).
        resolution: This run's new links and ambiguities.
        monitor: Ledger counters.
        now: Clock for ``now`` transforms and link times.
        drift: Filled with one report per mapping as the resources finish.
    """

    system: str
    run_id: str
    crosswalk: Crosswalk
    resolution: Resolution
    monitor: SyncMonitor
    now: Callable[[], datetime] = utc_now
    drift: list[DriftReport] = field(default_factory=list)

    @property
    def source_name(self) -> str:
        """The canonical source name."""
        return canonical_source_name(self.system)


def resolve_customers(
    crosswalk: Crosswalk,
    specs: Sequence[MappingSpec],
    records: RecordReader,
    now: Callable[[], datetime] = utc_now,
) -> Resolution:
    """Links this run's customer records before any row loads, so payments find them.

    Records whose mapping fails are skipped here; their resource dead-letters them.
    """
    resolution = Resolution()
    for spec in specs:
        if spec.target_model is not CANONICAL_CUSTOMERS:
            continue
        rows = []
        for raw in records(spec.source_resource):
            try:
                row = apply_mapping(spec, raw, now)
            except MappingError:
                continue
            rows.append((str(row["source_id"]), row))
        found = crosswalk.resolve(spec.source_system, rows)
        resolution.linked.extend(found.linked)
        resolution.ambiguous.extend(found.ambiguous)
    return resolution


def canonical_source(
    specs: Sequence[MappingSpec], records: RecordReader, context: CanonicalContext
) -> Any:
    """The dlt source loading ``specs`` and the crosswalk into the canonical dataset.

    Args:
        specs: Mappings of ``context.system``.
        records: Raw records per source resource.
        context: The run's crosswalk, monitor and clock.

    Returns:
        A dlt source named ``<system>_canonical``.
    """

    def resources() -> list[DltResource]:
        mapped = [mapping_resource(spec, specs, records, context) for spec in specs]
        return [*mapped, crosswalk_resource(context), ambiguities_resource(context)]

    factory = dlt.source(
        resources,
        name=context.source_name,
        max_table_nesting=0,
        schema_contract=contract_for_dead_letters(),
    )
    return factory()


def mapping_resource(
    spec: MappingSpec,
    all_specs: Sequence[MappingSpec],
    records: RecordReader,
    context: CanonicalContext,
) -> DltResource:
    """One mapping as a resource writing into its canonical table."""
    model = spec.target_model
    others = [
        path
        for other in all_specs
        if other.source_resource == spec.source_resource and other is not spec
        for path in other.source_paths()
    ]
    return dlt.resource(
        mapped_rows(spec, others, records, context),
        name=spec.name,
        table_name=model.name,
        write_disposition="merge",
        primary_key=list(model.primary_key),
        columns=dict(model.columns),
    )


def mapped_rows(
    spec: MappingSpec,
    used_elsewhere: Sequence[str],
    records: RecordReader,
    context: CanonicalContext,
) -> Iterator[Any]:
    """Maps the raw records through the guard, then reports drift and saves the profile."""
    guard = make_mapping_guard(spec, context)
    profile = FieldProfile()
    loaded = 0
    for item in guard.batches(_observed(records(spec.source_resource), profile)):
        if isinstance(item, list):
            loaded += len(item)
        yield item
    state = dlt.current.resource_state()
    baseline = FieldProfile.from_state(state.get(STATE_KEY))
    report = detect_drift(spec.name, spec.source_paths(), profile, baseline, used_elsewhere)
    report.log()
    context.drift.append(report)
    state[STATE_KEY] = profile.merged_with(baseline).to_state()
    context.monitor.record(spec.name, loaded=loaded, dead_lettered=guard.dead_lettered, pages=0)


def make_mapping_guard(spec: MappingSpec, context: CanonicalContext) -> RecordGuard:
    """Maps, links and validates each record; failures go to ``_dead_letters``."""
    model = spec.target_model
    mapper = RecordMapper(spec, context.now)

    def map_and_link(record: dict[str, Any]) -> dict[str, Any]:
        row = mapper(record)
        row["customer_id"] = context.crosswalk.canonical_id(
            spec.source_system, row.get(model.customer_ref)
        )
        return row

    register_replay_mapper(context.source_name, spec.name, mapper)
    validator = RecordValidator(
        primary_key=model.primary_key,
        columns=dict(model.columns),
        schema_getter=current_source_schema,
        table_name=model.name,
    )
    return RecordGuard(
        source=context.source_name,
        resource=spec.name,
        table_name=model.name,
        validator=validator,
        mapper=map_and_link,
        run_id=context.run_id,
        primary_key=model.primary_key,
        write_disposition="merge",
    )


def crosswalk_resource(context: CanonicalContext) -> DltResource:
    """This run's new links (existing ones never change)."""
    linked_at = context.now()
    rows = [
        {
            "entity": e.entity,
            "system": e.system,
            "external_id": e.external_id,
            "canonical_id": e.canonical_id,
            "match_rule": e.match_rule,
            "match_keys": list(e.match_keys),
            "linked_at": linked_at,
            "run_id": context.run_id,
        }
        for e in context.resolution.linked
    ]
    return dlt.resource(
        rows,
        name=CROSSWALK_TABLE,
        write_disposition="merge",
        primary_key=["entity", "system", "external_id"],
        columns=dict(CROSSWALK_COLUMNS),
    )


def ambiguities_resource(context: CanonicalContext) -> DltResource:
    """Records left unlinked because a key matched several canonical ids."""
    seen_at = context.now()
    rows = [
        {
            "entity": a.entity,
            "system": a.system,
            "external_id": a.external_id,
            "match_rule": a.match_rule,
            "match_key": a.match_key,
            "candidates": list(a.candidates),
            "seen_at": seen_at,
            "run_id": context.run_id,
        }
        for a in context.resolution.ambiguous
    ]
    return dlt.resource(
        rows, name=AMBIGUITIES_TABLE, write_disposition="append", columns=dict(AMBIGUITIES_COLUMNS)
    )


def _observed(records: Iterable[Any], profile: FieldProfile) -> Iterator[Any]:
    for record in records:
        profile.observe(record)
        yield record
