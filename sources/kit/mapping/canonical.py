"""The canonical load as a dlt source: mappings applied as a transform step.

Each mapping becomes one resource that reads the raw rows of the loads it has not
mapped yet (a :class:`~sources.kit.mapping.loads.MappingPlan`), maps them through a
:class:`~sources.kit.deadletters.RecordGuard` (failures become ``_dead_letters`` rows
with the reason, the rest load), adds the crosswalk's ``customer_id`` and loads into
the spec's canonical table (merge on the model's key), then records those loads as
mapped in the source state. The same resource profiles the raw rows and reports
mapping drift against the profile it keeps in its resource state. The crosswalk's new
links and ambiguities load as ``crosswalk`` and ``crosswalk_ambiguities``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from ..deadletters import RecordGuard, contract_for_dead_letters, register_replay_mapper
from ..monitor import SyncMonitor
from ..validation import RecordValidator, current_source_schema
from .apply import MappingError, RecordMapper, apply_mapping
from .children import ChildrenSeen, removed_children
from .crosswalk import (
    AMBIGUITIES_COLUMNS,
    AMBIGUITIES_TABLE,
    CROSSWALK_COLUMNS,
    CROSSWALK_TABLE,
    Crosswalk,
    Resolution,
)
from .drift import DriftReport, FieldProfile, detect_drift
from .loads import MappingPlan
from .models import CANONICAL_CUSTOMERS, SUPERSEDED_COLUMN, CanonicalModel
from .paths import MISSING, lookup
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
STATE_KEY = "warehouse_fields"
"""Resource-state key of the field profile the drift check compares against (profiles
of API records, kept under ``source_fields`` before the canonical load read the
warehouse, are not comparable and are left alone)."""

SUPERSEDED_HINT: Mapping[str, Any] = {"data_type": "bool", "nullable": True, "hard_delete": True}


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
        read: Filled with ``(raw rows, new loads)`` per mapping as the resources finish.
        pipeline: The canonical pipeline (reads what earlier loads stored).
    """

    system: str
    run_id: str
    crosswalk: Crosswalk
    resolution: Resolution
    monitor: SyncMonitor
    now: Callable[[], datetime] = utc_now
    drift: list[DriftReport] = field(default_factory=list)
    read: dict[str, tuple[int, int]] = field(default_factory=dict)
    pipeline: Optional[dlt.Pipeline] = None

    @property
    def source_name(self) -> str:
        """The canonical source name."""
        return canonical_source_name(self.system)


def resolve_customers(
    crosswalk: Crosswalk, plans: Sequence[MappingPlan], now: Callable[[], datetime] = utc_now
) -> Resolution:
    """Links this run's customer records before any row loads, so payments find them.

    Records whose mapping fails are skipped here; their resource dead-letters them.
    """
    resolution = Resolution()
    for plan in plans:
        spec = plan.spec
        if spec.target_model is not CANONICAL_CUSTOMERS:
            continue
        rows = []
        for raw in plan.records():
            try:
                row = apply_mapping(spec, raw, now)
            except MappingError:
                continue
            rows.append((str(row["source_id"]), row))
        found = crosswalk.resolve(spec.source_system, rows)
        resolution.linked.extend(found.linked)
        resolution.ambiguous.extend(found.ambiguous)
    return resolution


def canonical_source(plans: Sequence[MappingPlan], context: CanonicalContext) -> Any:
    """The dlt source loading the planned mappings and the crosswalk into ``canonical``.

    Args:
        plans: The mappings of ``context.system`` and the raw loads each maps now.
        context: The run's crosswalk, monitor and clock.

    Returns:
        A dlt source named ``<system>_canonical``.
    """

    def resources() -> list[DltResource]:
        mapped = [mapping_resource(plan, plans, context) for plan in plans]
        return [*mapped, crosswalk_resource(context), ambiguities_resource(context)]

    factory = dlt.source(
        resources,
        name=context.source_name,
        max_table_nesting=0,
        schema_contract=contract_for_dead_letters(),
    )
    return factory()


def mapping_resource(
    plan: MappingPlan, all_plans: Sequence[MappingPlan], context: CanonicalContext
) -> DltResource:
    """One mapping as a resource writing into its canonical table."""
    spec = plan.spec
    others = [
        path
        for other in all_plans
        if other.table == plan.table and other is not plan
        for path in other.spec.source_paths()
    ]
    superseding = any(
        removes_rows(p.spec) and p.spec.target_model is spec.target_model for p in all_plans
    )
    return dlt.resource(
        mapped_rows(plan, others, context),
        name=spec.name,
        table_name=spec.target_model.name,
        write_disposition="merge",
        primary_key=list(spec.target_model.primary_key),
        columns=table_columns(spec.target_model, superseding),
    )


def removes_rows(spec: MappingSpec) -> bool:
    """Whether the mapping loads hard deletes (``superseded_by`` or ``children_of``)."""
    return bool(spec.superseded_by or spec.children_of)


def table_columns(model: CanonicalModel, superseding: bool) -> dict[str, Any]:
    """The model's columns, plus the hard-delete column when a mapping into it is
    superseded (declared by every resource of the table: dlt keeps one table schema)."""
    columns: dict[str, Any] = dict(model.columns)
    if superseding:
        columns[SUPERSEDED_COLUMN] = dict(SUPERSEDED_HINT)
    return columns


def mapped_rows(
    plan: MappingPlan, used_elsewhere: Sequence[str], context: CanonicalContext
) -> Iterator[Any]:
    """Maps the new raw rows through the guard, reports drift, records the loads mapped."""
    spec = plan.spec
    guard = make_mapping_guard(spec, context)
    profile = FieldProfile()
    children = ChildrenSeen(spec)
    loaded = 0
    for item in guard.batches(_observed(plan.records(), profile)):
        if isinstance(item, list):
            loaded += len(item)
            for row in item:
                children.add(row)
        yield item
    if context.pipeline is not None:
        yield list(removed_children(context.pipeline, spec, children))
    plan.mark_mapped()
    context.read[spec.name] = (profile.records, len(plan.new_load_ids))
    state = dlt.current.resource_state()
    baseline = FieldProfile.from_state(state.get(STATE_KEY))
    report = detect_drift(spec.name, spec.source_paths(), profile, baseline, used_elsewhere)
    if baseline is not None:
        # dlt never drops a column, and creates none for a field only ever null: a mapped
        # field missing from the raw table (a typo, or never set) is reported on the
        # mapping's first load, not on every load after it
        report.missing = [p for p in report.missing if baseline.has(p)]
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
        if model.customer_ref is not None:
            row["customer_id"] = context.crosswalk.canonical_id(
                spec.source_system, row.get(model.customer_ref)
            )
        if spec.superseded_by:
            row[SUPERSEDED_COLUMN] = is_set(lookup(record, spec.superseded_by))
        return row

    register_replay_mapper(context.source_name, spec.name, mapper)
    validator = RecordValidator(
        primary_key=model.primary_key,
        columns=table_columns(model, removes_rows(spec)),
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


def is_set(value: Any) -> bool:
    """Whether a looked-up reference holds something (not absent, null or empty)."""
    return value is not MISSING and value not in (None, "", [], {})


def _observed(records: Iterable[Any], profile: FieldProfile) -> Iterator[Any]:
    for record in records:
        profile.observe(record)
        yield record
