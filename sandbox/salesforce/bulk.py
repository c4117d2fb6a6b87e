"""Bulk API 2.0 query jobs: create, poll until ``JobComplete``, CSV results by locator."""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass
from typing import Any, Optional

from .soql import Query, SoqlError, parse
from .store import Store

DEFAULT_POLLS = 2
"""Status requests a job answers ``InProgress`` before ``JobComplete``."""


@dataclass
class Job:
    """One query job and its (snapshotted) result rows."""

    id: str
    operation: str
    query: Query
    rows: list[dict[str, Any]]
    polls_left: int

    @property
    def state(self) -> str:
        """``InProgress`` until polled enough, then ``JobComplete``."""
        return "JobComplete" if self.polls_left <= 0 else "InProgress"

    def info(self) -> dict[str, Any]:
        """The job info body."""
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.query.object_name,
            "state": self.state,
            "contentType": "CSV",
            "numberRecordsProcessed": len(self.rows) if self.state == "JobComplete" else 0,
        }


def csv_text(fields: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    """Rows as Bulk API CSV: every value quoted, null empty, booleans lower case."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([cell(row.get(name)) for name in fields])
    return out.getvalue()


def cell(value: Any) -> str:
    """One CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BulkJobs:
    """The org's query jobs; thread-safe."""

    def __init__(self, store: Store, polls: int = DEFAULT_POLLS) -> None:
        """Creates the registry; each job completes after ``polls`` status requests."""
        self.store = store
        self.polls = polls
        self.created = 0
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def create(self, body: Any) -> Job:
        """Creates a job from ``{"operation": "query"|"queryAll", "query": soql}``.

        Raises:
            SoqlError: Bad operation or query.
        """
        if not isinstance(body, dict) or body.get("operation") not in ("query", "queryAll"):
            raise SoqlError("INVALIDJOB", "operation must be query or queryAll")
        query = parse(str(body.get("query") or ""))
        if query.count:
            raise SoqlError("INVALIDJOB", "COUNT() is not supported in Bulk API queries")
        include_deleted = body["operation"] == "queryAll"
        rows = query.run(self.store.rows(query.object_name, include_deleted))
        with self._lock:
            self.created += 1
            job = Job(f"750{self.created:015d}", body["operation"], query, rows, self.polls)
            self._jobs[job.id] = job
        return job

    def status(self, job_id: str) -> Optional[Job]:
        """The job, one poll closer to completion (None when unknown)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.polls_left > 0:
                job.polls_left -= 1
            return job

    def results(
        self, job_id: str, locator: Optional[str], max_records: int
    ) -> tuple[str, Optional[str], int]:
        """One CSV chunk: text, the next locator (None at the end), records in it.

        Raises:
            KeyError: Unknown job.
            SoqlError: Job not complete or bad locator.
        """
        with self._lock:
            job = self._jobs[job_id]
        if job.state != "JobComplete":
            raise SoqlError("INVALIDJOB", "job is not complete")
        start = int(locator) if locator and locator.isdigit() else 0
        if locator and not locator.isdigit():
            raise SoqlError("INVALID_LOCATOR", "invalid locator")
        end = start + max_records
        chunk = job.rows[start:end]
        following = str(end) if end < len(job.rows) else None
        return csv_text(job.query.fields, chunk), following, len(chunk)
