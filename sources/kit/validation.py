"""Decides, record by record, whether dlt can load a record exactly as declared.

:class:`RecordValidator` answers one question per record: would dlt load this record
into its table *as declared*? "Declared" means the primary key, the fields the
connector requires, and the data type of every column dlt already knows - from the
resource's column hints and from the live dlt schema (which also holds the types
inferred on previous runs). A value dlt cannot coerce to the known type would end in
a variant column (``amount__v_text``) or, under a ``data_type`` contract, fail or be
discarded; the validator flags it first so the record can be dead-lettered instead.

Coercion mimics dlt's normalizer (``JsonLItemsNormalizer._coerce_row`` and
``_coerce_non_null_value``): nested dicts are flattened to ``parent__child`` columns
with the schema's naming convention, dicts under a ``json`` column and lists are left
alone (lists become child tables), and each value is coerced with dlt's own
``coerce_value``. Reasons are one line and never contain field values, so they are
safe to log and store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import dlt
from dlt.common.data_types.type_helpers import (
    PY_TYPE_TO_SC_TYPE,
    coerce_value,
    py_type_to_sc_type,
)
from dlt.common.data_types.typing import TDataType
from dlt.common.json import json
from dlt.common.normalizers.naming import NamingConvention
from dlt.common.normalizers.naming.snake_case import NamingConvention as SnakeCaseNaming
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns

logger = logging.getLogger(__name__)

SchemaGetter = Callable[[], Optional[dlt.Schema]]
"""Returns the live dlt schema of the source, or ``None`` when there is none yet."""

DEFAULT_MAX_NESTING = 1000
"""dlt's default ``max_nesting``: how deep nested dicts are flattened into columns."""

DLT_COLUMN_PREFIX = "_dlt"
"""Columns dlt adds itself (``_dlt_id``, ``_dlt_load_id``...); never checked."""

EMPTY_KEY = "_empty"
"""The column name dlt gives to an empty or blank key."""

JSON_TYPE: TDataType = "json"


def current_source_schema() -> Optional[dlt.Schema]:
    """Returns the schema of the source being extracted, or ``None`` outside extraction.

    A ready-made ``schema_getter`` for :class:`RecordValidator`: inside a resource it is
    the live schema a ``data_type`` contract compares against, including the columns
    inferred on previous runs.
    """
    try:
        return dlt.current.source_schema()
    except Exception:  # noqa: BLE001 - outside extraction dlt raises its own context errors
        return None


def parse_json_record(raw: Any) -> tuple[Any, Optional[str]]:
    """Decodes a record that arrived as JSON text; passes anything else through.

    Args:
        raw: A record as received: a decoded object, or ``str``/``bytes`` JSON text.

    Returns:
        ``(decoded, None)`` on success or for non-text input, ``(raw, reason)`` when the
        text is not valid JSON.
    """
    if not isinstance(raw, (str, bytes, bytearray)):
        return raw, None
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        return json.loads(text), None
    except (ValueError, UnicodeDecodeError) as exc:
        return raw, f"unparseable JSON: {_one_line(str(exc))}"


