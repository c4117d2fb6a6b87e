"""The columnar last step of a connector resource: typed Arrow tables from record pages.

:class:`sources.kit.columnar.ArrowPages` types values into the Arrow types of dlt's
``text``, ``bigint``, ``double``, ``bool``, ``date``, ``json`` and epoch-second
``timestamp`` columns. Connector APIs send more: exact decimals (Salesforce currency),
ISO timestamps with milliseconds and wall-clock times as text. :class:`CastingPages`
lets ArrowPages carry those columns as text and casts each page's columns in Arrow
afterwards, so a value lands exactly as dlt's normalizer would load it (microseconds
kept, ``decimal(precision, scale)``). A page Arrow cannot cast is handed back to dlt's
normalizer whole, which then decides as it always did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

import dlt
import pyarrow as pa
from dlt.common.arithmetics import DEFAULT_NUMERIC_PRECISION, DEFAULT_NUMERIC_SCALE
from dlt.common.data_types.type_helpers import coerce_value
from dlt.common.normalizers.naming.snake_case import NamingConvention as SnakeCaseNaming
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.items import DataItemWithMeta

from sources.kit.columnar import ArrowPages, ColumnarStep, Page
from sources.kit.deadletters import RecordGuard
from sources.kit.monitor import SyncMonitor

__all__ = ["CAST_TYPES", "CastingPages", "columnar_step"]

logger = logging.getLogger("sluice.connector")

CAST_TYPES = frozenset({"decimal", "timestamp", "time"})
"""dlt types carried as text through ArrowPages and cast per page in Arrow."""

UTC_MICROS = pa.timestamp("us", tz="UTC")
NAIVE_MICROS = pa.timestamp("us")
TIME_MICROS = pa.time64("us")


def source_naming() -> Any:
    """The naming convention of the source being built (snake case outside one)."""
    try:
        return dlt.current.source_schema().naming
    except Exception:  # noqa: BLE001 - no source context (unit tests): dlt's default
        return SnakeCaseNaming()


class CastingPages(ArrowPages):
    """ArrowPages whose decimal, timestamp and time columns are cast in Arrow per page.

    Example:
        ```python
        pages = CastingPages("account", declared=column_hints(spec))
        page = pages.convert(records)  # amount as decimal128(18, 2), stamps in us
        ```
    """

    def __init__(
        self,
        table_name: str,
        *,
        declared: Mapping[str, TColumnSchema],
        naming: Any = None,
        **kwargs: Any,
    ) -> None:
        """Creates the converter of one resource.

        Args:
            table_name: The root table.
            declared: The resource's column hints (API field names; normalized here).
            naming: The source's naming convention (the current source's by default).
            **kwargs: Further :class:`ArrowPages` arguments.
        """
        naming = naming or source_naming()
        named: dict[str, TColumnSchema] = {}
        for name, hint in declared.items():
            column = str(naming.normalize_path(str(hint.get("name") or name)))
            named[column] = {**hint, "name": column}  # type: ignore[typeddict-item]
        self._casts: dict[str, pa.DataType] = {
            name: arrow_type_of(hint)
            for name, hint in named.items()
            if hint.get("data_type") in CAST_TYPES
        }
        as_text: dict[str, TColumnSchema] = {
            name: ({**hint, "data_type": "text"} if name in self._casts else hint)  # type: ignore[misc]
            for name, hint in named.items()
        }
        super().__init__(table_name, declared=as_text, **kwargs)

    def convert(self, records: Sequence[Any]) -> Page:
        """Shapes one page, then casts its text-carried columns to their declared types.

        Args:
            records: Records as dicts (admitted by the guard already).

        Returns:
            The page; when a value cannot be cast, every convertible record is handed
            back as a record for dlt's normalizer instead.
        """
        page = super().convert(records)
        if not self._casts or not page.items:
            return page
        try:
            page.items = [self._cast_item(item) for item in page.items]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, TypeError) as exc:
            logger.info("%s: page left to dlt's normalizer: %s", self.table_name, exc)
            refused = {id(raw) for raw, _ in page.rejected}
            handed = [r for r in records if id(r) not in refused]
            return Page(records=handed, rejected=page.rejected)
        return page

    def _cast_item(self, item: Any) -> Any:
        if isinstance(item, DataItemWithMeta):
            return DataItemWithMeta(item.meta, self._cast_table(item.data))
        return self._cast_table(item)

    def _cast_table(self, table: pa.Table) -> pa.Table:
        for name, target in self._casts.items():
            index = table.schema.get_field_index(name)
            if index < 0:
                continue
            field = table.schema.field(index)
            column = cast_text(table.column(index), target)
            table = table.set_column(index, pa.field(name, target, field.nullable), column)
        return table


def arrow_type_of(hint: TColumnSchema) -> pa.DataType:
    """The Arrow type a cast column ends in, as dlt writes it to parquet."""
    data_type = hint.get("data_type")
    if data_type == "decimal":
        precision = hint.get("precision") or DEFAULT_NUMERIC_PRECISION
        scale = hint.get("scale")
        return pa.decimal128(precision, DEFAULT_NUMERIC_SCALE if scale is None else scale)
    if data_type == "time":
        return TIME_MICROS
    return UTC_MICROS


def cast_text(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Text values in ``target`` (naive timestamps are UTC, as dlt reads them).

    Raises:
        pa.ArrowInvalid: A value is not of the type (or does not fit its scale).
    """
    if pa.types.is_timestamp(target):
        try:
            return column.cast(target)
        except pa.ArrowInvalid:  # no zone offset (ServiceNow glide time): UTC
            return column.cast(NAIVE_MICROS).cast(target)
    if pa.types.is_time(target):
        # Arrow has no text-to-time cast; dlt's own coercion, per value (rare columns).
        values = [
            None if v is None else coerce_value("time", "text", v) for v in column.to_pylist()
        ]
        return pa.chunked_array([pa.array(values, type=target)])
    return column.cast(target)


def columnar_step(
    resource: str,
    guard: RecordGuard,
    monitor: SyncMonitor,
    columns: Mapping[str, TColumnSchema],
    *,
    unique_key: Optional[str] = None,
    pages: Optional[Callable[..., ArrowPages]] = None,
    **step_options: Any,
) -> ColumnarStep:
    """The standard last step of a connector resource: record pages into Arrow tables.

    Args:
        resource: Resource (and root table) name, as the ledger counts it.
        guard: The resource's dead-letter guard (refused records are dead-lettered).
        monitor: The run ledger (refused and repeated records are taken off ``loaded``).
        columns: The resource's declared column hints.
        unique_key: Pass each value of this key once per run; only for a resource
            merged on that single key whose first copy in a run is the one to keep.
        pages: Builds the converter (:class:`CastingPages` by default).
        **step_options: Further :class:`ColumnarStep` options (``child_tables``, ``lists``).

    Returns:
        The step for :func:`sources.kit.columnar.add_columnar_step`.
    """

    def correct_ledger(refused: int) -> None:
        monitor.record(resource, loaded=-refused, dead_lettered=refused, pages=0)

    def drop_repeats(repeated: int) -> None:
        monitor.record(resource, loaded=-repeated, pages=0)

    converter = (pages or CastingPages)(resource, declared=columns)
    return ColumnarStep(
        converter,
        guard,
        on_rejected=correct_ledger,
        unique_key=unique_key,
        on_duplicates=drop_repeats if unique_key else None,
        **step_options,
    )
