"""A dead-letter stand-in for the columnar step's tests: it records the reasons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class RecordingRejecter:
    """Keeps each refused record's reason and yields no dead-letter items."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def reject(self, raw: Any, reason: str) -> Iterator[Any]:
        """Records ``reason``."""
        self.reasons.append(reason)
        yield from ()
