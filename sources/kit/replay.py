"""Replays dead letters after a fix: re-validate stored payloads and load the good ones.

:func:`replay_dead_letters` reads the ``_dead_letters`` rows of an existing pipeline
that were not loaded by an earlier replay, runs each raw payload through the replay
mapper registered for its resource (:func:`~sources.kit.deadletters.register_replay_mapper`)
and through a :class:`~sources.kit.validation.RecordValidator` built from the *current*
live schema of its table, loads the now-valid records into their table with the stored
primary key and write disposition, and appends one outcome per letter to
``_dead_letter_replays`` (``loaded`` or ``still_invalid``) in the same load. A loaded
letter is never replayed again; a still-invalid one stays pending.

Replayed payloads are the stored ones, so secrets masked when the letter was written
stay masked. A letter of a ``replace`` table is appended (replacing would wipe the
table); for ``merge`` tables the stored payload overwrites whatever row has the same
key, even a newer one loaded since.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

import dlt
from dlt.common.exceptions import DltException
from dlt.common.schema.typing import TColumnSchema, TWriteDisposition
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.pipeline.exceptions import CannotRestorePipelineException

from .deadletters import (
    DEAD_LETTERS_TABLE,
    MAPPING_FAILED,
    Clock,
    replay_mapper_for,
    utc_now,
)
from .destinations import loader_options
from .redact import Redactor, global_redactor
from .validation import RecordValidator, SchemaGetter, parse_json_record

logger = logging.getLogger(__name__)

DEAD_LETTER_REPLAYS_TABLE = "_dead_letter_replays"
"""Append-only log of replay outcomes, one row per letter and attempt."""

LOADED = "loaded"
STILL_INVALID = "still_invalid"

REPLAY_COLUMNS: Mapping[str, TColumnSchema] = {
    "dead_letter_id": {"data_type": "text", "nullable": False},
    "replayed_at": {"data_type": "timestamp", "nullable": False},
    "outcome": {"data_type": "text", "nullable": False},
    "reason": {"data_type": "text", "nullable": True},
}
"""Columns of :data:`DEAD_LETTER_REPLAYS_TABLE`."""


class ReplayConfigError(Exception):
    """The pipeline, its destination or the replay setup cannot be used (exit code 2)."""


class ReplayLoadError(Exception):
    """Loading the replayed records failed (exit code 1)."""


@dataclass(frozen=True)
class DeadLetter:
    """One stored row of ``_dead_letters``.

    Attributes:
        dead_letter_id: Deterministic id of the letter.
        source: Source name.
        resource: Resource that received the record.
        table_name: Table the record was meant for.
        primary_key: Primary key columns of that table.
        write_disposition: Write disposition of that table.
        record_id: Primary key value of the record, if it had one.
        raw_payload: The record as received (redacted); hidden from ``repr``.
        reason: Why it was dead-lettered.
        run_id: Run that received it.
        failed_at: When it was dead-lettered.
    """

    dead_letter_id: str
    source: str
    resource: str
    table_name: str
    primary_key: tuple[str, ...]
    write_disposition: str
    record_id: Optional[str]
    raw_payload: str = field(repr=False)
    reason: str
    run_id: Optional[str]
    failed_at: Optional[datetime]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DeadLetter:
        """Builds a letter from a ``_dead_letters`` row (missing columns become empty)."""
        primary_key = str(row.get("primary_key") or "")
        return cls(
            dead_letter_id=str(row["dead_letter_id"]),
            source=str(row.get("source") or ""),
            resource=str(row.get("resource") or ""),
            table_name=str(row.get("table_name") or row.get("resource") or ""),
            primary_key=tuple(part for part in primary_key.split(",") if part),
            write_disposition=str(row.get("write_disposition") or "append"),
            record_id=_optional_text(row.get("record_id")),
            raw_payload=str(row.get("raw_payload") or ""),
            reason=str(row.get("reason") or ""),
            run_id=_optional_text(row.get("run_id")),
            failed_at=row.get("failed_at"),
        )


@dataclass(frozen=True)
class ReplayOutcome:
    """What replaying one letter did (or would do, in a dry run).

    Attributes:
        letter: The letter.
        outcome: ``loaded`` or ``still_invalid``.
        reason: Why it is still invalid; ``None`` when loaded.
        record: The record that was (or would be) loaded; hidden from ``repr``.
    """

    letter: DeadLetter
    outcome: str
    reason: Optional[str] = None
    record: Optional[dict[str, Any]] = field(default=None, repr=False)


@dataclass(frozen=True)
class ReplayReport:
    """Result of one replay.

    Attributes:
        outcomes: One per pending letter, oldest first.
        dry_run: Nothing was written.
    """

    outcomes: tuple[ReplayOutcome, ...]
    dry_run: bool = False

    @property
    def loaded(self) -> int:
        """Letters loaded (or loadable, in a dry run)."""
        return sum(1 for outcome in self.outcomes if outcome.outcome == LOADED)

    @property
    def still_invalid(self) -> int:
        """Letters that still fail validation."""
        return sum(1 for outcome in self.outcomes if outcome.outcome == STILL_INVALID)

    @property
    def exit_code(self) -> int:
        """0 when everything replayable was loaded, 1 when some letters remain invalid."""
        return 1 if self.still_invalid else 0


@dataclass(frozen=True)
class ReasonCount:
    """How many pending letters a resource has for one reason."""

    resource: str
    reason: str
    count: int


@dataclass(frozen=True)
class DeadLetterSummary:
    """Pending letters counted by resource and reason, plus the newest few.

    Attributes:
        total: Number of pending letters.
        counts: Counts by resource and reason, largest first.
        newest: The most recent letters, newest first.
    """

    total: int
    counts: tuple[ReasonCount, ...]
    newest: tuple[DeadLetter, ...]


def attach_pipeline(pipeline_name: str, pipelines_dir: Optional[str] = None) -> dlt.Pipeline:
    """Attaches to an existing pipeline (honours ``DLT_DATA_DIR``).

    The destination is restored from the pipeline's state; its credentials come from
    the usual dlt config (``.dlt/secrets.toml``, ``DESTINATION__...`` variables).

    Args:
        pipeline_name: Name of the pipeline (``stripe``).
        pipelines_dir: Where pipelines live; dlt's default when ``None``.

    Returns:
        The attached pipeline.

    Raises:
        ReplayConfigError: The pipeline does not exist or has no destination.
    """
    try:
        pipeline = dlt.attach(
            pipeline_name=pipeline_name,
            pipelines_dir=pipelines_dir,  # type: ignore[arg-type]  # None means dlt's default
        )
    except CannotRestorePipelineException as exc:
        where = pipelines_dir or "the default pipelines dir (DLT_DATA_DIR)"
        raise ReplayConfigError(f"unknown pipeline '{pipeline_name}' in {where}") from exc
    except DltException as exc:
        raise ReplayConfigError(
            f"cannot attach to pipeline '{pipeline_name}': {_first_line(exc)}"
        ) from exc
    if pipeline.destination is None:
        raise ReplayConfigError(f"pipeline '{pipeline_name}' has no destination")
    return pipeline


def read_pending_dead_letters(
    pipeline: dlt.Pipeline, resource: Optional[str] = None
) -> list[DeadLetter]:
    """Reads the letters no replay has loaded yet, oldest first.

    Args:
        pipeline: An attached pipeline.
        resource: Only letters of this resource.

    Returns:
        The pending letters; empty when the pipeline never dead-lettered anything.

    Raises:
        ReplayConfigError: The destination cannot be read, or the schema knows
            ``_dead_letters`` but the destination has no such table (wrong credentials?).
    """
    letters = _read_table(pipeline, DEAD_LETTERS_TABLE)
    if letters is None:
        if _schema_has_table(pipeline, DEAD_LETTERS_TABLE):
            raise ReplayConfigError(
                f"the schema of pipeline '{pipeline.pipeline_name}' has {DEAD_LETTERS_TABLE}"
                " but its destination does not; check the destination credentials"
            )
        return []
    replays = _read_table(pipeline, DEAD_LETTER_REPLAYS_TABLE) or []
    done = {row["dead_letter_id"] for row in replays if row.get("outcome") == LOADED}
    pending = [
        DeadLetter.from_row(row)
        for row in letters
        if row["dead_letter_id"] not in done
        and (resource is None or row.get("resource") == resource)
    ]
    return sorted(pending, key=_failed_at_key)


def summarize_dead_letters(letters: Sequence[DeadLetter], newest: int = 5) -> DeadLetterSummary:
    """Counts letters by resource and reason and picks the newest.

    Args:
        letters: Pending letters.
        newest: How many of the most recent letters to keep.

    Returns:
        The summary.
    """
    counts: dict[tuple[str, str], int] = {}
    for letter in letters:
        key = (letter.resource, letter.reason)
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    recent = sorted(letters, key=_failed_at_key, reverse=True)[: max(newest, 0)]
    return DeadLetterSummary(
        total=len(letters),
        counts=tuple(ReasonCount(res, reason, count) for (res, reason), count in ordered),
        newest=tuple(recent),
    )


def import_mapper_modules(modules: Iterable[str], *, optional: bool = False) -> list[str]:
    """Imports the modules that register replay mappers.

    Args:
        modules: Dotted module names (``sources.stripe``).
        optional: Skip modules that do not exist instead of failing.

    Returns:
        The modules that were imported.

    Raises:
        ReplayConfigError: A required module is missing or fails to import.
    """
    imported = []
    for name in modules:
        if optional and not _module_exists(name):
            logger.debug("no replay mapper module %s", name)
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:
            if optional:
                logger.warning("could not import %s: %s", name, type(exc).__name__)
                continue
            raise ReplayConfigError(f"cannot import mapper module '{name}': {exc}") from exc
        imported.append(name)
    return imported


def revalidate(letter: DeadLetter, validator: RecordValidator) -> ReplayOutcome:
    """Runs a stored payload through its replay mapper and the current validator.

    A letter whose mapping failed stays invalid until a replay mapper is registered for
    its resource: loading the unmapped payload would bypass the connector's mapping.

    Args:
        letter: The letter.
        validator: Validator for the letter's table built from the live schema.

    Returns:
        ``loaded`` with the record, or ``still_invalid`` with the reason.
    """
    record, parse_error = parse_json_record(letter.raw_payload)
    mapper = replay_mapper_for(letter.source, letter.resource)
    if mapper is None and letter.reason.startswith(MAPPING_FAILED):
        missing = f"no replay mapper registered for {letter.source}/{letter.resource}"
        return ReplayOutcome(letter, STILL_INVALID, missing)
    if mapper is None and parse_error:
        return ReplayOutcome(letter, STILL_INVALID, parse_error)
    if mapper is not None:
        try:
            record = mapper(record)
        except Exception as exc:  # noqa: BLE001 - a failing mapper keeps the letter invalid
            failure = f"{MAPPING_FAILED}: {type(exc).__name__}: {exc}"
            return ReplayOutcome(letter, STILL_INVALID, " ".join(failure.split()))
    invalid = validator.check(record)
    if invalid:
        return ReplayOutcome(letter, STILL_INVALID, invalid)
    return ReplayOutcome(letter, LOADED, record=record)


def replay_dead_letters(
    pipeline: dlt.Pipeline,
    resource: Optional[str] = None,
    *,
    dry_run: bool = False,
    mapper_modules: Sequence[str] = (),
    now: Clock = utc_now,
    redactor: Optional[Redactor] = None,
) -> ReplayReport:
    """Replays the pending dead letters of a pipeline.

    Args:
        pipeline: An attached pipeline (see :func:`attach_pipeline`).
        resource: Only letters of this resource.
        dry_run: Validate and report, but write nothing.
        mapper_modules: Modules that register replay mappers; when empty,
            ``sources.<source>`` of every pending letter is imported if it exists.
        now: Clock for ``replayed_at``.
        redactor: Masks secrets in stored reasons; the process-wide one by default.

    Returns:
        One outcome per pending letter.

    Raises:
        ReplayConfigError: The pipeline has pending packages or cannot be read.
        ReplayLoadError: Loading failed; nothing is marked as loaded then.
    """
    if pipeline.has_pending_data:
        raise ReplayConfigError(
            f"pipeline '{pipeline.pipeline_name}' has pending load packages;"
            " load or drop them before replaying"
        )
    letters = read_pending_dead_letters(pipeline, resource)
    if mapper_modules:
        import_mapper_modules(mapper_modules)
    else:
        import_mapper_modules(sorted({f"sources.{x.source}" for x in letters}), optional=True)
    outcomes = tuple(_revalidate_all(pipeline, letters))
    report = ReplayReport(outcomes=outcomes, dry_run=dry_run)
    if outcomes and not dry_run:
        _load_outcomes(pipeline, outcomes, now(), redactor or global_redactor())
    logger.info(
        "replay of %s: %d loaded, %d still invalid%s",
        pipeline.pipeline_name,
        report.loaded,
        report.still_invalid,
        " (dry run)" if dry_run else "",
    )
    return report


def _revalidate_all(pipeline: dlt.Pipeline, letters: Sequence[DeadLetter]) -> list[ReplayOutcome]:
    validators: dict[tuple[str, str, tuple[str, ...]], RecordValidator] = {}
    outcomes = []
    for letter in letters:
        schema = _schema_for(pipeline, letter)
        key = (schema.name, letter.table_name, letter.primary_key)
        validator = validators.get(key)
        if validator is None:
            validator = validators[key] = RecordValidator(
                primary_key=letter.primary_key,
                columns=None,
                schema_getter=_fixed_schema(schema),
                table_name=letter.table_name,
            )
        outcomes.append(revalidate(letter, validator))
    return outcomes


def _load_outcomes(
    pipeline: dlt.Pipeline,
    outcomes: Sequence[ReplayOutcome],
    replayed_at: datetime,
    redactor: Redactor,
) -> None:
    """Loads the valid records and the outcome log, one load per schema."""
    by_schema: dict[str, list[ReplayOutcome]] = {}
    for outcome in outcomes:
        by_schema.setdefault(_schema_for(pipeline, outcome.letter).name, []).append(outcome)
    for schema_name, schema_outcomes in by_schema.items():
        resources = _record_resources(schema_outcomes)
        resources.append(_replay_log_resource(schema_outcomes, replayed_at, redactor))
        try:
            info = pipeline.run(
                resources,
                schema=pipeline.schemas[schema_name],
                **loader_options(pipeline),
            )
            info.raise_on_failed_jobs()
        except DltException as exc:
            raise ReplayLoadError(f"replay load failed: {_first_line(exc)}") from exc


def _record_resources(outcomes: Sequence[ReplayOutcome]) -> list[Any]:
    """One dlt resource per target table, disposition and key, holding the valid records."""
    groups: dict[tuple[str, str, TWriteDisposition, tuple[str, ...]], list[dict[str, Any]]] = {}
    for outcome in outcomes:
        if outcome.outcome != LOADED or outcome.record is None:
            continue
        letter = outcome.letter
        key = (
            letter.resource,
            letter.table_name,
            replay_disposition(letter.write_disposition),
            letter.primary_key,
        )
        groups.setdefault(key, []).append(outcome.record)
    resources = []
    names: set[str] = set()
    for (resource_name, table_name, disposition, primary_key), records in groups.items():
        name = _unique_name(resource_name or table_name, table_name, names)
        resource = dlt.resource(
            records, name=name, table_name=table_name, write_disposition=disposition
        )
        if primary_key:
            resource.apply_hints(primary_key=list(primary_key))
        resources.append(resource)
    return resources


def _replay_log_resource(
    outcomes: Sequence[ReplayOutcome], replayed_at: datetime, redactor: Redactor
) -> Any:
    rows = [
        {
            "dead_letter_id": outcome.letter.dead_letter_id,
            "replayed_at": replayed_at,
            "outcome": outcome.outcome,
            "reason": redactor.redact_text(outcome.reason) if outcome.reason else None,
        }
        for outcome in outcomes
    ]
    return dlt.resource(
        rows,
        name=DEAD_LETTER_REPLAYS_TABLE,
        write_disposition="append",
        columns=dict(REPLAY_COLUMNS),
    )


def replay_disposition(write_disposition: str) -> TWriteDisposition:
    """The write disposition a replayed record is loaded with.

    Args:
        write_disposition: The one stored with the letter.

    Returns:
        ``append``/``merge`` as stored; ``append`` for anything else, since replaying a
        handful of records with ``replace`` would wipe the rest of the table.
    """
    if write_disposition == "merge":
        return "merge"
    return "append"


def _schema_for(pipeline: dlt.Pipeline, letter: DeadLetter) -> dlt.Schema:
    """The live schema that holds the letter's table, preferring the one named after its source."""
    candidates = [letter.source, pipeline.default_schema_name, *pipeline.schema_names]
    for name in (candidate for candidate in candidates if candidate):
        if name in pipeline.schemas:
            schema = pipeline.schemas[name]
            if schema.naming.normalize_tables_path(letter.table_name) in schema.tables:
                return schema
    if pipeline.default_schema_name is None:
        raise ReplayConfigError(f"pipeline '{pipeline.pipeline_name}' has no schema")
    return pipeline.default_schema


