"""Dead letters: records that cannot be loaded as declared go to ``_dead_letters``.

A record with a missing primary key, a value of the wrong type for a known column,
unparseable JSON or a mapping that raised is not loaded into its table and not
dropped either: :class:`RecordGuard` turns it into a row of the ``_dead_letters``
table in the same dataset (source, resource, raw payload, reason, run id, time) and
the rest of the run loads. ``pipelines/dead_letters.py`` replays them after a fix.

Nothing is dropped silently
---------------------------
The guard only catches what it can see at extraction time. Whatever it misses must
fail loudly rather than vanish, so guarded resources use
:func:`contract_for_dead_letters`: tables and columns may evolve, but ``data_type`` is
frozen. With ``discard_row``/``discard_value`` dlt would silently drop a row or value
whose type does not fit, and with ``evolve`` it would silently put it into a variant
column (``amount__v_text``); ``freeze`` makes dlt raise instead, so a record the guard
let through by mistake stops the run and gets noticed.

Wiring a connector
------------------
The guard runs *inside* the resource generator, before records are yielded, so no
dlt step (incremental, filters) ever sees a bad record::

    @dlt.resource(
        primary_key="id",
        write_disposition="merge",
        columns={"created": {"data_type": "timestamp"}},  # declare the cursor type
        schema_contract=contract_for_dead_letters(),
    )
    def charges(
        created=dlt.sources.incremental("created", on_cursor_value_missing="include"),
    ):
        validator = RecordValidator(
            primary_key=["id"],
            columns={"created": {"data_type": "timestamp"}},
            schema_getter=current_source_schema,
            table_name="charges",
            required=["created"],  # the cursor must be there and not null
        )
        guard = RecordGuard("stripe", "charges", "charges", validator, mapper=None,
                            run_id=run_id, primary_key=["id"], write_disposition="merge")
        for page in pages(created.last_value):
            yield from guard.batches(page)

Dead-letter rows travel through the resource's pipe, so its incremental step sees
them: they have no cursor field, hence ``on_cursor_value_missing="include"`` (with the
default ``"raise"`` dlt would fail on the first dead letter). A record missing its
cursor is caught by the guard through ``required``; a cursor that is present but of
the wrong type is caught through the declared column type (or ``strict_types``).
Resources that keep their own cursor in ``dlt.current.resource_state()`` need nothing
special: advance the cursor from the plain ``dict`` records the guard yields.

Limitations: a resource with a dynamic (callable) table name routes items by calling
that function, so wrap it with :func:`route_dead_letters` (and give each target table
its own guard, so ``table_name`` is right for replay); a resource validated by a
Pydantic model would validate dead-letter rows against that model, so guarded
resources declare plain column hints instead.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Optional, Union, overload

import dlt
from dlt.common.json import json
from dlt.common.schema.typing import TColumnSchema, TSchemaContractDict
from dlt.extract.hints import TResourceHints
from dlt.extract.items import DataItemWithMeta

from .redact import Redactor, global_redactor
from .validation import RecordValidator, parse_json_record

logger = logging.getLogger(__name__)

DEAD_LETTERS_TABLE = "_dead_letters"
"""Table in the pipeline's dataset that holds the dead letters of every resource."""

DEAD_LETTER_KEY = "dead_letter_id"

DEAD_LETTER_COLUMNS: Mapping[str, TColumnSchema] = {
    "dead_letter_id": {"data_type": "text", "nullable": False},
    "source": {"data_type": "text", "nullable": False},
    "resource": {"data_type": "text", "nullable": False},
    "table_name": {"data_type": "text", "nullable": False},
    "primary_key": {"data_type": "text", "nullable": True},
    "write_disposition": {"data_type": "text", "nullable": False},
    "record_id": {"data_type": "text", "nullable": True},
    "raw_payload": {"data_type": "text", "nullable": False},
    "reason": {"data_type": "text", "nullable": False},
    "run_id": {"data_type": "text", "nullable": False},
    "failed_at": {"data_type": "timestamp", "nullable": False},
}
"""Columns of :data:`DEAD_LETTERS_TABLE`, in order."""

MAX_REASON_LENGTH = 1000
"""Longer reasons are cut; a reason is a diagnosis, not a dump."""

MAPPING_FAILED = "mapping failed"