def describe_type(value: Any) -> str:
    """Names the JSON kind of ``value`` for a reason (``object``, ``array``, ``str``...)."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    if value is None:
        return "null"
    return type(value).__name__


@dataclass(frozen=True)
class TableRules:
    """What the validator checks for one table, resolved once and cached.

    Attributes:
        types: Known data type per normalized column name.
        not_null: Non-nullable columns other than the primary key and dlt's own.
        max_nesting: How many levels of nested dicts dlt flattens into columns.
    """

    types: Mapping[str, TDataType]
    not_null: frozenset[str]
    max_nesting: int


class RecordValidator:
    """Checks that a record can be loaded as declared; cheap enough to run per record.

    Example:
        ```python
        validator = RecordValidator(
            primary_key=["id"],
            columns={"created": {"data_type": "timestamp"}},
            schema_getter=current_source_schema,
            table_name="charges",
            required=["created"],
        )
        reason = validator.check(record)  # None when the record is fine
        ```
    """

    def __init__(
        self,
        primary_key: Sequence[str],
        columns: Optional[Mapping[str, TColumnSchema]],
        schema_getter: Optional[SchemaGetter],
        table_name: str,
        required: Sequence[str] = (),
        strict_types: Optional[Mapping[str, Union[type, tuple[type, ...]]]] = None,
        check_columns: bool = True,
    ) -> None:
        """Creates a validator for one table.

        Args:
            primary_key: Primary key columns; each must be present and not null.
            columns: The resource's declared column hints (``columns=`` of the resource).
            schema_getter: Returns the live dlt schema (see :func:`current_source_schema`);
                called on every check, so a schema that appears or grows mid-run is seen.
            table_name: The table the records load into.
            required: Further fields that must be present and not null (e.g. the
                incremental cursor).
            strict_types: Top-level fields whose Python type must match exactly, for
                values dlt could coerce but code compares as they are (an incremental
                cursor ``created`` that must stay ``int``). ``bool`` never passes as
                ``int`` unless listed.
            check_columns: Check every column's type and nullability. Off when a later
                step checks them anyway (the columnar step types every value); keys,
                required fields and strict types are always checked.
        """
        self.table_name = table_name
        self._primary_key = _as_names(primary_key)
        self._required = _as_names(required)
        self._declared = dict(columns or {})
        self._schema_getter = schema_getter
        self._strict_types = dict(strict_types or {})
        self._check_columns = check_columns
        self._naming_cache: dict[int, _Naming] = {}
        self._rules_key: Optional[tuple[int, int, int, int]] = None
        self._rules: Optional[TableRules] = None
        self._rules_schema: Optional[dlt.Schema] = None
        self._pk_names: tuple[str, ...] = ()
        self._required_names: tuple[str, ...] = ()

    def check(self, record: Any) -> Optional[str]:
        """Tells why ``record`` cannot be loaded as declared.

        Args:
            record: The record as it would be yielded to dlt.

        Returns:
            A one-line reason, or ``None`` when the record is fine.
        """
        return self.checker()(record)

    def checker(self) -> Callable[[Any], Optional[str]]:
        """:meth:`check` bound to the live schema as it is now.

        A page of records is checked against one lookup of the schema, its naming and
        the table's rules (dlt's context lookup per record cost more than the checks);
        take a new checker once dlt may have changed the schema (after a yield).
        """
        schema = self._live_schema()
        naming = self._naming_for(schema)
        rules = self._rules_for(schema, naming)

        def check(record: Any) -> Optional[str]:
            reason = self._violation(record, naming, rules)
            if reason or not isinstance(record, dict):
                return reason
            return self.extra_violation(record)

        return check

    def extra_violation(self, record: dict[str, Any]) -> Optional[str]:
        """A connector's own rule, checked after the kit's (none here).

        Args:
            record: A record that passed the kit's checks.

        Returns:
            A one-line reason, or ``None``.
        """
        return None

    def _violation(self, record: Any, naming: _Naming, rules: TableRules) -> Optional[str]:
        if not isinstance(record, dict):
            _, parse_error = parse_json_record(record)
            if parse_error:
                return parse_error
            return f"expected a JSON object, got {describe_type(record)}"
        if not self._check_columns:
            return self._key_violation(self._top_level(record)) or self._strict_type_violation(
                record
            )
        flat = naming.flatten(record, rules)
        return (
            self._key_violation(flat)
            or self._strict_type_violation(record)
            or _type_violation(flat, rules.types)
            or _not_null_violation(flat, rules.not_null)
        )

    def _top_level(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The key and required fields, under their column names (they are top-level)."""
        names = zip(
            self._primary_key + self._required, self._pk_names + self._required_names, strict=True
        )
        return {normalized: record[key] for key, normalized in names if key in record}

    def _live_schema(self) -> Optional[dlt.Schema]:
        if self._schema_getter is None:
            return None
        try:
            return self._schema_getter()
        except Exception:  # noqa: BLE001 - a missing schema only means fewer known types
            logger.debug("schema getter failed; validating %s without it", self.table_name)
            return None

    def _naming_for(self, schema: Optional[dlt.Schema]) -> _Naming:
        key = id(schema.naming) if schema is not None else 0
        naming = self._naming_cache.get(key)
        if naming is None:
            naming = self._naming_cache[key] = _Naming(schema)
        return naming

    def _rules_for(self, schema: Optional[dlt.Schema], naming: _Naming) -> TableRules:
        table = schema.tables.get(naming.table(self.table_name)) if schema is not None else None
        columns = table["columns"] if table is not None else None
        key = (
            id(schema),
            id(columns),
            len(columns) if columns is not None else -1,
            id(naming),
        )
        if self._rules is None or key != self._rules_key or self._rules_schema is not schema:
            self._rules = _resolve_rules(self._declared, columns, schema, naming, self.table_name)
            self._rules_key = key
            self._rules_schema = schema
            self._pk_names = tuple(naming.column(name) for name in self._primary_key)
            self._required_names = tuple(naming.column(name) for name in self._required)
        return self._rules

    def _key_violation(self, flat: Mapping[str, Any]) -> Optional[str]:
        for name, normalized in zip(self._primary_key, self._pk_names, strict=True):
            reason = _missing_or_null(flat, normalized, f"primary key '{name}'")
            if reason:
                return reason
        for name, normalized in zip(self._required, self._required_names, strict=True):
            reason = _missing_or_null(flat, normalized, f"required field '{name}'")
            if reason:
                return reason
        return None

    def _strict_type_violation(self, record: Mapping[str, Any]) -> Optional[str]:
        for name, expected in self._strict_types.items():
            value = record.get(name)
            if value is None:
                continue
            allowed = expected if isinstance(expected, tuple) else (expected,)
            if isinstance(value, bool) and bool not in allowed:
                return f"field '{name}' must be {_type_names(allowed)}, got bool"
            if not isinstance(value, allowed):
                return f"field '{name}' must be {_type_names(allowed)}, got {type(value).__name__}"
        return None


