"""Applying a mapping spec to one source record.

A record that misses a required field, or whose value a transform refuses, raises
:class:`MappingError` with one line naming the mapping, the target field, its source
and the transform. :class:`~sources.kit.deadletters.RecordGuard` turns that into a
``_dead_letters`` row (``mapping failed: MappingError: ...``) and the rest load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..errors import SkippableError
from .paths import MISSING, lookup
from .spec import FieldMapping, MappingSpec
from .transforms import TransformContext, TransformError, get_transform, utc_now

__all__ = ["MappingError", "RecordMapper", "apply_mapping"]


class MappingError(SkippableError):
    """One record cannot be mapped; the message names the field and the transform."""


def apply_mapping(
    spec: MappingSpec, record: Mapping[str, Any], now: Callable[[], datetime] = utc_now
) -> dict[str, Any]:
    """Maps one source record onto the spec's target model.

    Args:
        spec: The mapping.
        record: The decoded source record.
        now: Clock for the ``now`` transform (one reading per record).

    Returns:
        The target row: every mapped column, in field order.

    Raises:
        MappingError: A required field is missing or null, or a transform failed.
    """
    if not isinstance(record, Mapping):
        raise MappingError(f"mapping {spec.name}: record is {type(record).__name__}, not an object")
    moment = now()
    return {f.target: map_field(spec, f, record, lambda: moment) for f in spec.fields}


def map_field(
    spec: MappingSpec,
    mapping: FieldMapping,
    record: Mapping[str, Any],
    now: Callable[[], datetime],
) -> Any:
    """The value of one target column for ``record`` (see :func:`apply_mapping`)."""
    value = read_sources(mapping, record)
    state = "null after transform"
    if value is MISSING or value is None:
        if mapping.default is not None:
            return mapping.default
        state = "missing" if value is MISSING else "null"
        value = None
    context = TransformContext(args=mapping.args, now=now)
    for name in mapping.transform:
        try:
            value = get_transform(name)(value, context)
        except TransformError as exc:
            raise MappingError(
                f"mapping {spec.name}: field {mapping.target!r} "
                f"(source {_sources_label(mapping)}, transform {name!r}): {exc}"
            ) from exc
    if value is None and mapping.default is not None:
        return mapping.default
    return _check_required(spec, mapping, value, state)


def read_sources(mapping: FieldMapping, record: Mapping[str, Any]) -> Any:
    """The value(s) a field reads: one value, a tuple for ``sources``, or ``None``.

    Returns :data:`~sources.kit.mapping.paths.MISSING` when a single source path is
    absent, or when every path of ``sources`` is.
    """
    if mapping.source:
        return lookup(record, mapping.source)
    if not mapping.sources:
        return None
    values = [lookup(record, path) for path in mapping.sources]
    if all(v is MISSING for v in values):
        return MISSING
    return tuple(None if v is MISSING else v for v in values)


def _check_required(spec: MappingSpec, mapping: FieldMapping, value: Any, state: str) -> Any:
    if value is None and mapping.required:
        raise MappingError(
            f"mapping {spec.name}: required field {mapping.target!r} "
            f"(source {_sources_label(mapping)}, transform {mapping.transform_label}) is {state}"
        )
    return value


def _sources_label(mapping: FieldMapping) -> str:
    return ", ".join(repr(p) for p in mapping.source_paths) or "none"


class RecordMapper:
    """A spec bound to a clock: ``mapper(record) -> row``, for ``RecordGuard(mapper=...)``."""

    def __init__(self, spec: MappingSpec, now: Callable[[], datetime] = utc_now) -> None:
        """Binds ``spec`` to the clock ``now``."""
        self.spec = spec
        self._now = now

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        """Maps one record (raises :class:`MappingError`)."""
        return apply_mapping(self.spec, record, self._now)
