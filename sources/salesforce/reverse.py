"""Reverse ETL into Salesforce: sObject Collections upsert, Bulk API 2.0 ingest above a size.

* Up to ``bulk_threshold`` writes in a run: ``PATCH /composite/sobjects/<Object>/<ExtId>``,
  200 records per call, ``allOrNone: false`` so each record succeeds or fails alone; the
  results come back in request order
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_upsert.htm).
  An upsert by external id is naturally idempotent: re-sending after a crash updates the
  same record.
* More: one Bulk API 2.0 ingest job per batch: create, upload CSV, ``UploadComplete``, poll,
  then read ``successfulResults``, ``failedResults`` and ``unprocessedrecords``
  (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0_ingest.htm).
* Mirror deletes: ``DELETE /composite/sobjects?ids=...&allOrNone=false`` by the Ids the
  upserts returned; an already deleted record counts as deleted (a re-sent delete).
* Update mode needs ``key.field = "Id"`` (Collections update by record id); append uses
  Collections create.

Loop prevention: with ``[target] token_field = "Sync_Token__c"`` every write also sets that
field to the change token; the inbound connector loads it with the record, and a sync
whose source carries it (``source.token_column``) recognises its own writes.
The connector's daily API budget guard runs on every answer (``client.response_hooks()``).
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from sources.kit.errors import ClientError, FatalError
from sources.kit.reverse.plan import CREATE, DELETE, UPDATE, Op
from sources.kit.reverse.spec import SyncSpec, SyncSpecError
from sources.kit.reverse.target import WriteResult

from .bulk import parse_csv
from .client import SalesforceClient
from .settings import BULK_MAX_WAIT_S, BULK_POLL_INTERVAL_S, data_path

logger = logging.getLogger("sluice.salesforce")

COLLECTION_LIMIT = 200  # "The list can contain up to 200 objects" (Collections upsert)
BULK_BATCH = 10_000
"""Records per ingest job (one commit unit of the engine)."""
BULK_NULL = "#N/A"  # Bulk API CSV: "#N/A" sets a field to null, an empty value leaves it
DONE, FAILED_STATES = "JobComplete", ("Failed", "Aborted")
ALREADY_DELETED = "ENTITY_IS_DELETED"


def error_text(errors: Any) -> str:
    """One line of a result's ``errors``: ``CODE: message (fields)``."""
    parts = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, Mapping):
            continue
        fields = ", ".join(error.get("fields") or [])
        text = f"{error.get('statusCode', 'ERROR')}: {error.get('message', '')}".strip()
        parts.append(f"{text} ({fields})" if fields else text)
    return "; ".join(parts) or "rejected without an error message"