DEFAULT_MAX_BATCH = 1000
"""Most good records :meth:`RecordGuard.batches` yields in one list."""

Clock = Callable[[], datetime]
Mapper = Callable[[dict[str, Any]], dict[str, Any]]
ReplayMapper = Callable[[Any], Any]


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(timezone.utc)


def contract_for_dead_letters() -> TSchemaContractDict:
    """The schema contract for guarded resources: evolve tables/columns, freeze data types.

    Returns:
        ``{"tables": "evolve", "columns": "evolve", "data_type": "freeze"}`` - a value the
        guard missed makes dlt raise instead of silently discarding it or moving it to a
        variant column (see the module docstring).
    """
    return {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}


def payload_text(payload: Any) -> str:
    """The payload as text: JSON of a decoded record, the raw text of anything else.

    Args:
        payload: The record as received (decoded object, ``str`` or ``bytes``).

    Returns:
        Text stored in ``raw_payload`` (before redaction).
    """
    if isinstance(payload, str):
        return payload
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload).decode("utf-8", errors="replace")
    try:
        return json.dumps(payload)
    except (TypeError, ValueError):
        return repr(payload)


def redacted_payload_text(payload: Any, redactor: Redactor) -> str:
    """The payload as text with secrets masked, keeping JSON valid.

    Masking whole JSON text could swallow quotes (a URL's userinfo pattern may run
    across fields), so decoded records are masked value by value and JSON text is only
    re-encoded when masking changed it; other text is masked as it is.

    Args:
        payload: The record as received.
        redactor: Masks the secrets.

    Returns:
        Text for ``raw_payload``.
    """
    if isinstance(payload, (str, bytes, bytearray)):
        text = payload_text(payload)
        masked = redactor.redact_text(text)
        if masked == text:
            return text
        decoded, parse_error = parse_json_record(text)
        if parse_error or not isinstance(decoded, (dict, list)):
            return masked
        return json.dumps(_redact_values(decoded, redactor))
    try:
        return json.dumps(_redact_values(payload, redactor))
    except (TypeError, ValueError):
        return redactor.redact_text(repr(payload))


