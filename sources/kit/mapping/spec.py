"""Mapping specs: which source field feeds which canonical column, and how.

A mapping is data, not code. It lives in a TOML file::

    [mapping]
    name = "stripe_charges"
    source_system = "stripe"
    source_resource = "charges"
    target_model = "canonical_payments"

    [[fields]]
    target = "amount"
    sources = ["amount", "currency"]          # dot-paths into the source record
    transform = "minor_units_to_decimal"      # or a list, applied in order
    required = true

    [[fields]]
    target = "status"
    source = "status"
    transform = "enum"
    args = { values = { succeeded = "succeeded" }, default = "unknown" }

:func:`load_mapping` checks everything it can before a record is seen (known model and
columns, registered transforms, NOT NULL columns covered) and fails with one
:class:`~sources.kit.errors.ConfigurationError` line naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..errors import ConfigurationError
from .models import CANONICAL_MODELS, CanonicalModel
from .paths import split_path
from .transforms import is_registered, registered_transforms

__all__ = ["FieldMapping", "MappingSpec", "load_mapping", "load_mappings", "parse_mapping"]

FIELD_KEYS = frozenset({"target", "source", "sources", "transform", "args", "required", "default"})
HEADER_KEYS = frozenset(
    {
        "name",
        "source_system",
        "source_resource",
        "target_model",
        "description",
        "superseded_by",
        "children_of",
    }
)


@dataclass(frozen=True)
class FieldMapping:
    """How one target column is filled.

    Attributes:
        target: Column of the target model.
        source: Dot-path read from the source record (one value).
        sources: Dot-paths read together (the transform gets a tuple).
        transform: Transform names applied in order (empty: copy the value).
        args: Arguments every transform of this field receives.
        required: A missing or null result dead-letters the record.
        default: Value used when the source value is missing or null.
    """

    target: str
    source: Optional[str] = None
    sources: tuple[str, ...] = ()
    transform: tuple[str, ...] = ()
    args: Mapping[str, Any] = field(default_factory=dict)
    required: bool = False
    default: Any = None

    @property
    def source_paths(self) -> tuple[str, ...]:
        """Every dot-path this field reads."""
        return (self.source,) if self.source else self.sources

    @property
    def transform_label(self) -> str:
        """The transforms as one label (``trim > lower``), ``copy`` when none."""
        return " > ".join(self.transform) or "copy"


@dataclass(frozen=True)
class MappingSpec:
    """A source resource mapped onto a canonical model.

    Attributes:
        name: Unique name (``stripe_charges``).
        source_system: System the records come from (``stripe``).
        source_resource: Resource (table) of that system (``charges``).
        target_model: Canonical model it fills.
        fields: Field mappings in column order.
        description: One line for the docs.
        origin: File the spec was loaded from (for messages).
        superseded_by: Dot-path of a reference to the record(s) that represent this one
            in the model once it is set (a payment intent's ``latest_charge``): a record
            with that value set has its canonical row removed, so nothing is counted twice.
        children_of: Target column naming the parent of a child table replaced per
            parent (``subscription_source_id``): canonical rows of the parents a load
            holds that are not among its rows are removed.
    """

    name: str
    source_system: str
    source_resource: str
    target_model: CanonicalModel
    fields: tuple[FieldMapping, ...]
    description: str = ""
    origin: str = "<memory>"
    superseded_by: Optional[str] = None
    children_of: Optional[str] = None

    def source_paths(self) -> list[str]:
        """Every source dot-path the mapping reads, in field order, without repeats."""
        paths = [p for f in self.fields for p in f.source_paths]
        if self.superseded_by:
            paths.append(self.superseded_by)
        return list(dict.fromkeys(paths))


def load_mappings(directory: Path) -> list[MappingSpec]:
    """Loads every ``*.toml`` mapping in a directory, sorted by file name.

    Raises:
        ConfigurationError: A file is invalid, or two mappings share a name.
    """
    specs = [load_mapping(path) for path in sorted(Path(directory).glob("*.toml"))]
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.name in seen:
            raise ConfigurationError(
                f"mapping name {spec.name!r} is used by {seen[spec.name]} and {spec.origin}"
            )
        seen[spec.name] = spec.origin
    return specs


def load_mapping(path: Path) -> MappingSpec:
    """Reads and checks one TOML mapping file.

    Raises:
        ConfigurationError: The file is unreadable, not TOML, or the spec is invalid.
    """
    origin = str(path)
    try:
        # tomlkit (a dlt dependency), not tomllib: that is Python 3.11+ and we support 3.10
        data = tomlkit.parse(Path(path).read_text(encoding="utf-8")).unwrap()
    except OSError as exc:
        raise ConfigurationError(f"mapping file {origin}: cannot read it ({exc})") from exc
    except TOMLKitError as exc:
        raise ConfigurationError(f"mapping file {origin}: invalid TOML ({exc})") from exc
    return parse_mapping(data, origin)


def parse_mapping(data: Mapping[str, Any], origin: str = "<memory>") -> MappingSpec:
    """Builds a spec from decoded TOML (or any dict of the same shape).

    Raises:
        ConfigurationError: Naming ``origin`` and the offending field.
    """
    header = data.get("mapping")
    if not isinstance(header, Mapping):
        raise ConfigurationError(f"mapping file {origin}: missing the [mapping] table")
    _reject_unknown(header, HEADER_KEYS, f"mapping file {origin}: [mapping]")
    for key in ("name", "source_system", "source_resource", "target_model"):
        if not isinstance(header.get(key), str) or not header[key]:
            raise ConfigurationError(f"mapping file {origin}: [mapping] needs {key} as text")
    model = CANONICAL_MODELS.get(header["target_model"])
    if model is None:
        raise ConfigurationError(
            f"mapping file {origin}: unknown target_model {header['target_model']!r}; "
            f"choose from: {', '.join(CANONICAL_MODELS)}"
        )
    superseded_by = header.get("superseded_by")
    if superseded_by is not None:
        if not isinstance(superseded_by, str):
            raise ConfigurationError(f"mapping file {origin}: superseded_by must be a dot-path")
        _check_path(superseded_by, f"mapping file {origin}: superseded_by")
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise ConfigurationError(f"mapping file {origin}: no [[fields]] declared")
    fields = tuple(_parse_field(raw, i, model, origin) for i, raw in enumerate(raw_fields, 1))
    _check_coverage(fields, model, origin)
    children_of = header.get("children_of")
    if children_of is not None and children_of not in {f.target for f in fields}:
        raise ConfigurationError(
            f"mapping file {origin}: children_of must name a mapped target column"
        )
    return MappingSpec(
        name=header["name"],
        source_system=header["source_system"],
        source_resource=header["source_resource"],
        target_model=model,
        fields=fields,
        description=str(header.get("description", "")),
        origin=origin,
        superseded_by=superseded_by,
        children_of=children_of,
    )


def _parse_field(raw: Any, index: int, model: CanonicalModel, origin: str) -> FieldMapping:
    where = f"mapping file {origin}: field #{index}"
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where} is not a table")
    target = raw.get("target")
    if not isinstance(target, str) or not target:
        raise ConfigurationError(f"{where} needs target as text")
    where = f"mapping file {origin}: field {target!r}"
    _reject_unknown(raw, FIELD_KEYS, where)
    if target not in model.columns:
        raise ConfigurationError(f"{where}: {model.name} has no column {target!r}")
    source, sources = _parse_sources(raw, where)
    transform = _parse_transforms(raw.get("transform"), where)
    if sources and not transform:
        raise ConfigurationError(f"{where}: sources need a transform that combines them")
    if not source and not sources and not transform and "default" not in raw:
        raise ConfigurationError(f"{where}: needs a source, sources, a transform or a default")
    args = raw.get("args", {})
    if not isinstance(args, Mapping):
        raise ConfigurationError(f"{where}: args must be a table")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise ConfigurationError(f"{where}: required must be true or false")
    return FieldMapping(
        target=target,
        source=source,
        sources=sources,
        transform=transform,
        args=dict(args),
        required=required,
        default=raw.get("default"),
    )


def _parse_sources(raw: Mapping[str, Any], where: str) -> tuple[Optional[str], tuple[str, ...]]:
    source, sources = raw.get("source"), raw.get("sources")
    if source is not None and sources is not None:
        raise ConfigurationError(f"{where}: give source or sources, not both")
    if source is not None:
        if not isinstance(source, str):
            raise ConfigurationError(f"{where}: source must be a dot-path")
        _check_path(source, where)
        return source, ()
    if sources is None:
        return None, ()
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise ConfigurationError(f"{where}: sources must be a list of dot-paths")
    for path in sources:
        _check_path(path, where)
    return None, tuple(sources)


def _check_path(path: str, where: str) -> None:
    try:
        split_path(path)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc


def _parse_transforms(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigurationError(f"{where}: transform must be a name or a list of names")
    for name in names:
        if not is_registered(name):
            raise ConfigurationError(
                f"{where}: unknown transform {name!r}; registered: "
                f"{', '.join(registered_transforms())}"
            )
    return tuple(names)


def _check_coverage(fields: Sequence[FieldMapping], model: CanonicalModel, origin: str) -> None:
    targets = [f.target for f in fields]
    duplicates = sorted({t for t in targets if targets.count(t) > 1})
    if duplicates:
        raise ConfigurationError(
            f"mapping file {origin}: column(s) mapped twice: {', '.join(duplicates)}"
        )
    by_target = {f.target: f for f in fields}
    for column in model.required_columns():
        mapped = by_target.get(column)
        if mapped is None:
            raise ConfigurationError(
                f"mapping file {origin}: NOT NULL column {column!r} of {model.name} is not mapped"
            )
        if not mapped.required and mapped.default is None:
            raise ConfigurationError(
                f"mapping file {origin}: field {column!r} fills a NOT NULL column of "
                f"{model.name}: set required = true or a default"
            )


def _reject_unknown(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