class _Naming:
    """Column and table naming exactly as dlt's relational normalizer applies it."""

    def __init__(self, schema: Optional[dlt.Schema]) -> None:
        self._schema = schema
        self.naming: NamingConvention = schema.naming if schema is not None else SnakeCaseNaming()
        config = schema._normalizers_config if schema is not None else {}
        self._break_path = bool(config.get("use_break_path_on_normalize", True))
        json_config = (config.get("json") or {}).get("config") or {}
        self.max_nesting = int(json_config.get("max_nesting", DEFAULT_MAX_NESTING))
        self._columns: dict[str, str] = {}
        self._tables: dict[str, str] = {}
        self._paths: dict[tuple[str, ...], str] = {}
        self._preferred_json: dict[str, bool] = {}

    def table(self, name: str) -> str:
        """Normalized table name (cached)."""
        normalized = self._tables.get(name)
        if normalized is None:
            if self._break_path:
                normalized = self.naming.normalize_tables_path(name)
            else:
                normalized = self.naming.normalize_table_identifier(name)
            self._tables[name] = normalized
        return normalized

    def column(self, key: str) -> str:
        """Normalized column name of a record key (cached: it runs for every field)."""
        normalized = self._columns.get(key)
        if normalized is None:
            normalized = self._normalize_key(key)
            self._columns[key] = normalized
        return normalized

    def path(self, *fragments: str) -> str:
        """Name of a flattened nested column, ``parent__child``."""
        name = self._paths.get(fragments)
        if name is None:
            name = self._paths[fragments] = self.naming.shorten_fragments(*fragments)
        return name

    def flatten(self, record: Mapping[str, Any], rules: TableRules) -> dict[str, Any]:
        """Flattens nested dicts into columns the way dlt does; lists are left out.

        Args:
            record: The record.
            rules: Known types (a ``json`` column keeps its dict whole).

        Returns:
            Normalized column name to value, for the root table only.
        """
        flat: dict[str, Any] = {}
        stack: list[tuple[Mapping[str, Any], int, tuple[str, ...]]] = [
            (record, rules.max_nesting, ())
        ]
        while stack:
            row, level, path = stack.pop()
            for key, value in row.items():
                norm_key = self.column(key)
                name = norm_key if not path else self.path(*path, norm_key)
                value_type = type(value)
                if value_type is dict or value_type is list:
                    if not self._keeps_whole(name, level, rules):
                        if value_type is dict:
                            stack.append((value, level - 1, path + (norm_key,)))
                        continue
                flat[name] = value
        return flat

    def _keeps_whole(self, name: str, level: int, rules: TableRules) -> bool:
        if level <= 0:
            return True
        known = rules.types.get(name)
        if known is not None:
            return known == JSON_TYPE
        return self._preferred_json_type(name)

    def _preferred_json_type(self, name: str) -> bool:
        cached = self._preferred_json.get(name)
        if cached is None:
            preferred = self._schema.get_preferred_type(name) if self._schema is not None else None
            cached = self._preferred_json[name] = preferred == JSON_TYPE
        return cached

    def _normalize_key(self, key: Any) -> str:
        text = key if isinstance(key, str) else str(key)
        if not text or text.isspace():
            return EMPTY_KEY
        if self._break_path:
            return self.naming.normalize_path(text)
        return self.naming.normalize_identifier(text)


