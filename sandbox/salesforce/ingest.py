"""Bulk API 2.0 ingest jobs: create, upload CSV, close, poll, read the result CSVs.

The lifecycle follows "Bulk API 2.0 Ingest" (https://developer.salesforce.com/docs/
platform/api-asynch/guide/bulk-api-2-0-ingest.html): ``POST /jobs/ingest`` creates a job
in state ``Open``; ``PUT /jobs/ingest/<id>/batches`` uploads CSV (201 Created, as
simple-salesforce's ``upload_job_data`` expects); ``PATCH /jobs/ingest/<id>`` with
``{"state": "UploadComplete"}`` closes it ("If you don't make this request, processing of
your data does not start") or ``Aborted`` aborts it; ``GET /jobs/ingest/<id>`` reports
``numberRecordsProcessed``/``numberRecordsFailed``; ``successfulResults/`` (``sf__Id``,
``sf__Created``, the uploaded columns), ``failedResults/`` (``sf__Id``, ``sf__Error``, the
uploaded columns) and ``unprocessedrecords/`` (the uploaded columns) give the per-record
outcome (get_job_successful_results.htm, get_job_failed_results.htm); ``DELETE`` removes
the job. Records are written when the job reaches ``JobComplete``, after ``polls`` status
requests, so an abort before that leaves everything unprocessed.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from .bulk import DELIMITERS, LINE_ENDINGS, csv_text
from .schema import API_VERSION, OBJECTS
from .store import sf_datetime
from .writes import Writer, WriteResult

Clock = Callable[[], float]
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
NULL_MARKER = "#N/A"
"""A CSV cell setting a field to null ("To set a field value to null, use #N/A",
https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/
datafiles_csv_valid_record_rows.htm); an empty cell leaves the field as it is."""
TERMINAL = ("JobComplete", "Failed", "Aborted")

Reply = tuple[int, Any]


def _error(status: int, code: str, message: str) -> Reply:
    return status, [{"message": message, "errorCode": code}]


@dataclass
class IngestJob:
    """One ingest job: its settings, uploaded rows and, once complete, their results."""

    id: str
    object_name: str
    operation: str
    external_id_field: Optional[str]
    column_delimiter: str
    line_ending: str
    created_by: str
    created_at: float
    state: str = "Open"
    polls_left: int = 0
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    results: list[WriteResult] = field(default_factory=list)
    error_message: Optional[str] = None

    def info(self) -> dict[str, Any]:
        """The job info body (get_job_info.htm's fields)."""
        failed = sum(1 for r in self.results if not r.success)
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object_name,
            "createdById": self.created_by,
            "createdDate": sf_datetime(self.created_at),
            "systemModstamp": sf_datetime(self.created_at),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(API_VERSION.removeprefix("v")),
            "jobType": "V2Ingest",
            "contentUrl": f"services/data/{API_VERSION}/jobs/ingest/{self.id}/batches",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            # Processed counts failed records too (they were processed, and failed).
            "numberRecordsProcessed": len(self.results),
            "numberRecordsFailed": failed,
            "retries": 0,
            "totalProcessingTime": 0,
        }
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