@dataclass
class SalesforceTarget:
    """The Salesforce write side for :func:`sources.kit.reverse.engine.run_sync`.

    Attributes:
        client: The inbound connector's client (auth, budget guard, resilient session).
        bulk_threshold: Runs with more writes use Bulk API 2.0 ingest (the sync's
            ``options.bulk_threshold`` wins).
        poll_interval_s: Seconds between ingest job status polls.
        max_wait_s: Longest wait for one ingest job.
        clock: Monotonic clock for the wait (injected in tests).
    """

    client: SalesforceClient
    bulk_threshold: int = 10_000
    poll_interval_s: float = BULK_POLL_INTERVAL_S
    max_wait_s: float = BULK_MAX_WAIT_S
    clock: Callable[[], float] = time.monotonic
    connector: str = "salesforce"
    _spec: Optional[SyncSpec] = field(default=None, init=False)
    _bulk: bool = field(default=False, init=False)
    _label: str = field(default="", init=False)

    # ------------------------------------------------------------------ engine hooks

    def check(self, spec: SyncSpec) -> None:
        """Refuses syncs Salesforce cannot take (one line naming the key)."""
        if spec.mode == "update" and spec.key_field != "Id":
            raise SyncSpecError(
                'mode update never creates: set key.field = "Id" (or use mode upsert with '
                "an external id field)"
            )
        if spec.mode in ("upsert", "mirror") and spec.key_field == "Id":
            raise SyncSpecError("key.field must be an external id field for upsert and mirror")
        token = spec.target_options.get("token_field")
        if token is not None and not isinstance(token, str):
            raise SyncSpecError("target.token_field must be a field name")
        self._spec = spec
        self._label = spec.object  # requests count under the ledger's resource name

    def batch_limit(self, spec: SyncSpec, total: int) -> int:
        """200 per Collections call; :data:`BULK_BATCH` per ingest job above the threshold."""
        threshold = spec.bulk_threshold or self.bulk_threshold
        self._bulk = total > threshold and spec.mode in ("upsert", "mirror")
        if self._bulk:
            return BULK_BATCH
        return max(1, min(spec.batch_size, COLLECTION_LIMIT))

    def write(self, ops: Sequence[Op]) -> list[WriteResult]:
        """Writes one batch of one kind; per-record results in order."""
        spec = self._checked()
        kind = ops[0].kind
        if kind == DELETE:
            return self._delete(ops)
        if self._bulk and len(ops) > COLLECTION_LIMIT:
            return self._ingest(spec, ops)
        results: list[WriteResult] = []
        for start in range(0, len(ops), COLLECTION_LIMIT):
            results.extend(self._collection(spec, ops[start : start + COLLECTION_LIMIT]))
        return results

    def http_stats(self) -> Mapping[str, Mapping[str, Any]]:
        """Request counters per label."""
        return self.client.session.stats_by_label()

    # ------------------------------------------------------------------ collections

    def _checked(self) -> SyncSpec:
        if self._spec is None:
            raise FatalError("SalesforceTarget.check(spec) must run before write()")
        return self._spec

    def record(self, spec: SyncSpec, op: Op) -> dict[str, Any]:
        """The Collections record of one write (``attributes.type`` is required)."""
        body: dict[str, Any] = {"attributes": {"type": spec.object}}
        body.update(op.payload)
        if spec.mode != "update" or op.target_id is None:
            body[spec.key_field] = op.key
        else:
            body["Id"] = op.target_id
        token = spec.target_options.get("token_field")
        if token:
            body[str(token)] = op.token
        return body

    def _collection(self, spec: SyncSpec, ops: Sequence[Op]) -> list[WriteResult]:
        records = [self.record(spec, op) for op in ops]
        body = {"allOrNone": False, "records": records}
        base = f"{data_path()}/composite/sobjects"
        if spec.mode in ("upsert", "mirror"):
            method, path = "PATCH", f"{base}/{spec.object}/{spec.key_field}"
        elif spec.mode == "update" or ops[0].kind == UPDATE:
            method, path = "PATCH", base
        else:
            method, path = "POST", base  # append: create
        answers = self._json(method, path, body)
        return [self._result(op, answer) for op, answer in zip(ops, answers, strict=True)]

    def _json(self, method: str, path: str, body: Any = None, **params: Any) -> list[Any]:
        response = self.client.rest_client(self._label).request(
            path,
            method=method,  # type: ignore[arg-type]
            json=body,
            params=params or None,
            hooks={"response": self.client.response_hooks()},
        )
        answers = response.json()
        if not isinstance(answers, list):
            raise FatalError(f"Salesforce answered {method} {path} without a result list")
        return answers

    @staticmethod
    def _result(op: Op, answer: Any) -> WriteResult:
        if not isinstance(answer, Mapping):
            return WriteResult(op, False, error="Salesforce returned no result for the record")
        if answer.get("success"):
            return WriteResult(op, True, target_id=answer.get("id") or op.target_id)
        return WriteResult(op, False, error=error_text(answer.get("errors")))

    def _delete(self, ops: Sequence[Op]) -> list[WriteResult]:
        known = [op for op in ops if op.target_id]
        results = {
            op.key: WriteResult(op, False, error="no Salesforce Id recorded for this key")
            for op in ops
            if not op.target_id
        }
        for start in range(0, len(known), COLLECTION_LIMIT):
            chunk = known[start : start + COLLECTION_LIMIT]
            ids = ",".join(str(op.target_id) for op in chunk)
            answers = self._json(
                "DELETE", f"{data_path()}/composite/sobjects", ids=ids, allOrNone="false"
            )
            for op, answer in zip(chunk, answers, strict=True):
                result = self._result(op, answer)
                if not result.ok and ALREADY_DELETED in (result.error or ""):
                    result = WriteResult(op, True, target_id=op.target_id)  # re-sent delete
                results[op.key] = result
        return [results[op.key] for op in ops]

    # ------------------------------------------------------------------ bulk ingest

    def _ingest(self, spec: SyncSpec, ops: Sequence[Op]) -> list[WriteResult]:
        base = f"{data_path()}/jobs/ingest"
        rest = self.client.rest_client(self._label)
        hooks = {"response": self.client.response_hooks()}
        job = rest.post(
            base,
            json={
                "object": spec.object,
                "externalIdFieldName": spec.key_field,
                "contentType": "CSV",
                "operation": "upsert",
                "lineEnding": "LF",
            },
            hooks=hooks,
        ).json()
        job_id = job.get("id") if isinstance(job, Mapping) else None
        if not isinstance(job_id, str) or not job_id:
            raise FatalError("Salesforce Bulk API answered an ingest job without an id")
        rest.request(
            f"{base}/{job_id}/batches",
            method="PUT",
            data=self._csv(spec, ops).encode("utf-8"),
            headers={"Content-Type": "text/csv"},
            hooks=hooks,
        )
        rest.request(
            f"{base}/{job_id}", method="PATCH", json={"state": "UploadComplete"}, hooks=hooks
        )
        state = self._wait(f"{base}/{job_id}", job_id)
        try:
            return self._ingest_results(spec, ops, f"{base}/{job_id}")
        except ClientError:
            if state == DONE:
                raise
            # "After a job is in the JobComplete or Failed state, you can get details about
            # which records were successfully processed" (Bulk API 2.0 walkthrough); an org
            # refusing them leaves every row for the next run, neither committed nor dropped
            logger.warning("salesforce ingest job %s: no results readable; rows deferred", job_id)
            return [WriteResult(op, False, deferred=True) for op in ops]

    def _csv(self, spec: SyncSpec, ops: Sequence[Op]) -> str:
        records = [
            {k: v for k, v in self.record(spec, op).items() if k != "attributes"} for op in ops
        ]
        columns = list(dict.fromkeys(name for record in records for name in record))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for record in records:
            writer.writerow([_csv_value(record.get(name)) for name in columns])
        return out.getvalue()

    def _wait(self, path: str, job_id: str) -> str:
        """Polls until the job ends; its final state."""
        deadline = self.clock() + self.max_wait_s
        while True:
            info = self.client.get(path, label=self._label).json()
            state = str(info.get("state"))
            if state == DONE or state in FAILED_STATES:
                if state != DONE:
                    logger.warning("salesforce ingest job %s ended %s", job_id, state)
                return state
            if self.clock() >= deadline:
                raise FatalError(
                    f"Salesforce ingest job {job_id} not complete after {self.max_wait_s:.0f}s "
                    f"(state {state}); rerun the sync later"
                )
            self.client.sleep(self.poll_interval_s)

    def _ingest_results(self, spec: SyncSpec, ops: Sequence[Op], path: str) -> list[WriteResult]:
        by_key = {op.key: op for op in ops}
        results: dict[str, WriteResult] = {}
        for row in self._csv_rows(f"{path}/successfulResults/"):
            op = by_key.get(row.get(spec.key_field, ""))
            if op is not None:
                results[op.key] = WriteResult(op, True, target_id=row.get("sf__Id") or None)
        for row in self._csv_rows(f"{path}/failedResults/"):
            op = by_key.get(row.get(spec.key_field, ""))
            if op is not None:
                results[op.key] = WriteResult(op, False, error=row.get("sf__Error") or "failed")
        # unprocessed records and any the job did not mention are sent again next run
        return [results.get(op.key) or WriteResult(op, False, deferred=True) for op in ops]

    def _csv_rows(self, path: str) -> list[dict[str, str]]:
        response = self.client.get(path, label=self._label)
        return parse_csv(response.content, ",") if response.content else []


def _csv_value(value: Any) -> str:
    if value is None:
        return BULK_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["CREATE", "SalesforceTarget", "error_text"]
