"""A local spool of raw records, filled as a dlt map step during the raw load.

:meth:`RecordSpool.tee` returns a function for ``resource.add_map``: it copies every
record the resource yields (dead letters excluded) to a JSON-lines file per resource
and passes the record on unchanged, so the raw load is unaffected. The canonical load
reads the files back after the raw load succeeded.

Given a ``directory`` of its own (the pipeline's working folder), the spool is durable:
records of a run whose canonical load failed stay on disk and are mapped by the next
run, together with its own, and :meth:`RecordSpool.clear` empties it only after a
successful canonical load. Reading keeps the last copy of each object id, so an object
spooled by two runs is mapped once, at its newest state.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Optional

from dlt.common.json import json

from ..columnar import RecordPage, columnar_step_index
from ..deadletters import is_dead_letter_row
from .spec import MappingSpec

__all__ = ["RecordSpool", "tee_mapped_resources"]


class RecordSpool:
    """JSON-lines files of raw records, one per resource, in a private temp folder."""

    def __init__(self, directory: Optional[Path] = None) -> None:
        """Spools into ``directory`` (a new temp folder, removed on close, by default)."""
        self._owned = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="sluice_spool_"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._handles: dict[str, IO[str]] = {}

    def __enter__(self) -> RecordSpool:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the files; removes the folder if the spool created it."""
        self.flush()
        with self._lock:
            for handle in self._handles.values():
                handle.close()
            self._handles.clear()
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)

    def tee(self, resource: str) -> Callable[[Any], Any]:
        """A ``resource.add_map`` step copying each record of ``resource`` to the spool."""

        def copy_record(item: Any) -> Any:
            if isinstance(item, RecordPage):
                for record in item.records:
                    self.add(resource, record)
            elif isinstance(item, dict) and not is_dead_letter_row(item):
                self.add(resource, item)
            return item

        return copy_record

    def add(self, resource: str, record: dict[str, Any]) -> None:
        """Appends one record."""
        line = json.dumps(record) + "\n"
        with self._lock:
            handle = self._handles.get(resource)
            if handle is None:
                handle = self._handles[resource] = self._path(resource).open("a", encoding="utf-8")
            handle.write(line)
            self._counts[resource] = self._counts.get(resource, 0) + 1

    def flush(self) -> None:
        """Writes buffered records to disk."""
        with self._lock:
            for handle in self._handles.values():
                handle.flush()

    def count(self, resource: str) -> int:
        """Records spooled for ``resource``."""
        with self._lock:
            return self._counts.get(resource, 0)

    def records(self, resource: str) -> Iterator[Any]:
        """The spooled records of ``resource``: the last copy of each id, in arrival order."""
        self.flush()
        path = self._path(resource)
        if not path.exists():
            return
        latest: dict[Any, Any] = {}
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                record = json.loads(line)
                key = record.get("id") if isinstance(record, dict) else None
                latest.pop(key if key is not None else ("line", number), None)
                latest[key if key is not None else ("line", number)] = record
        yield from latest.values()

    def clear(self) -> None:
        """Empties the spool after its records reached the canonical dataset."""
        with self._lock:
            for handle in self._handles.values():
                handle.close()
            self._handles.clear()
            self._counts.clear()
            for path in self.directory.glob("*.jsonl"):
                path.unlink()

    def _path(self, resource: str) -> Path:
        return self.directory / f"{resource}.jsonl"


def tee_mapped_resources(source: Any, spool: RecordSpool, specs: Sequence[MappingSpec]) -> None:
    """Adds a map step to each selected, mapped resource copying its records to ``spool``.

    Args:
        source: The dlt source of the raw load.
        spool: Where the records go until the canonical load.
        specs: The mappings; their ``source_resource`` names the resources to copy.
    """
    for name in dict.fromkeys(spec.source_resource for spec in specs):
        resource = source.resources.get(name)
        if resource is not None and resource.selected:
            # before a columnar step: the spool wants records, not Arrow tables
            resource.add_map(spool.tee(name), insert_at=columnar_step_index(resource))