class IngestJobs:
    """The org's ingest jobs; thread-safe."""

    def __init__(self, writer: Writer, polls: int, now: Clock) -> None:
        """Creates the registry.

        Args:
            writer: Applies the records.
            polls: Status requests a closed job answers ``InProgress`` before it runs.
            now: The clock (unix seconds).
        """
        self.writer = writer
        self.polls = polls
        self.now = now
        self.created = 0
        self.end_next: Optional[tuple[str, str]] = None
        """``(state, errorMessage)`` the next closed job ends in instead of running
        (``Failed``: nothing written, every row unprocessed)."""
        self._jobs: dict[str, IngestJob] = {}
        self._lock = threading.RLock()

    def job(self, job_id: str) -> Optional[IngestJob]:
        """A job by id (no poll counted)."""
        return self._jobs.get(job_id)

    def answer(self, method: str, rest: str, body: bytes, user: str) -> Reply:
        """Answers ``jobs/ingest[/<id>[/<resource>]]``."""
        parts = rest.strip("/").split("/")[2:]
        with self._lock:
            if method == "POST" and not parts:
                return self._create(body, user)
            job = self._jobs.get(parts[0]) if parts else None
            if job is None:
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            if len(parts) == 1:
                return self._one(method, job, body)
            resource = parts[1].lower()
            if method == "PUT" and resource == "batches":
                return self._upload(job, body)
            if method == "GET" and resource in (
                "successfulresults",
                "failedresults",
                "unprocessedrecords",
            ):
                return self._results(job, resource)
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    # ------------------------------------------------------------------ routes

    def _create(self, body: bytes, user: str) -> Reply:
        try:
            spec = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "JSON_PARSER_ERROR", "The request body is not JSON")
        if not isinstance(spec, dict):
            return _error(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
        object_name = str(spec.get("object"))
        operation = spec.get("operation")
        delimiter = str(spec.get("columnDelimiter") or "COMMA")
        line_ending = str(spec.get("lineEnding") or "LF")
        if object_name not in OBJECTS:
            return _error(400, "INVALIDJOB", f"InvalidJob : Invalid object: {object_name}")
        if operation not in OPERATIONS:
            return _error(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            return _error(400, "INVALIDJOB", "invalid columnDelimiter or lineEnding")
        key = spec.get("externalIdFieldName")
        if operation == "upsert" and key not in {f.name for f in OBJECTS[object_name]}:
            return _error(
                400, "INVALIDJOB", f"InvalidJob : External ID was blank or invalid: {key}"
            )
        self.created += 1
        job = IngestJob(
            f"7501{self.created:014d}",
            object_name,
            operation,
            key if operation == "upsert" else None,
            delimiter,
            line_ending,
            user,
            self.now(),
        )
        self._jobs[job.id] = job
        return 200, job.info()

    def _one(self, method: str, job: IngestJob, body: bytes) -> Reply:
        if method == "GET":
            self._advance(job)
            return 200, job.info()
        if method == "DELETE":
            if job.state == "Open":
                return _error(400, "INVALIDJOBSTATE", "Job must be closed before deletion")
            del self._jobs[job.id]
            return 204, None
        if method != "PATCH":
            return _error(405, "METHOD_NOT_ALLOWED", f"HTTP method '{method}' not allowed")
        try:
            wanted = json.loads(body or b"{}").get("state")
        except (ValueError, AttributeError):
            return _error(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
        if wanted == "Aborted" and job.state not in TERMINAL:
            job.state = "Aborted"
        elif wanted == "UploadComplete" and job.state == "Open":
            job.state, job.polls_left = "UploadComplete", self.polls
            if self.polls <= 0:
                self._advance(job)
        else:
            return _error(400, "INVALIDJOBSTATE", f"Cannot set state {wanted} from {job.state}")
        return 200, job.info()

    def _upload(self, job: IngestJob, body: bytes) -> Reply:
        if job.state != "Open":
            return _error(400, "INVALIDJOBSTATE", "Job is not open for uploads")
        text = body.decode("utf-8-sig")
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=DELIMITERS[job.column_delimiter]
        )
        rows = [row for row in reader if row]
        if not rows:
            return _error(400, "INVALIDBATCH", "InvalidBatch : no header row")
        header, data = rows[0], rows[1:]
        if job.header and header != job.header:
            return _error(
                400, "INVALIDBATCH", "InvalidBatch : header differs from the first upload"
            )
        job.header = header
        job.rows.extend(data)
        return 201, None

    def _results(self, job: IngestJob, resource: str) -> Reply:
        if resource != "unprocessedrecords" and job.state != "JobComplete":
            return _error(400, "INVALIDJOBSTATE", "job is not complete")
        delimiter = DELIMITERS[job.column_delimiter]
        ending = LINE_ENDINGS[job.line_ending]
        columns = tuple(job.header)
        if resource == "unprocessedrecords":
            rows = job.rows[len(job.results) :]
            return 200, csv_text(
                columns, [dict(zip(job.header, r, strict=False)) for r in rows], delimiter, ending
            )
        success = resource == "successfulresults"
        picked = [
            (result, row)
            for result, row in zip(job.results, job.rows, strict=False)
            if result.success == success
        ]
        extra = ("sf__Id", "sf__Created") if success else ("sf__Id", "sf__Error")
        out = []
        for result, row in picked:
            values: dict[str, Any] = dict(zip(job.header, row, strict=False))
            # Failed updates and deletes still name their record (the Id column).
            values["sf__Id"] = result.id or values.get("Id", "")
            if success:
                values["sf__Created"] = result.created
            else:
                values["sf__Error"] = " ".join(
                    f"{e.status_code}:{e.message}:{','.join(e.fields)} --" for e in result.errors
                )
            out.append(values)
        return 200, csv_text(extra + columns, out, delimiter, ending)

    # --------------------------------------------------------------- running

    def _advance(self, job: IngestJob) -> None:
        """One status poll: ``UploadComplete``/``InProgress`` until run, then the end."""
        if job.state not in ("UploadComplete", "InProgress"):
            return
        if job.polls_left > 0:
            job.polls_left -= 1
            job.state = "InProgress"
            return
        if self.end_next is not None:
            job.state, job.error_message = self.end_next
            self.end_next = None
            return
        job.results = self._run(job)
        job.state = "JobComplete"

    def _run(self, job: IngestJob) -> list[WriteResult]:
        records = [self._fields(job, row) for row in job.rows]
        user = job.created_by
        if job.operation in ("delete", "hardDelete"):
            ids = [str(r.get("Id") or "") for r in records]
            return self.writer.delete(ids, False, hard=job.operation == "hardDelete")
        if job.operation == "insert":
            return self.writer.create([(job.object_name, r) for r in records], False, user)
        if job.operation == "update":
            return self.writer.update([(job.object_name, r) for r in records], False, user)
        key = str(job.external_id_field)
        return self.writer.upsert(job.object_name, key, records, False, user)

    @staticmethod
    def _fields(job: IngestJob, row: list[str]) -> dict[str, Any]:
        types = {f.name: f.type for f in OBJECTS[job.object_name]}
        values: dict[str, Any] = {}
        for name, text in zip(job.header, row, strict=False):
            if text == "":
                continue  # an empty cell leaves the field alone
            values[name] = None if text == NULL_MARKER else _typed(types.get(name), text)
        return values


def _typed(kind: Optional[str], text: str) -> Any:
    """A CSV cell as the field's type (numbers, booleans; text as is)."""
    try:
        if kind in ("int",):
            return int(text)
        if kind in ("double", "currency", "percent"):
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        return text.strip().lower() in ("true", "1")
    return text


__all__ = ["IngestJob", "IngestJobs"]