def _resolve_rules(
    declared: Mapping[str, TColumnSchema],
    live_columns: Optional[TTableSchemaColumns],
    schema: Optional[dlt.Schema],
    naming: _Naming,
    table_name: str,
) -> TableRules:
    """Merges the live schema's columns with the declared hints (hints win, as in dlt)."""
    merged: dict[str, dict[str, Any]] = {}
    for name, live in (live_columns or {}).items():
        merged[name] = dict(live)
    for name, hint in declared.items():
        normalized = naming.column(str(hint.get("name") or name))
        merged.setdefault(normalized, {}).update({k: v for k, v in hint.items() if k != "name"})
    types: dict[str, TDataType] = {}
    not_null: set[str] = set()
    for name, column in merged.items():
        if name.startswith(DLT_COLUMN_PREFIX) or column.get("variant"):
            continue
        data_type = column.get("data_type")
        if data_type:
            types[name] = data_type
        if column.get("nullable") is False and not column.get("primary_key"):
            not_null.add(name)
    max_nesting = naming.max_nesting
    if schema is not None:
        table = schema.tables.get(naming.table(table_name))
        normalizer_hints: Mapping[str, Any] = (table or {}).get("x-normalizer") or {}
        table_nesting = normalizer_hints.get("max_nesting")
        if table_nesting is not None:
            max_nesting = int(table_nesting)
    return TableRules(types=types, not_null=frozenset(not_null), max_nesting=max_nesting)


def _type_violation(flat: Mapping[str, Any], types: Mapping[str, TDataType]) -> Optional[str]:
    if not types:
        return None
    for name, value in flat.items():
        if value is None:
            continue
        data_type = types.get(name)
        if data_type is None:
            continue
        reason = coercion_violation(name, value, data_type)
        if reason:
            return reason
    return None


def coercion_violation(name: str, value: Any, data_type: TDataType) -> Optional[str]:
    """Tells whether dlt would coerce ``value`` into column ``name`` of ``data_type``.

    Mirrors dlt's normalizer: an exact type match passes, otherwise ``coerce_value`` must
    succeed and must not yield a variant; anything else would land in a variant column.

    Args:
        name: Column name, for the reason.
        value: A non-null value.
        data_type: The column's known dlt data type.

    Returns:
        A reason without the value, or ``None`` when dlt would load it as declared.
    """
    value_type = PY_TYPE_TO_SC_TYPE.get(type(value))
    if value_type is None:
        try:
            value_type = py_type_to_sc_type(type(value))
        except TypeError:
            return f"column '{name}': unsupported value type {type(value).__name__}"
    if value_type == data_type:
        return None
    try:
        coerced = coerce_value(data_type, value_type, value)
    except Exception:  # noqa: BLE001 - dlt sends any failed coercion to a variant (or fails)
        return f"column '{name}': {value_type} value is not coercible to {data_type}"
    if callable(coerced) and isinstance(coerced(), tuple):
        return f"column '{name}': {value_type} value would go to a variant column"
    return None


def _not_null_violation(flat: Mapping[str, Any], not_null: frozenset[str]) -> Optional[str]:
    for name in not_null:
        if flat.get(name) is None:
            return f"column '{name}' is not nullable but is missing or null"
    return None


def _missing_or_null(flat: Mapping[str, Any], name: str, label: str) -> Optional[str]:
    if name not in flat:
        return f"{label} is missing"
    if flat[name] is None:
        return f"{label} is null"
    return None


def _as_names(names: Union[str, Sequence[str], None]) -> tuple[str, ...]:
    if not names:
        return ()
    if isinstance(names, str):
        return (names,)
    return tuple(names)


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in types)


def _one_line(text: str) -> str:
    return " ".join(text.split())
