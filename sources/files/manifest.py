"""Which listed files a run reads: the manifest in dlt state, the settle time, markers.

The manifest (``files`` in the drop's resource state, committed by dlt with the load
that carries the rows) maps each path to the size, modification time and sha256 of the
content last loaded. Size and time unchanged: not even downloaded. Changed but the same
hash (a touch, a copy): recorded, not loaded. New content: loaded again.
"""

from __future__ import annotations

import enum
import logging
import posixpath
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

logger = logging.getLogger("sluice.files")

NAME_PLACEHOLDER = "{name}"


class Verdict(enum.Enum):
    """What a run does with one listed file."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    UNSETTLED = "unsettled"


@dataclass(frozen=True)
class Listed:
    """A file as the bucket listed it (from dlt's ``FileItem``).

    Attributes:
        path: Path relative to the drop's bucket URL (the manifest key, ``_file_name``).
        url: Full URL to open it with the drop's filesystem.
        size: Bytes.
        modified: Modification time, UTC.
    """

    path: str
    url: str
    size: int
    modified: datetime

    @classmethod
    def from_file_item(cls, item: Mapping[str, Any]) -> Listed:
        """From dlt's ``FileItem`` (``dlt/common/storages/fsspec_filesystem.py``)."""
        modified = item["modification_date"]
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=timezone.utc)
        return cls(
            path=item["relative_path"],
            url=item["file_url"],
            size=int(item.get("size_in_bytes") or 0),
            modified=modified.astimezone(timezone.utc),
        )


def manifest_entry(listed: Listed, sha256: str, rows: int, loaded_at: datetime) -> dict[str, Any]:
    """What the manifest keeps of a file once read (JSON-safe: dlt state is JSON)."""
    return {
        "size": listed.size,
        "modified": listed.modified.isoformat(),
        "sha256": sha256,
        "rows": rows,
        "loaded_at": loaded_at.isoformat(),
    }


def verdict(
    listed: Listed,
    manifest: Mapping[str, Any],
    *,
    now: datetime,
    settle_s: float,
    marker_present: Callable[[Listed], bool],
) -> tuple[Verdict, str]:
    """Whether to read a listed file, and why (for the log line).

    A file whose size and time match the manifest is unchanged. Otherwise it is read
    only when settled: last modified at least ``settle_s`` ago (a writer still
    appending keeps moving its time) and, when the drop has one, its marker present.
    """
    entry = manifest.get(listed.path)
    if entry and entry["size"] == listed.size and entry["modified"] == listed.modified.isoformat():
        return Verdict.UNCHANGED, "size and modification time as loaded"
    age = (now - listed.modified).total_seconds()
    if age < settle_s:
        return Verdict.UNSETTLED, f"modified {age:.0f}s ago, settle time is {settle_s:.0f}s"
    if not marker_present(listed):
        return Verdict.UNSETTLED, "its completion marker is missing"
    return (Verdict.CHANGED if entry else Verdict.NEW), "settled"


def marker_url(listed: Listed, marker: str) -> str:
    """Where the marker of a file is: ``{name}.done`` beside it, or a folder's ``_SUCCESS``."""
    folder, name = posixpath.split(listed.url)
    if NAME_PLACEHOLDER in marker:
        return posixpath.join(folder, marker.replace(NAME_PLACEHOLDER, name))
    return posixpath.join(folder, marker)


def is_marker(path: str, marker: Optional[str]) -> bool:
    """Whether a listed path is a marker file rather than data."""
    if not marker:
        return False
    name = posixpath.basename(path)
    if NAME_PLACEHOLDER in marker:
        prefix, _, suffix = marker.partition(NAME_PLACEHOLDER)
        return name.startswith(prefix) and name.endswith(suffix) and name != marker
    return name == marker


def remember(
    manifest: MutableMapping[str, Any],
    listed: Listed,
    sha256: str,
    rows: int,
    loaded_at: datetime,
) -> None:
    """Records a file as read (or as the same content under a new time)."""
    manifest[listed.path] = manifest_entry(listed, sha256, rows, loaded_at)
