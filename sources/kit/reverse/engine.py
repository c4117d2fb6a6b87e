"""Runs a sync: read, diff, send per batch, commit per batch, dead-letter, ledger.

Crash safety: the hashes of a batch are committed right after the target accepted it,
and every write is idempotent (Salesforce upsert by external id; Stripe with an
``Idempotency-Key`` derived from sync, key and value hash), so a run killed anywhere
and run again re-sends at most the batch in flight, which then applies once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt

from sources.kit.deadletters import DEAD_LETTER_COLUMNS, DEAD_LETTERS_TABLE, dead_letter_row
from sources.kit.ledger import destination_credentials, open_ledger_pipeline, write_ledger
from sources.kit.monitor import FAILED, SUCCESS, SyncMonitor

from . import warehouse
from .plan import CREATE, DELETE, UPDATE, Op, Plan, batches, build_plan
from .spec import SyncSpec
from .target import Target, WriteResult

logger = logging.getLogger("sluice.reverse")


@dataclass
class SyncResult:
    """What a run did (or, dry, would do).

    Attributes:
        sync: Sync name.
        run_id: Run id (ledger rows and dead letters carry it).
        plan: The diff the run started from.
        dry_run: Nothing was written.
        sent: Writes the target accepted, per kind.
        rejected: Writes or rows dead-lettered.
        deferred: Writes the target did not process (sent again next run).
        batches: Target calls made.
    """

    sync: str
    run_id: str
    plan: Plan
    dry_run: bool = False
    sent: dict[str, int] = field(default_factory=lambda: {CREATE: 0, UPDATE: 0, DELETE: 0})
    rejected: int = 0
    deferred: int = 0
    batches: int = 0

    def summary(self) -> str:
        """One line: what was sent, rejected, left alone."""
        verb = "would send" if self.dry_run else "sent"
        counts = self.sent if not self.dry_run else {k: self.plan.count(k) for k in self.sent}
        return (
            f"sync {self.sync}: {verb} {counts[CREATE]} create(s), {counts[UPDATE]} update(s), "
            f"{counts[DELETE]} delete(s); {self.plan.unchanged} unchanged, "
            f"{len(self.plan.adopted)} already written (change token), "
            f"{self.rejected if not self.dry_run else len(self.plan.rejected)} rejected"
        )


def run_sync(
    spec: SyncSpec,
    pipeline: dlt.Pipeline,
    target: Target,
    *,
    dry_run: bool = False,
    run_id: Optional[str] = None,
    clock: Callable[[], float] = time.time,
    after_batch: Optional[Callable[[int], None]] = None,
) -> SyncResult:
    """Runs ``spec`` from ``pipeline``'s dataset into ``target``.

    Args:
        spec: The validated sync.
        pipeline: A pipeline on the warehouse (destination + dataset of the source).
        target: The connector's write side.
        dry_run: Plan only: nothing is sent, committed or ledgered.
        run_id: Id of the run (a fresh uuid by default).
        clock: Wall clock for the ledger.
        after_batch: Called with the batch number after each committed batch.

    Returns:
        What was done.

    Raises:
        SyncSpecError: The target refuses the sync (before anything is read or sent).
        SluiceError: A whole batch failed; earlier batches stay committed.
    """
    target.check(spec)
    run_id = run_id or uuid.uuid4().hex
    rows = warehouse.read_rows(pipeline, spec)
    plan = build_plan(spec, rows, warehouse.load_state(pipeline, spec.name))
    result = SyncResult(spec.name, run_id, plan, dry_run=dry_run)
    if dry_run:
        return result
    monitor = SyncMonitor(f"sync:{spec.name}", run_id, clock=clock)
    monitor.expect([spec.object])
    monitor.set_total(spec.object, len(plan.ops))
    dead: list[dict[str, Any]] = [_dead_row(spec, run_id, row, why) for row, why in plan.rejected]
    monitor.record(spec.object, dead_lettered=len(dead))  # rows no transform could map
    error: Optional[BaseException] = None
    try:
        warehouse.commit(pipeline, spec.name, [(op, None) for op in plan.adopted])
        size = target.batch_limit(spec, len(plan.ops))
        for number, batch in enumerate(batches(plan.ops, size)):
            answers = target.write(batch)
            _check_answers(batch, answers)
            accepted = [(a.op, a.target_id) for a in answers if a.ok]
            warehouse.commit(pipeline, spec.name, accepted)  # right after the target accepted
            _count(result, monitor, spec, batch[0].kind, answers)
            dead.extend(
                _dead_row(spec, run_id, _payload(a.op), a.error)
                for a in answers
                if not a.ok and not a.deferred
            )
            if after_batch is not None:
                after_batch(number)
    except BaseException as exc:
        error = exc
        raise
    finally:
        result.rejected += len(plan.rejected)
        _finish(pipeline, spec, monitor, target, dead, error)
    logger.info(result.summary())
    return result


def _check_answers(batch: Sequence[Op], answers: Sequence[WriteResult]) -> None:
    if len(answers) != len(batch):
        raise RuntimeError("target answered a batch with a wrong number of results")
    if any(a.op is not op for a, op in zip(answers, batch, strict=True)):
        raise RuntimeError("target answered a batch with results out of order")


def _count(
    result: SyncResult, monitor: SyncMonitor, spec: SyncSpec, kind: str, answers: list[WriteResult]
) -> None:
    ok = sum(1 for a in answers if a.ok)
    rejected = sum(1 for a in answers if not a.ok and not a.deferred)
    result.sent[kind] += ok
    result.rejected += rejected
    result.deferred += len(answers) - ok - rejected
    result.batches += 1
    monitor.record(
        spec.object,
        loaded=ok,
        updated=ok if kind == UPDATE else 0,
        deleted=ok if kind == DELETE else 0,
        dead_lettered=rejected,
        pages=1,
    )


def _payload(op: Op) -> dict[str, Any]:
    return {"key": op.key, "kind": op.kind, "payload": dict(op.payload)}


def _dead_row(spec: SyncSpec, run_id: str, payload: Any, reason: Optional[str]) -> dict[str, Any]:
    return dead_letter_row(
        source=f"sync:{spec.name}",
        resource=spec.name,
        table_name=spec.object,
        payload=payload,
        reason=reason or "rejected by the target",
        run_id=run_id,
        primary_key="key",
        write_disposition=spec.mode,
    )


def _finish(
    pipeline: dlt.Pipeline,
    spec: SyncSpec,
    monitor: SyncMonitor,
    target: Target,
    dead: list[dict[str, Any]],
    error: Optional[BaseException],
) -> None:
    """Dead letters and ledger rows, also after a failed batch (best effort then)."""
    monitor.finish()
    try:
        if dead:
            write_dead_letters(pipeline, dead)
        rows = monitor.ledger_rows(
            FAILED if error is not None else SUCCESS,
            http_stats_by_label=target.http_stats(),
            error=error,
            pipeline_name=pipeline.pipeline_name,
        )
        write_ledger(pipeline, rows)
    except Exception:
        if error is None:
            raise
        logger.exception("sync %s: could not record the failed run", spec.name)


def write_dead_letters(pipeline: dlt.Pipeline, rows: Sequence[dict[str, Any]]) -> None:
    """Merges dead-letter rows into ``_dead_letters`` of ``pipeline``'s dataset.

    The ledger's sibling pipeline writes them (same destination, credentials and
    dataset, see ledger.py), so nothing of the warehouse pipeline's packages mixes in
    and ``sluice status`` lists no extra pipeline.
    """
    credentials = destination_credentials(pipeline)
    sibling = open_ledger_pipeline(pipeline)
    try:
        resource = dlt.resource(
            list(rows),
            name=DEAD_LETTERS_TABLE,
            write_disposition="merge",
            primary_key="dead_letter_id",
            columns=dict(DEAD_LETTER_COLUMNS),
        )
        sibling.run(resource, credentials=credentials)
    finally:
        pipeline.activate()
