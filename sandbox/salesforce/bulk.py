"""Bulk API 2.0 query jobs: create, poll until ``JobComplete``, CSV results by locator.

Job options and limits follow "Create a Query Job"
(https://developer.salesforce.com/docs/platform/api-asynch/guide/query-create-job.md):
``columnDelimiter`` (BACKQUOTE, CARET, COMMA, PIPE, SEMICOLON, TAB) and ``lineEnding``
(LF, CRLF) shape the CSV; compound address/geolocation fields are not supported. A
query with ORDER BY runs without PK chunking ("Use of ORDER BY in a Bulk 2.0 query
disables PKChunking", https://developer.salesforce.com/docs/platform/api-asynch/guide/
bulk-api-2-0-troubleshoot-query-timeouts.md): the sandbox counts such jobs.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass
from typing import Any, Optional

from .schema import OBJECTS
from .soql import Query, SoqlError, parse
from .store import Store

DEFAULT_POLLS = 2
"""Status requests a job answers ``InProgress`` before ``JobComplete``."""

DELIMITERS = {
    "BACKQUOTE": "`",
    "CARET": "^",
    "COMMA": ",",
    "PIPE": "|",
    "SEMICOLON": ";",
    "TAB": "\t",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
COMPOUND_TYPES = frozenset({"address", "location"})
COMPOUND_REFUSED = (
    # The refusal Salesforce gives (quoted in https://github.com/jsforce/jsforce/issues/380
    # and https://github.com/simple-salesforce/simple-salesforce/issues/182); the job
    # ends Failed with it as errorMessage.
    "FUNCTIONALITY_NOT_ENABLED: Selecting compound data not supported in Bulk Query"
)


@dataclass
class Job:
    """One query job and its (snapshotted) result rows."""

    id: str
    operation: str
    query: Query
    rows: list[dict[str, Any]]
    polls_left: int
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    end_state: str = "JobComplete"
    error_message: Optional[str] = None

    @property
    def state(self) -> str:
        """``InProgress`` until polled enough, then its end state (``JobComplete``,
        ``Failed`` or ``Aborted``)."""
        return self.end_state if self.polls_left <= 0 else "InProgress"

    def info(self) -> dict[str, Any]:
        """The job info body."""
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.query.object_name,
            "state": self.state,
            "contentType": "CSV",
            "columnDelimiter": self.column_delimiter,
            "lineEnding": self.line_ending,
            "numberRecordsProcessed": len(self.rows) if self.state == "JobComplete" else 0,
        }
        if self.state == "Failed" and self.error_message:
            body["errorMessage"] = self.error_message
        return body


def csv_text(
    fields: tuple[str, ...],
    rows: list[dict[str, Any]],
    delimiter: str = ",",
    line_ending: str = "\n",
) -> str:
    """Rows as Bulk API CSV: every value quoted, null empty, booleans lower case."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator=line_ending)
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
        self.ordered = 0
        """Jobs whose query had ORDER BY (no PK chunking on a real org)."""
        self.end_next: Optional[tuple[str, str]] = None
        """``(state, errorMessage)`` the next job ends in (``Failed``/``Aborted``)."""
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
        delimiter = str(body.get("columnDelimiter") or "COMMA")
        line_ending = str(body.get("lineEnding") or "LF")
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            raise SoqlError("INVALIDJOB", "invalid columnDelimiter or lineEnding")
        include_deleted = body["operation"] == "queryAll"
        rows = query.run(self.store.rows(query.object_name, include_deleted))
        with self._lock:
            self.created += 1
            self.ordered += 1 if query.order else 0
            job = Job(
                f"750{self.created:015d}",
                body["operation"],
                query,
                rows,
                self.polls,
                delimiter,
                line_ending,
            )
            if selects_compound(query):
                job.end_state, job.error_message = "Failed", COMPOUND_REFUSED
            elif self.end_next is not None:
                job.end_state, job.error_message = self.end_next
                self.end_next = None
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
        text = csv_text(
            job.query.fields,
            chunk,
            DELIMITERS[job.column_delimiter],
            LINE_ENDINGS[job.line_ending],
        )
        return text, following, len(chunk)


def selects_compound(query: Query) -> bool:
    """Whether the query selects a compound address or geolocation field."""
    types = {f.name: f.type for f in OBJECTS[query.object_name]}
    return any(types.get(name) in COMPOUND_TYPES for name in query.fields)
