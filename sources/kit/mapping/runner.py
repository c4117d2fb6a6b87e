"""Derives a system's canonical models from its raw tables, into the ``canonical`` dataset.

A dlt pipeline has one dataset, so the canonical models load through a sibling
pipeline ``<system>_canonical`` on the raw pipeline's destination (same credentials,
e.g. the same DuckDB file) with dataset ``canonical``. It first loads any package a
killed canonical run left, then plans each mapping (the raw loads it has not mapped,
see :mod:`.loads`), reads the stored crosswalk, so canonical ids stay what they were,
and writes its own ``_sync_runs`` rows. Whatever loaded the raw rows (a poll with or
without ``--canonical``, the webhook drain, a replay), the next canonical load maps them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

import dlt
from dlt.common.destination.reference import Destination

from ..ledger import destination_credentials, finish_pending_packages, run_with_ledger
from ..monitor import SyncMonitor
from .canonical import (
    CUSTOMER_ENTITY,
    CanonicalContext,
    canonical_source,
    canonical_source_name,
    resolve_customers,
)
from .crosswalk import Ambiguity, Crosswalk, MatchRule, read_crosswalk
from .drift import DriftReport
from .loads import MappingPlan, plan_mappings
from .models import CANONICAL_DATASET
from .spec import MappingSpec
from .transforms import utc_now
from .warehouse import RawTables

__all__ = ["CanonicalOutcome", "open_canonical_pipeline", "run_canonical"]

logger = logging.getLogger("sluice.mapping")


@dataclass
class CanonicalOutcome:
    """What a canonical load did, for the run summary.

    Attributes:
        pipeline: The canonical pipeline (attached to the destination).
        tables: Tables the load writes.
        drift: One report per mapping.
        linked: New crosswalk links.
        ambiguous: Records left unlinked.
        read: ``(raw rows, new raw loads)`` each mapping read.
    """

    pipeline: dlt.Pipeline
    tables: list[str]
    drift: list[DriftReport] = field(default_factory=list)
    linked: int = 0
    ambiguous: list[Ambiguity] = field(default_factory=list)
    read: dict[str, tuple[int, int]] = field(default_factory=dict)


def open_canonical_pipeline(
    raw_pipeline: dlt.Pipeline, system: str, dataset_name: str = CANONICAL_DATASET
) -> dlt.Pipeline:
    """The ``<system>_canonical`` pipeline on the raw pipeline's destination."""
    raw_destination = raw_pipeline.destination
    if raw_destination is None:
        raise ValueError(f"pipeline {raw_pipeline.pipeline_name} has no destination")
    destination: Any = Destination.from_reference(
        raw_destination.destination_type,
        credentials=destination_credentials(raw_pipeline),
        destination_name=raw_destination.destination_name,
    )
    try:
        return dlt.pipeline(
            pipeline_name=canonical_source_name(system),
            pipelines_dir=raw_pipeline.pipelines_dir,
            destination=destination,
            dataset_name=dataset_name,
        )
    finally:
        raw_pipeline.activate()


def run_canonical(
    raw_pipeline: dlt.Pipeline,
    *,
    system: str,
    specs: Sequence[MappingSpec],
    rules: Sequence[MatchRule],
    run_id: Optional[str] = None,
    now: Callable[[], datetime] = utc_now,
    **run_kwargs: Any,
) -> CanonicalOutcome:
    """Maps the raw rows of every load not mapped yet into the canonical models.

    Args:
        raw_pipeline: The pipeline whose dataset holds the raw tables (and gives the
            destination).
        system: Source system name (``stripe``).
        specs: The system's mappings.
        rules: Crosswalk match rules, in priority order.
        run_id: Run id for dead letters, links and the ledger.
        now: Clock for ``now`` transforms and link times.
        **run_kwargs: Passed to ``pipeline.run`` (e.g. ``loader_file_format``).

    Returns:
        The outcome, for the summary.

    Raises:
        Exception: Whatever the load raised (after its ledger rows were written).
    """
    run_id = run_id or uuid.uuid4().hex
    pipeline = open_canonical_pipeline(raw_pipeline, system)
    pipeline.activate()
    try:
        # a killed run's package holds rows, links and its mapped loads: load it first
        finish_pending_packages(pipeline)
        plans = plan_canonical(pipeline, raw_pipeline, system, specs)
        crosswalk = Crosswalk(CUSTOMER_ENTITY, rules, read_crosswalk(pipeline, CUSTOMER_ENTITY))
        resolution = resolve_customers(crosswalk, plans, now)
        monitor = SyncMonitor(canonical_source_name(system), run_id)
        context = CanonicalContext(
            system, run_id, crosswalk, resolution, monitor, now, pipeline=pipeline
        )
        run_with_ledger(pipeline, canonical_source(plans, context), monitor, **run_kwargs)
    finally:
        raw_pipeline.activate()
    tables = [*dict.fromkeys(s.target_model.name for s in specs)]
    return CanonicalOutcome(
        pipeline=pipeline,
        tables=[*tables, "crosswalk", "crosswalk_ambiguities", "_dead_letters"],
        drift=context.drift,
        linked=len(resolution.linked),
        ambiguous=resolution.ambiguous,
        read=context.read,
    )


def plan_canonical(
    pipeline: dlt.Pipeline,
    raw_pipeline: dlt.Pipeline,
    system: str,
    specs: Sequence[MappingSpec],
) -> list[MappingPlan]:
    """Each mapping's raw loads not mapped yet, from the canonical source's state."""
    sources = pipeline.state.get("sources") or {}
    state = sources.get(canonical_source_name(system)) or {}
    return plan_mappings(RawTables(raw_pipeline), specs, state)
