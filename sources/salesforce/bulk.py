"""Bulk API 2.0 query jobs: create, poll until complete, read CSV results by locator.

Used for objects whose query matches more records than ``bulk_threshold``: one job
replaces thousands of 2000-record REST pages and counts a handful of API requests
against the daily limit.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sources.kit.errors import FatalError

from .client import SalesforceClient, raise_for_salesforce
from .settings import BULK_MAX_RECORDS, BULK_MAX_WAIT_S, BULK_POLL_INTERVAL_S, data_path

logger = logging.getLogger("sluice.salesforce")

DONE_STATES = frozenset({"JobComplete"})
FAILED_STATES = frozenset({"Failed", "Aborted"})
NO_MORE = "null"
"""``Sforce-Locator`` value after the last chunk."""


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
    """

    client: SalesforceClient
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    poll_interval_s: float = BULK_POLL_INTERVAL_S
    max_wait_s: float = BULK_MAX_WAIT_S
    max_records: int = BULK_MAX_RECORDS

    def pages(
        self, soql: str, *, label: str, include_deleted: bool = False
    ) -> Iterator[list[dict[str, str]]]:
        """Creates the job, waits for it and yields its CSV results chunk by chunk.

        Args:
            soql: The query (no COUNT(), no nested queries).
            label: Name the requests are counted under.
            include_deleted: ``queryAll`` (recycle bin included).

        Yields:
            Each results chunk as rows of text values (empty text for null).

        Raises:
            FatalError: The job failed, was aborted or did not finish in time.
        """
        job_id = self._create(soql, label, include_deleted)
        self._wait(job_id, label)
        locator = ""
        while True:
            rows, locator = self._chunk(job_id, label, locator)
            logger.info("salesforce %s: bulk chunk of %d record(s)", label, len(rows))
            yield rows
            if not locator or locator == NO_MORE:
                return

    def _hooks(self) -> dict[str, Any]:
        return {"response": [raise_for_salesforce, self.client.budget]}

    def _create(self, soql: str, label: str, include_deleted: bool) -> str:
        body = {"operation": "queryAll" if include_deleted else "query", "query": soql}
        response = self.client.rest_client(label).post(
            f"{data_path()}/jobs/query", json=body, hooks=self._hooks()
        )
        job_id = response.json().get("id")
        if not isinstance(job_id, str) or not job_id:
            raise FatalError("Salesforce Bulk API answered a query job without an id")
        logger.info("salesforce %s: bulk query job %s created", label, job_id)
        return job_id

    def _wait(self, job_id: str, label: str) -> None:
        deadline = self.clock() + self.max_wait_s
        while True:
            response = self.client.rest_client(label).get(
                f"{data_path()}/jobs/query/{job_id}", hooks=self._hooks()
            )
            state = str(response.json().get("state"))
            if state in DONE_STATES:
                return
            if state in FAILED_STATES:
                raise FatalError(
                    f"Salesforce Bulk API query job {job_id} ended {state}: "
                    f"{response.json().get('errorMessage') or 'no reason given'}"
                )
            if self.clock() >= deadline:
                raise FatalError(
                    f"Salesforce Bulk API query job {job_id} not complete after "
                    f"{self.max_wait_s:.0f}s (state {state}); rerun later"
                )
            self.sleep(self.poll_interval_s)

    def _chunk(self, job_id: str, label: str, locator: str) -> tuple[list[dict[str, str]], str]:
        params: dict[str, Any] = {"maxRecords": self.max_records}
        if locator:
            params["locator"] = locator
        response = self.client.rest_client(label).get(
            f"{data_path()}/jobs/query/{job_id}/results", params=params, hooks=self._hooks()
        )
        reader = csv.DictReader(io.StringIO(response.content.decode("utf-8")))
        return list(reader), response.headers.get("Sforce-Locator", NO_MORE)
