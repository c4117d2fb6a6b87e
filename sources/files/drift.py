"""A header that changes between the files of one drop: logged once and kept in state."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from .settings import MAX_DRIFT_RECORDS

logger = logging.getLogger("sluice.files")


@dataclass(frozen=True)
class HeaderDrift:
    """Columns a file has that the drop's previous file had not, and the reverse."""

    file: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


def header_drift(
    previous: Optional[Sequence[str]], header: Sequence[str], file: str
) -> Optional[HeaderDrift]:
    """The drift of ``header`` against the last header seen (None for the first file)."""
    if previous is None:
        return None
    before, now = set(previous), set(header)
    added = tuple(c for c in header if c not in before)
    removed = tuple(c for c in previous if c not in now)
    if not added and not removed:
        return None
    return HeaderDrift(file, added, removed)


def record_drift(
    state: MutableMapping[str, Any],
    drop: str,
    header: Sequence[str],
    file: str,
    seen_at: datetime,
) -> Optional[HeaderDrift]:
    """Compares with the drop's last header, logs a change in one line, keeps it in state.

    ``state["header"]`` is the last header read; ``state["drift"]`` the newest changes
    (file, added, removed, when), so ``sluice`` tools and tests can read them back.
    """
    drift = header_drift(state.get("header"), header, file)
    state["header"] = list(header)
    if drift is None:
        return None
    logger.warning(
        "files %s: header drift in %s: added [%s] removed [%s]",
        drop,
        file,
        ", ".join(drift.added),
        ", ".join(drift.removed),
    )
    history = list(state.get("drift") or [])
    history.append(
        {
            "file": file,
            "added": list(drift.added),
            "removed": list(drift.removed),
            "seen_at": seen_at.isoformat(),
        }
    )
    state["drift"] = history[-MAX_DRIFT_RECORDS:]
    return drift
