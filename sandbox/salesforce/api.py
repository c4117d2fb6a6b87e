"""Routes of the Salesforce sandbox: token endpoint, describe, query/queryAll, faults.

The token endpoint reuses the OAuth sandbox's grants (JWT bearer with RS256 and the
refresh token grant) and adds what Salesforce adds: ``instance_url`` and no
``expires_in``. Every REST answer carries ``Sforce-Limit-Info: api-usage=used/limit``.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qs, parse_qsl, urlsplit

from sandbox.oauth.grants import TokenGrants
from sandbox.oauth.state import SandboxState

from .bulk import BulkJobs
from .ingest import IngestJobs
from .locators import Locators
from .replication import replication_answer
from .rest_writes import RestWrites
from .schema import API_VERSION, OBJECTS, describe
from .soql import SoqlError, parse
from .store import Store
from .writes import INTEGRATION_USER_ID, Writer

TOKEN_PATH = "/services/oauth2/token"
WRITE_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
DATA_PREFIX = f"/services/data/{API_VERSION}"
LIMIT_HEADER = "Sforce-Limit-Info"
MAX_URI_AND_HEADERS = 16_384
""""In each REST call, the maximum length for the combined URI and headers is 16,384
bytes": 431 when exceeded, 414 when the URI alone exceeds it
(https://help.salesforce.com/s/articleView?id=000386264&type=1; the body of those
answers is not documented: the sandbox answers Salesforce's error shape)."""


@dataclass
class Answer:
    """One HTTP answer of the sandbox: a JSON body, or text with its content type."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=UTF-8"


def sf_error(status: int, code: str, message: str) -> Answer:
    """Salesforce's error shape: a list of ``{"message", "errorCode"}``."""
    return Answer(status, [{"message": message, "errorCode": code}])


@dataclass
class Faults:
    """Switches tests flip to make the sandbox misbehave.

    Attributes:
        fail_next: REST requests still to answer with ``fail_status``.
        fail_status: Status of those failures (503 by default).
        throttle_next: REST requests still to answer 403 ``REQUEST_LIMIT_EXCEEDED``
            (the concurrent-request limit; Salesforce has no 429).
        expire_tokens_after: After this many more REST requests, every access token
            expires (answers 401 ``INVALID_SESSION_ID`` until renewed).
        fail_after_write_next: Writes still to apply and then answer with
            ``fail_status`` anyway (a response lost after the org committed: the client
            cannot tell, and a retry by external id must be harmless).
    """

    fail_next: int = 0
    fail_status: int = 503
    throttle_next: int = 0
    expire_tokens_after: Optional[int] = None
    fail_after_write_next: int = 0


class SalesforceApi:
    """Answers requests; thread-safe."""

    def __init__(
        self,
        store: Store,
        state: SandboxState,
        grants: TokenGrants,
        *,
        page_size: int,
        api_limit: int,
        bulk: BulkJobs,
        locators: Locators,
        writer: Writer,
        ingest: IngestJobs,
    ) -> None:
        """Creates the routes.

        Args:
            store: The records.
            state: OAuth state (clients, issued tokens) shared with ``grants``.
            grants: The token endpoint.
            page_size: Records per query page before ``nextRecordsUrl``.
            api_limit: The org's daily API request limit.
            bulk: Bulk API 2.0 query jobs.
            locators: Open query cursors (``nextRecordsUrl``) and when they die.
            writer: Applies writes (Collections, single records, ingest jobs).
            ingest: Bulk API 2.0 ingest jobs.
        """
        self.writes = RestWrites(writer)
        self.ingest = ingest
        self.bulk = bulk
        self.store = store
        self.state = state
        self.grants = grants
        self.page_size = page_size
        self.api_limit = api_limit
        self.api_used = 0
        self.faults = Faults()
        self.instance_url = ""
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self._lock = threading.Lock()
        self.locators = locators

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answers one request."""
        parts = urlsplit(target)
        too_long = self._too_long(target, headers)
        if too_long is not None:
            answer, kind = too_long, "too_long"
        elif parts.path == TOKEN_PATH and method == "POST":
            answer = self._token(body, headers)
            kind = "token"
        elif parts.path.startswith(DATA_PREFIX + "/") and method in WRITE_METHODS:
            kind = self._kind(parts.path)
            answer = self._rest(method, parts.path, parts.query, headers, body)
            answer.headers[LIMIT_HEADER] = f"api-usage={self.api_used}/{self.api_limit}"
        else:
            kind = "other"
            answer = sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        with self._lock:
            self.requests[kind] += 1
            self.statuses[answer.status] += 1
        return answer

    @staticmethod
    def _too_long(target: str, headers: Mapping[str, str]) -> Optional[Answer]:
        size = len(target.encode("utf-8"))
        if size > MAX_URI_AND_HEADERS:
            return sf_error(414, "URI_TOO_LONG", "URI Too Long")
        size += sum(len(k) + len(v) + 4 for k, v in headers.items())
        if size > MAX_URI_AND_HEADERS:
            return sf_error(431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "Header Fields Too Large")
        return None

    def _token(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        reply = self.grants.handle(form, headers.get("Authorization"), {})
        payload = dict(reply.body)
        if reply.status == 200:
            payload.pop("expires_in", None)  # Salesforce does not say when tokens expire
            payload["instance_url"] = self.instance_url
            payload["issued_at"] = str(int(self.state.clock() * 1000))
        return Answer(reply.status, payload, dict(reply.headers))

    @staticmethod
    def _kind(path: str) -> str:
        rest = path[len(DATA_PREFIX) + 1 :]
        if rest.startswith("sobjects/"):
            return "describe"
        if rest.startswith("jobs/ingest"):
            return "ingest"
        if rest.startswith("jobs/"):
            return "bulk"
        return rest.split("/", 1)[0]

    def _rest(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        authorization = headers.get("Authorization", "")
        fault = self._fault()
        if fault is not None:
            return fault
        scheme, _, token = authorization.partition(" ")
        grant = self.state.access_grant(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        with self._lock:
            if self.api_used >= self.api_limit:
                return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.api_used += 1
        rest = path[len(DATA_PREFIX) + 1 :]
        if rest.startswith("jobs/query"):
            return self._bulk(method, rest, query, body, headers)
        if rest.startswith("jobs/ingest"):
            status, reply = self.ingest.answer(method, rest, body, self.user_id(grant.subject))
            if isinstance(reply, str):  # result CSVs
                return Answer(status, reply, content_type="text/csv")
            return self._lost_after_write(method, Answer(status, reply))
        written = self.writes.answer(method, rest, query, body, self.user_id(grant.subject))
        if written is not None:
            return self._lost_after_write(method, Answer(*written))
        if method != "GET":
            return sf_error(405, "METHOD_NOT_ALLOWED", f"HTTP method '{method}' not allowed")
        if rest.startswith("sobjects/") and rest.rstrip("/").endswith(("/deleted", "/updated")):
            _, object_name, kind = rest.rstrip("/").split("/")[:3]
            return Answer(*replication_answer(self.store, object_name, kind, parse_qs(query)))
        if rest.startswith("sobjects/") and rest.endswith("/describe"):
            return self._describe(rest.split("/")[1])
        # The documented form is ``/query/?q=`` (trailing slash, https://developer.salesforce.com/
        # docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm), as simple-salesforce
        # sends it; ``/query?q=`` works too.
        if rest.rstrip("/") in ("query", "queryAll"):
            rest = rest.rstrip("/")
            soql = (parse_qs(query).get("q") or [""])[0]
            return self._query(soql, grant.subject, include_deleted=rest == "queryAll")
        if rest.startswith(("query/", "queryAll/")):
            return self._more(rest, grant.subject)
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def user_id(self, username: str) -> str:
        """The id of the user a token was issued to (``LastModifiedById`` of writes)."""
        for user in self.store.live("User"):
            if user.get("Username") == username:
                return str(user["Id"])
        return INTEGRATION_USER_ID

    def _lost_after_write(self, method: str, answer: Answer) -> Answer:
        """The answer, or a failure instead when a write's answer is to be lost."""
        if method == "GET" or answer.status >= 300:
            return answer
        with self._lock:
            if self.faults.fail_after_write_next <= 0:
                return answer
            self.faults.fail_after_write_next -= 1
            status = self.faults.fail_status
        return sf_error(status, "SERVER_UNAVAILABLE", "injected failure after the write")

    def _fault(self) -> Optional[Answer]:
        with self._lock:
            faults = self.faults
            if faults.expire_tokens_after is not None:
                if faults.expire_tokens_after <= 0:
                    faults.expire_tokens_after = None
                    self.state.expire_all_access_tokens()
                else:
                    faults.expire_tokens_after -= 1
            if faults.throttle_next > 0:
                faults.throttle_next -= 1
                return sf_error(
                    403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."
                )
            if faults.fail_next > 0:
                faults.fail_next -= 1
                return sf_error(faults.fail_status, "SERVER_UNAVAILABLE", "injected failure")
        return None

    def _describe(self, object_name: str) -> Answer:
        if object_name not in OBJECTS:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        return Answer(200, describe(object_name))

    def _query(self, soql: str, user: str, include_deleted: bool) -> Answer:
        try:
            parsed = parse(soql)
        except SoqlError as exc:
            return sf_error(400, exc.code, str(exc))
        rows = parsed.run(self.store.rows(parsed.object_name, include_deleted))
        if parsed.count:
            return Answer(200, {"totalSize": len(rows), "done": True, "records": []})
        for row in rows:
            row_id = row.get("Id")
            row["attributes"] = {
                "type": parsed.object_name,
                "url": f"{DATA_PREFIX}/sobjects/{parsed.object_name}/{row_id}",
            }
        kind = "queryAll" if include_deleted else "query"
        if len(rows) <= self.page_size:  # one page: no cursor stays open
            return Answer(200, {"totalSize": len(rows), "done": True, "records": rows})
        locator = self.locators.open(user, rows)
        return Answer(200, self._page(kind, user, locator, rows, 0))

    def _bulk(
        self, method: str, rest: str, query: str, body: bytes, headers: Mapping[str, str]
    ) -> Answer:
        parts = rest.split("/")  # jobs, query[, id[, results]]
        try:
            if method == "POST" and len(parts) == 2:
                return Answer(200, self.bulk.create(json.loads(body or b"{}")).info())
            if method == "GET" and len(parts) == 3:
                job = self.bulk.status(parts[2])
                if job is None:
                    return sf_error(404, "NOT_FOUND", "job not found")
                return Answer(200, job.info())
            if method == "GET" and len(parts) == 4 and parts[3] == "results":
                params = parse_qs(query)
                locator: Optional[str] = (params.get("locator") or [""])[0] or None
                max_records = int((params.get("maxRecords") or ["50000"])[0])
                text, following, count = self.bulk.results(parts[2], locator, max_records)
                info = {
                    "Sforce-Locator": following or "null",
                    "Sforce-NumberOfRecords": str(count),
                }
                answer = Answer(200, text, info, content_type="text/csv")
                return compressed(answer, headers.get("Accept-Encoding", ""))
        except SoqlError as exc:
            return sf_error(400, exc.code, str(exc))
        except (KeyError, ValueError):
            return sf_error(404, "NOT_FOUND", "job not found")
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _more(self, rest: str, user: str) -> Answer:
        kind, _, cursor = rest.partition("/")
        locator, _, offset = cursor.rpartition("-")
        rows = self.locators.rows(user, locator) if offset.isdigit() else None
        if rows is None:  # expired, released or never issued: see locators.py
            return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return Answer(200, self._page(kind, user, locator, rows, int(offset)))

    def _page(
        self, kind: str, user: str, locator: str, rows: list[dict[str, Any]], offset: int
    ) -> dict[str, Any]:
        end = offset + self.page_size
        if end >= len(rows):
            self.locators.close(user, locator)
        page: dict[str, Any] = {
            "totalSize": len(rows),
            "done": end >= len(rows),
            "records": rows[offset:end],
        }
        if end < len(rows):
            page["nextRecordsUrl"] = f"{DATA_PREFIX}/{kind}/{locator}-{end}"
        return page


def compressed(answer: Answer, accept_encoding: str) -> Answer:
    """The answer gzip-compressed when the client accepts it: "When you get the results
    of a query job, the response body is always compressed"
    (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/queries.htm);
    compression is HTTP's, so only for clients sending ``Accept-Encoding: gzip``."""
    if "gzip" not in accept_encoding.lower() or not isinstance(answer.body, str):
        return answer
    answer.body = gzip.compress(answer.body.encode("utf-8"))
    answer.headers["Content-Encoding"] = "gzip"
    return answer


def encode(answer: Answer) -> bytes:
    """The body of an answer: bytes and text as is, anything else as JSON."""
    if answer.body is None:  # 204 No Content, 201 of an upload
        return b""
    if isinstance(answer.body, bytes):
        return answer.body
    if isinstance(answer.body, str):
        return answer.body.encode("utf-8")
    return json.dumps(answer.body).encode("utf-8")