def _fixed_schema(schema: dlt.Schema) -> SchemaGetter:
    def getter() -> Optional[dlt.Schema]:
        return schema

    return getter


def _schema_has_table(pipeline: dlt.Pipeline, table_name: str) -> bool:
    return any(table_name in pipeline.schemas[name].tables for name in pipeline.schema_names)


def _read_table(pipeline: dlt.Pipeline, table_name: str) -> Optional[list[dict[str, Any]]]:
    """All rows of a table as dicts, or ``None`` when the destination has no such table."""
    try:
        with pipeline.sql_client() as client:
            qualified = client.make_qualified_table_name(table_name)
            # the table name is one of our constants, quoted by dlt: no injection possible
            query = f"SELECT * FROM {qualified}"  # noqa: S608
            with client.execute_query(query) as cursor:
                names = [column[0] for column in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except DatabaseUndefinedRelation:
        return None
    except DltException as exc:
        raise ReplayConfigError(f"cannot read {table_name}: {_first_line(exc)}") from exc


def _failed_at_key(letter: DeadLetter) -> tuple[str, str]:
    failed_at = letter.failed_at.isoformat() if letter.failed_at is not None else ""
    return failed_at, letter.dead_letter_id


def _unique_name(preferred: str, table_name: str, taken: set[str]) -> str:
    name = preferred
    if name in taken:
        name = f"{preferred}__{table_name}"
    suffix = 2
    while name in taken:
        name = f"{preferred}__{table_name}_{suffix}"
        suffix += 1
    taken.add(name)
    return name


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception message redacted, on one line and cut to ``limit`` characters."""
    text = global_redactor().redact_text(" ".join(str(exc).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _optional_text(value: Any) -> Optional[str]:
    return None if value is None else str(value)
