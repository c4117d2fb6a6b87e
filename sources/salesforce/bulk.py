"""Bulk API 2.0 query jobs: create, poll until complete, read CSV results by locator.

Used for objects whose query matches more records than ``bulk_threshold``: one job
replaces thousands of 2000-record REST pages and counts a handful of API requests
against the daily limit.

What the API asks of a job (https://developer.salesforce.com/docs/platform/api-asynch/
guide/query-create-job.md): no ORDER BY (it "disables PKChunking for the query ... and
potentially results in query timeouts", https://developer.salesforce.com/docs/platform/
api-asynch/guide/bulk-api-2-0-troubleshoot-query-timeouts.md), no compound address or
geolocation fields (left out by describe type, their components are queried). Results
are CSV in the job's ``columnDelimiter`` and ``lineEnding``, asked gzip-compressed, and
paged with ``Sforce-Locator``. A job that ends ``Failed`` or ``Aborted`` raises
:class:`BulkJobEnded` (its state and ``errorMessage`` in one line) before any record.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from sources.kit.errors import FatalError

from .client import SalesforceClient
from .settings import BULK_MAX_RECORDS, BULK_MAX_WAIT_S, BULK_POLL_INTERVAL_S, data_path

logger = logging.getLogger("sluice.salesforce")

DELIMITERS = {
    "BACKQUOTE": "`",
    "CARET": "^",
    "COMMA": ",",
    "PIPE": "|",
    "SEMICOLON": ";",
    "TAB": "\t",
}
"""``columnDelimiter`` values of a query job and the character each stands for."""
DONE_STATES = frozenset({"JobComplete"})
FAILED_STATES = frozenset({"Failed", "Aborted"})
NO_MORE = "null"
"""``Sforce-Locator`` value after the last chunk."""

ChunkShaper = Callable[[Sequence[str], Iterator[list[str]]], list[dict[str, Any]]]
"""Builds a chunk's records from its header and its rows of text cells."""


class BulkJobEnded(FatalError):
    """A query job ended ``Failed`` or ``Aborted``: nothing of it can be read."""


@dataclass
class BulkQuery:
    """Runs one query as a Bulk API 2.0 job through the client's resilient session.

    Attributes:
        client: The Salesforce client (session, auth, budget guard).
        sleep: Waits between status polls (injected in tests).
        clock: Monotonic seconds, for the wait limit.
        poll_interval_s: Seconds between status requests.
        max_wait_s: How long a job may take.
        max_records: Records per results request.
        column_delimiter: ``columnDelimiter`` asked of the job (COMMA by default).
        line_ending: ``lineEnding`` asked of the job (LF by default).
    """

    client: SalesforceClient
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    poll_interval_s: float = BULK_POLL_INTERVAL_S
    max_wait_s: float = BULK_MAX_WAIT_S
    max_records: int = BULK_MAX_RECORDS
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"

    def pages(
        self,
        soql: str,
        *,
        label: str,
        include_deleted: bool = False,
        shape: Optional[ChunkShaper] = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Creates the job, waits for it and yields its CSV results chunk by chunk.

        Args:
            soql: The query (no COUNT(), no nested queries).
            label: Name the requests are counted under.
            include_deleted: ``queryAll`` (recycle bin included).
            shape: Builds each chunk's records from its header and text rows (typed
                values in one pass); rows of text values when omitted.

        Yields:
            Each results chunk as records (text values, empty text for null, unless
            ``shape`` types them).

        Raises:
            BulkJobEnded: The job failed or was aborted.
            FatalError: The job did not finish in time.
        """
        job_id = self._create(soql, label, include_deleted)
        delimiter = self._wait(job_id, label)
        locator = ""
        while True:
            rows, locator = self._chunk(job_id, label, locator, delimiter, shape)
            logger.info("salesforce %s: bulk chunk of %d record(s)", label, len(rows))
            yield rows
            if not locator or locator == NO_MORE:
                return

    def _hooks(self) -> dict[str, Any]:
        return {"response": self.client.response_hooks()}

    def _create(self, soql: str, label: str, include_deleted: bool) -> str:
        body = {
            "operation": "queryAll" if include_deleted else "query",
            "query": soql,
            "columnDelimiter": self.column_delimiter,
            "lineEnding": self.line_ending,
        }
        response = self.client.rest_client(label).post(
            f"{data_path()}/jobs/query", json=body, hooks=self._hooks()
        )
        job_id = response.json().get("id")
        if not isinstance(job_id, str) or not job_id:
            raise FatalError("Salesforce Bulk API answered a query job without an id")
        logger.info("salesforce %s: bulk query job %s created", label, job_id)
        return job_id

    def _wait(self, job_id: str, label: str) -> str:
        """Polls until the job completes; the delimiter character it declares."""
        deadline = self.clock() + self.max_wait_s
        while True:
            response = self.client.get(f"{data_path()}/jobs/query/{job_id}", label=label)
            info = response.json()
            state = str(info.get("state"))
            if state in DONE_STATES:
                return declared_delimiter(info, self.column_delimiter)
            if state in FAILED_STATES:
                reason = " ".join(str(info.get("errorMessage") or "no reason given").split())
                raise BulkJobEnded(
                    f"Salesforce Bulk API query job {job_id} for {label} ended {state}: {reason}"
                )
            if self.clock() >= deadline:
                raise FatalError(
                    f"Salesforce Bulk API query job {job_id} not complete after "
                    f"{self.max_wait_s:.0f}s (state {state}); rerun later"
                )
            self.sleep(self.poll_interval_s)

    def _chunk(
        self,
        job_id: str,
        label: str,
        locator: str,
        delimiter: str,
        shape: Optional[ChunkShaper] = None,
    ) -> tuple[list[dict[str, Any]], str]:
        params: dict[str, Any] = {"maxRecords": self.max_records}
        if locator:
            params["locator"] = locator
        response = self.client.rest_client(label).get(
            f"{data_path()}/jobs/query/{job_id}/results",
            params=params,
            headers={"Accept": "text/csv", "Accept-Encoding": "gzip"},
            hooks=self._hooks(),
        )
        # requests inflates a gzip body (Content-Encoding: gzip) before .content.
        if shape is None:
            rows: list[dict[str, Any]] = list(parse_csv(response.content, delimiter))
        else:
            header, cells = csv_cells(response.content, delimiter)
            rows = shape(header, cells)
        return rows, response.headers.get("Sforce-Locator", NO_MORE)


def declared_delimiter(info: dict[str, Any], asked: str) -> str:
    """The delimiter character of the job's declared ``columnDelimiter`` (asked if none).

    Raises:
        FatalError: The job declares a delimiter the API does not document.
    """
    name = str(info.get("columnDelimiter") or asked)
    if name not in DELIMITERS:
        raise FatalError(f"Salesforce Bulk API job declares unknown columnDelimiter {name!r}")
    return DELIMITERS[name]


def parse_csv(content: bytes, delimiter: str) -> list[dict[str, str]]:
    """Rows of one results chunk; LF and CRLF line endings alike (``newline=""`` keeps
    line breaks inside quoted values)."""
    text = content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def csv_cells(content: bytes, delimiter: str) -> tuple[list[str], Iterator[list[str]]]:
    """The header of one results chunk and an iterator over its rows of text cells
    (no dict per row: a typing shaper builds the records in one pass)."""
    text = content.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    return header, (row for row in reader if row)