def _redact_values(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor.redact_text(value)
    if isinstance(value, Mapping):
        return {
            _redact_values(key, redactor): _redact_values(item, redactor)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact_values(item, redactor) for item in value]
    return value


def dead_letter_id(source: str, resource: str, raw_payload: str, reason: str) -> str:
    """Deterministic id of a dead letter, so extracting the same bad record twice is one row.

    Args:
        source: Source name.
        resource: Resource name.
        raw_payload: The (redacted) payload text.
        reason: The (redacted) reason.

    Returns:
        Hex sha256 over the four values.
    """
    material = json.dumps([source, resource, raw_payload, reason])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def record_id_of(payload: Any, primary_key: Sequence[str]) -> Optional[str]:
    """The primary key value of a payload as text (comma-joined), or ``None`` if absent.

    Args:
        payload: The record as received (a dict, or JSON text of one).
        primary_key: Primary key field names.

    Returns:
        ``"ch_1"``, ``"a,b"`` for a compound key, or ``None`` when the payload is not a
        JSON object or any key field is missing or null.
    """
    payload, _ = parse_json_record(payload)
    if not isinstance(payload, Mapping) or not primary_key:
        return None
    values = [payload.get(name) for name in primary_key]
    if any(value is None for value in values):
        return None
    return ",".join(str(value) for value in values)


def dead_letter_row(
    *,
    source: str,
    resource: str,
    table_name: str,
    payload: Any,
    reason: str,
    run_id: str,
    primary_key: Union[str, Sequence[str]],
    write_disposition: str,
    redactor: Optional[Redactor] = None,
    now: Clock = utc_now,
) -> dict[str, Any]:
    """Builds one row of :data:`DEAD_LETTERS_TABLE`.

    Args:
        source: Source name (``stripe``).
        resource: Resource that received the record.
        table_name: Table the record was meant for.
        payload: The original record exactly as received.
        reason: Why it cannot be loaded (one line).
        run_id: Id of the run that received it.
        primary_key: Primary key of ``table_name`` (stored comma-joined for replay).
        write_disposition: Write disposition of ``table_name`` (stored for replay).
        redactor: Masks registered secrets; the process-wide one by default.
        now: Clock for ``failed_at``.

    Returns:
        The row, with secrets masked in ``raw_payload``, ``reason`` and ``record_id``.
    """
    redactor = redactor or global_redactor()
    keys = _as_names(primary_key)
    raw_payload = redacted_payload_text(payload, redactor)
    clean_reason = redactor.redact_text(_one_line(reason))[:MAX_REASON_LENGTH]
    record_id = record_id_of(payload, keys)
    return {
        "dead_letter_id": dead_letter_id(source, resource, raw_payload, clean_reason),
        "source": source,
        "resource": resource,
        "table_name": table_name,
        "primary_key": ",".join(keys) or None,
        "write_disposition": write_disposition,
        "record_id": redactor.redact_text(record_id) if record_id is not None else None,
        "raw_payload": raw_payload,
        "reason": clean_reason,
        "run_id": run_id,
        "failed_at": now(),
    }


def is_dead_letter_row(item: Any) -> bool:
    """Tells a dead-letter row from a data record (for dynamic table-name functions)."""
    return isinstance(item, dict) and DEAD_LETTER_KEY in item and item.keys() == _ROW_KEYS


def route_dead_letters(table_name_fn: Callable[[Any], str]) -> Callable[[Any], str]:
    """Wraps a dynamic ``table_name`` function so dead-letter rows go to ``_dead_letters``.

    dlt names the table of every item of a resource with a callable ``table_name`` by
    calling it, ignoring the table an item was routed to; wrap the function with this.

    Args:
        table_name_fn: The resource's table-name function.

    Returns:
        A function returning :data:`DEAD_LETTERS_TABLE` for dead-letter rows and
        ``table_name_fn(item)`` otherwise.
    """

    def table_name(item: Any) -> str:
        if is_dead_letter_row(item):
            return DEAD_LETTERS_TABLE
        return table_name_fn(item)

    return table_name


def dead_letter_hints(declare_columns: bool) -> TResourceHints:
    """Hints of the ``_dead_letters`` table variant, independent of the yielding resource.

    Args:
        declare_columns: Declare the column types. A table variant starts as a copy of
            the resource's hints, and dlt merges columns into it, so the first hints a
            resource sends for the variant must carry no columns (that empties the
            copy); the typed columns are declared once the variant exists.

    Returns:
        Hints for ``dlt.mark.with_hints(..., create_table_variant=True)``: merge on
        ``dead_letter_id``, no merge key, nested hints or extra table hints of the
        resource, and the dead-letter contract.
    """
    return dlt.mark.make_hints(
        table_name=DEAD_LETTERS_TABLE,
        write_disposition="merge",
        columns=dict(DEAD_LETTER_COLUMNS) if declare_columns else {},
        primary_key=DEAD_LETTER_KEY,
        merge_key="",
        schema_contract=contract_for_dead_letters(),
        nested_hints={},
        additional_table_hints={},
    )


@overload
def dead_letter_item(row: Mapping[str, Any], /) -> DataItemWithMeta: ...


@overload
def dead_letter_item(
    *,
    source: str,
    resource: str,
    table_name: str,
    payload: Any,
    reason: str,
    run_id: str,
    primary_key: Union[str, Sequence[str]],
    write_disposition: str,
    redactor: Optional[Redactor] = None,
    now: Clock = utc_now,
) -> DataItemWithMeta: ...


def dead_letter_item(row: Optional[Mapping[str, Any]] = None, /, **fields: Any) -> DataItemWithMeta:
    """Wraps a dead-letter row so that, yielded from any resource, it lands in ``_dead_letters``.

    Pass a row from :func:`dead_letter_row`, or the keyword arguments of
    :func:`dead_letter_row` to build it. The item creates (or re-targets) a
    ``_dead_letters`` variant of the yielding resource's hints that inherits none of the
    resource's columns, keys or write disposition. Column types of ``_dead_letters`` are
    declared by :func:`dead_letter_columns_item`; yield that right after the first dead
    letter of a resource (:class:`RecordGuard` does both).

    Args:
        row: A ready row.
        **fields: Keyword arguments of :func:`dead_letter_row` (when ``row`` is omitted).

    Returns:
        The item to ``yield`` from the resource.
    """
    if row is None:
        row = dead_letter_row(**fields)
    elif fields:
        raise TypeError("pass either a dead-letter row or the fields to build one, not both")
    return dlt.mark.with_hints(dict(row), dead_letter_hints(False), create_table_variant=True)


def dead_letter_columns_item() -> DataItemWithMeta:
    """An empty item that declares the column types of the ``_dead_letters`` variant.

    Yield it after the resource's first :func:`dead_letter_item` (never before: the
    variant would then start as a copy of the resource's columns).

    Returns:
        The item to ``yield`` from the resource; it carries no rows.
    """
    return dlt.mark.with_hints([], dead_letter_hints(True), create_table_variant=True)


class RecordGuard:
    """Lets good records through and turns bad ones into dead letters.

    Each record is decoded (JSON text), mapped (``mapper``) and validated; a failure
    at any step yields a dead-letter item instead of the record and logs one WARNING
    line (redacted, without the payload). Thread-safe.

    Attributes:
        source: Source name stored with each dead letter.
        resource: Resource name stored with each dead letter.
        table_name: Table the good records load into.
    """

    def __init__(
        self,
        source: str,
        resource: str,
        table_name: str,
        validator: RecordValidator,
        mapper: Optional[Mapper],
        run_id: str,
        primary_key: Union[str, Sequence[str]],
        write_disposition: str,
        redactor: Optional[Redactor] = None,
        on_dead_letter: Optional[Callable[[str], None]] = None,
        now: Clock = utc_now,
    ) -> None:
        """Creates a guard for one resource.

        Args:
            source: Source name.
            resource: Resource name.
            table_name: Table the records load into.
            validator: Checks each (mapped) record.
            mapper: Turns a raw record into the row to load; its exceptions dead-letter
                the record as ``mapping failed: <ExcType>: <message>``.
            run_id: Id of the current run, stored with each dead letter.
            primary_key: Primary key of ``table_name``.
            write_disposition: Write disposition of ``table_name``.
            redactor: Masks secrets; the process-wide one by default.
            on_dead_letter: Called with the (redacted) reason of every dead letter.
            now: Clock for ``failed_at``.
        """
        self.source = source
        self.resource = resource
        self.table_name = table_name
        self._validator = validator
        self._mapper = mapper
        self._run_id = run_id
        self._primary_key = _as_names(primary_key)
        self._write_disposition = write_disposition
        self._redactor = redactor or global_redactor()
        self._on_dead_letter = on_dead_letter
        self._now = now
        self._lock = threading.Lock()
        self._dead_lettered = 0

    def __repr__(self) -> str:
        return (
            f"RecordGuard(source={self.source!r}, resource={self.resource!r},"
            f" dead_lettered={self.dead_lettered})"
        )

    @property
    def dead_lettered(self) -> int:
        """How many records this guard dead-lettered so far."""
        with self._lock:
            return self._dead_lettered

    def admit(
        self, raw: Any, check: Optional[Callable[[Any], Optional[str]]] = None
    ) -> tuple[Optional[dict[str, Any]], Optional[str]]:
        """Decodes, maps and validates one record.

        Args:
            raw: The record as received.
            check: The validator's :meth:`~RecordValidator.checker` for this page (one
                schema lookup for many records); a fresh one when not given.

        Returns:
            ``(record, None)`` for a loadable record, ``(None, reason)`` otherwise.
        """
        record, reason = parse_json_record(raw)
        if reason:
            return None, reason
        if self._mapper is not None and isinstance(record, dict):
            try:
                record = self._mapper(record)
            except Exception as exc:  # noqa: BLE001 - any mapping error dead-letters the record
                return None, f"{MAPPING_FAILED}: {type(exc).__name__}: {exc}"
        reason = (check or self._validator.check)(record)
        if reason:
            return None, reason
        return record, None

    def filter(self, records: Iterable[Any]) -> Iterator[Union[dict[str, Any], DataItemWithMeta]]:
        """Yields each good record and a dead-letter item for each bad one, in order.

        Args:
            records: Raw records (decoded dicts or JSON text).

        Yields:
            Good records as dicts; dead letters as items routed to ``_dead_letters``.
        """
        router = _DeadLetterRouter()
        for raw in records:
            # a fresh checker per record: dlt may change the schema at every yield
            record, reason = self.admit(raw)
            if reason is None and record is not None:
                yield record
            else:
                yield from router.route(self._dead_letter(raw, reason or "rejected"))

    def batches(
        self, records: Iterable[Any], max_batch: int = DEFAULT_MAX_BATCH
    ) -> Iterator[Union[list[dict[str, Any]], DataItemWithMeta]]:
        """Like :meth:`filter`, but yields runs of good records as lists (faster in dlt).

        Args:
            records: Raw records (a page, or any iterable).
            max_batch: Largest list yielded, so a long iterable is not held in memory.

        Yields:
            Lists of good records, and dead-letter items between them, in order.
        """
        router = _DeadLetterRouter()
        batch: list[dict[str, Any]] = []
        check = self._validator.checker()
        for raw in records:
            record, reason = self.admit(raw, check)
            if reason is None and record is not None:
                batch.append(record)
                if len(batch) >= max_batch:
                    yield batch
                    batch = []
                    check = self._validator.checker()  # dlt may have changed the schema
                continue
            if batch:
                yield batch
                batch = []
            yield from router.route(self._dead_letter(raw, reason or "rejected"))
            check = self._validator.checker()
        if batch:
            yield batch

    def reject(self, raw: Any, reason: str) -> Iterator[DataItemWithMeta]:
        """Dead-letters a record refused after admission (e.g. by the columnar step).

        Args:
            raw: The record as received.
            reason: One line without values.

        Yields:
            The dead-letter items for dlt.
        """
        yield from _DeadLetterRouter().route(self._dead_letter(raw, reason))

    def _dead_letter(self, raw: Any, reason: str) -> dict[str, Any]:
        row = dead_letter_row(
            source=self.source,
            resource=self.resource,
            table_name=self.table_name,
            payload=raw,
            reason=reason,
            run_id=self._run_id,
            primary_key=self._primary_key,
            write_disposition=self._write_disposition,
            redactor=self._redactor,
            now=self._now,
        )
        with self._lock:
            self._dead_lettered += 1
        logger.warning(
            "%s",
            self._redactor.redact_text(
                f"dead letter: source={self.source} resource={self.resource}"
                f" table={self.table_name} record_id={row['record_id']}"
                f" dead_letter_id={row['dead_letter_id']} reason={row['reason']}"
            ),
        )
        if self._on_dead_letter is not None:
            self._on_dead_letter(row["reason"])
        return row


class _DeadLetterRouter:
    """Yields the dlt items for the dead letters of one generator run.

    The first dead letter goes out with the variant hints (no columns), then the
    column declaration; later ones only name the table, which is cheaper for dlt.
    """

    def __init__(self) -> None:
        self._declared = False

    def route(self, row: dict[str, Any]) -> Iterator[DataItemWithMeta]:
        if self._declared:
            yield dlt.mark.with_table_name(row, DEAD_LETTERS_TABLE)
            return
        yield dead_letter_item(row)
        yield dead_letter_columns_item()
        self._declared = True


_replay_lock = threading.Lock()
_replay_mappers: dict[tuple[str, str], ReplayMapper] = {}


def register_replay_mapper(source: str, resource: str, fn: ReplayMapper) -> None:
    """Registers how the payloads of a resource are mapped when dead letters are replayed.

    A connector whose resource maps raw records (``RecordGuard(mapper=...)``) registers
    the same mapping - or a fixed one - so replay turns stored raw payloads into rows.

    Args:
        source: Source name as stored in ``_dead_letters.source``.
        resource: Resource name as stored in ``_dead_letters.resource``.
        fn: Takes the decoded payload (or the raw text when it is not JSON) and returns
            the record to validate and load; may raise to keep the letter invalid.
    """
    with _replay_lock:
        _replay_mappers[(source, resource)] = fn


def unregister_replay_mapper(source: str, resource: str) -> None:
    """Removes a replay mapper (no error when none is registered)."""
    with _replay_lock:
        _replay_mappers.pop((source, resource), None)


def replay_mapper_for(source: str, resource: str) -> Optional[ReplayMapper]:
    """The replay mapper registered for ``source``/``resource``, if any."""
    with _replay_lock:
        return _replay_mappers.get((source, resource))


_ROW_KEYS = frozenset(DEAD_LETTER_COLUMNS)


def _as_names(names: Union[str, Sequence[str], None]) -> tuple[str, ...]:
    if not names:
        return ()
    if isinstance(names, str):
        return tuple(part.strip() for part in names.split(",") if part.strip())
    return tuple(names)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
