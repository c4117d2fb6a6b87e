"""Dot-paths into nested records: ``address.country``, ``items.data.0.price.unit_amount``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

LIST_ITEM: Final = "[]"
"""Segment standing for "any element of a list" in a normalised path."""


class _Missing:
    """Sentinel type for a path that does not exist in a record."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
"""Returned by :func:`lookup` when a key along the path is absent (unlike a ``null``)."""


def split_path(path: str) -> tuple[str, ...]:
    """Splits a dot-path into its segments.

    Args:
        path: ``"address.country"``.

    Returns:
        ``("address", "country")``.

    Raises:
        ValueError: The path is empty or has an empty segment.
    """
    segments = tuple(path.split("."))
    if not path or any(not s.strip() for s in segments):
        raise ValueError(f"invalid dot-path {path!r}")
    return segments


def lookup(record: Any, path: str) -> Any:
    """Reads the value at a dot-path; numeric segments index lists.

    Args:
        record: A decoded record (nested dicts and lists).
        path: Dot-path to read.

    Returns:
        The value (``None`` when a value along the path is ``null``), or :data:`MISSING`
        when a key is absent or an index is out of range.
    """
    current = record
    for segment in split_path(path):
        if current is None:
            return None
        if isinstance(current, Mapping):
            if segment not in current:
                return MISSING
            current = current[segment]
        elif isinstance(current, Sequence) and not isinstance(current, (str, bytes)):
            if not segment.isdigit() or int(segment) >= len(current):
                return MISSING
            current = current[int(segment)]
        else:
            return MISSING
    return current


def normalise_path(path: str) -> str:
    """The path with list indexes replaced by ``[]``, as :mod:`.drift` observes records.

    Args:
        path: ``"items.data.0.price"``.

    Returns:
        ``"items.data.[].price"``.
    """
    return ".".join(LIST_ITEM if s.isdigit() else s for s in split_path(path))
