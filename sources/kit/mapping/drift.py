"""Mapping drift: source fields a mapping uses that vanished or changed type, and
source fields no mapping uses.

:class:`FieldProfile` observes the records of one run (every dot-path, list elements
as ``[]``, with the JSON types seen). :func:`detect_drift` compares it with the
mapping's source paths and with the profile kept from earlier runs (the baseline):

* **missing**: a path the mapping reads is in none of the run's records (a ``null``
  parent, such as ``address`` for ``address.country``, counts as present);
* **retyped**: a path the mapping reads now carries a type the baseline never saw;
* **new unmapped**: paths that are new since the baseline and that no mapping reads
  (without a baseline only their number is reported: the first run sees them all).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from .paths import LIST_ITEM, normalise_path

__all__ = ["DriftReport", "FieldProfile", "detect_drift", "json_type"]

logger = logging.getLogger("sluice.mapping.drift")

MAX_DEPTH = 8
"""Deeper paths are not observed (no Stripe field a mapping reads is that deep)."""


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value (``integer`` apart from ``number``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


@dataclass
class FieldProfile:
    """Paths and types seen in a run's records.

    Attributes:
        records: Records observed.
        types: Normalised dot-path -> JSON types seen (``null`` included).
    """

    records: int = 0
    types: dict[str, set[str]] = field(default_factory=dict)

    def observe(self, record: Any) -> None:
        """Adds one record's paths and types."""
        self.records += 1
        if isinstance(record, Mapping):
            self._walk(record, "", 0)

    def paths(self) -> set[str]:
        """Every path seen."""
        return set(self.types)

    def has(self, path: str) -> bool:
        """Whether a path (or a null parent of it) was seen."""
        parts = normalise_path(path).split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in self.types:
                return end == len(parts) or "null" in self.types[prefix]
        return False

    def to_state(self) -> dict[str, list[str]]:
        """A JSON-able copy, to keep as the next run's baseline."""
        return {path: sorted(types) for path, types in sorted(self.types.items())}

    @classmethod
    def from_state(cls, state: Optional[Mapping[str, Sequence[str]]]) -> Optional[FieldProfile]:
        """Rebuilds a stored baseline (None when there is none)."""
        if not state:
            return None
        return cls(records=0, types={p: set(t) for p, t in state.items()})

    def merged_with(self, other: Optional[FieldProfile]) -> FieldProfile:
        """Union of both profiles (the baseline keeps what any run saw)."""
        types = {p: set(t) for p, t in self.types.items()}
        for path, seen in (other.types if other else {}).items():
            types.setdefault(path, set()).update(seen)
        return FieldProfile(self.records, types)

    def _walk(self, value: Any, prefix: str, depth: int) -> None:
        if depth >= MAX_DEPTH:
            return
        items: Iterable[tuple[str, Any]]
        if isinstance(value, Mapping):
            items = ((str(k), v) for k, v in value.items())
        else:
            items = ((LIST_ITEM, v) for v in value)
        for key, item in items:
            path = f"{prefix}.{key}" if prefix else key
            self.types.setdefault(path, set()).add(json_type(item))
            if isinstance(item, (Mapping, list, tuple)):
                self._walk(item, path, depth + 1)


@dataclass
class DriftReport:
    """What changed in the source under one mapping.

    Attributes:
        mapping: Mapping name.
        records: Records the run observed.
        missing: Mapped paths absent from every record.
        retyped: Mapped path -> (types before, types now).
        new_unmapped: Paths new since the baseline that no mapping reads.
        unmapped_count: All observed leaf paths no mapping reads.
    """

    mapping: str
    records: int
    missing: list[str] = field(default_factory=list)
    retyped: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    new_unmapped: list[str] = field(default_factory=list)
    unmapped_count: int = 0

    @property
    def has_drift(self) -> bool:
        """Whether a mapped field vanished or changed type."""
        return bool(self.missing or self.retyped)

    def lines(self) -> list[str]:
        """One line per finding, for logs and the run summary."""
        out = [
            f"mapping {self.mapping}: source field {p!r} is in none of {self.records} record(s)"
            " (removed or renamed upstream?)"
            for p in self.missing
        ]
        out.extend(
            f"mapping {self.mapping}: source field {p!r} changed type "
            f"{'/'.join(before)} -> {'/'.join(now)}"
            for p, (before, now) in self.retyped.items()
        )
        if self.new_unmapped:
            out.append(
                f"mapping {self.mapping}: {len(self.new_unmapped)} new unmapped source field(s): "
                + ", ".join(self.new_unmapped)
            )
        return out

    def log(self) -> None:
        """WARNING for drift of mapped fields, INFO for new unmapped fields."""
        for line in self.lines():
            level = logging.INFO if "new unmapped" in line else logging.WARNING
            logger.log(level, "%s", line)


def detect_drift(
    mapping: str,
    mapped_paths: Iterable[str],
    profile: FieldProfile,
    baseline: Optional[FieldProfile],
    used_elsewhere: Iterable[str] = (),
) -> DriftReport:
    """Compares a run's profile with the paths a mapping reads and the baseline.

    Args:
        mapping: Mapping name (for the report).
        mapped_paths: Dot-paths the mapping reads.
        profile: What this run's records held.
        baseline: What earlier runs held (None on the first run).
        used_elsewhere: Paths other mappings of the same resource read.

    Returns:
        The report; empty when nothing was observed (no records, no verdict).
    """
    report = DriftReport(mapping=mapping, records=profile.records)
    if profile.records == 0:
        return report
    mapped = [normalise_path(p) for p in mapped_paths]
    for path in mapped:
        if not profile.has(path):
            report.missing.append(path)
        elif baseline is not None and path in baseline.types and path in profile.types:
            before = _non_null(baseline.types[path])
            now = _non_null(profile.types[path])
            if before and now - before:
                report.retyped[path] = (sorted(before), sorted(now))
    used = set(mapped) | {normalise_path(p) for p in used_elsewhere}
    unmapped = sorted(p for p in _leaves(profile) if not _covered(p, used))
    report.unmapped_count = len(unmapped)
    if baseline is not None:
        report.new_unmapped = [p for p in unmapped if p not in baseline.types]
    return report


def _non_null(types: Iterable[str]) -> set[str]:
    return {t for t in types if t != "null"}


def _leaves(profile: FieldProfile) -> list[str]:
    """Paths holding scalars, or containers nothing was seen inside."""
    containers = {"object", "array"}
    return [
        path
        for path, types in profile.types.items()
        if _non_null(types) - containers or not _has_children(path, profile)
    ]


def _has_children(path: str, profile: FieldProfile) -> bool:
    prefix = path + "."
    return any(p.startswith(prefix) for p in profile.types)


def _covered(path: str, used: set[str]) -> bool:
    return path in used or any(path.startswith(u + ".") for u in used)
