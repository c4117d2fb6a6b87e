"""The Admin API endpoint: auth, faults, parse, validate, cost, bucket, execute, answer.

``POST /admin/api/<version>/graphql.json`` with ``{"query", "variables", "operationName"}``
(or ``Content-Type: application/graphql`` and the bare query), authenticated by
``X-Shopify-Access-Token`` (https://shopify.dev/docs/api/admin-graphql#authentication);
``GET /bulk/<token>.jsonl`` serves bulk results. Every GraphQL answer is HTTP 200 with
``extensions.cost`` (https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits),
errors included; only a bad token (401), a bad body (400) and server faults (5xx) are not.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError

from .bucket import SINGLE_QUERY_MAX, CostBucket
from .cost import CostCalculator
from .errors import INVALID_TOKEN, max_cost_exceeded, throttled, validation_error
from .faults import Faults
from .resolvers import DEFAULT_SCOPES, Context, middleware
from .store import Store

logger = logging.getLogger("sluice.sandbox.shopify")

_GRAPHQL_PATH = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
_BULK_PATH = re.compile(r"^/bulk/([0-9a-f]+)\.jsonl$")
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Reply:
    """An HTTP answer (``drop``: reset the connection instead)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    drop: bool = False


@dataclass
class Stats:
    """Counters of the GraphQL endpoint."""

    requests: int = 0
    throttled: int = 0
    points_spent: float = 0.0
    bulk_operations: int = 0
    downloads: int = 0
    requested_costs: list[int] = field(default_factory=list)


def _json(status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> Reply:
    return Reply(status, json.dumps(payload, separators=(",", ":")).encode(), headers or {})


@dataclass
class Request:
    """A GraphQL request's parsed parts."""

    query: str
    variables: dict[str, Any]
    operation_name: Optional[str]


class AdminApi:
    """Answers HTTP requests; one instance per sandbox. Thread-safe."""

    def __init__(
        self,
        schema: GraphQLSchema,
        store: Store,
        faults: Faults,
        bucket: CostBucket,
        access_token: str,
        api_version: str,
    ) -> None:
        """Wires the endpoint; ``bulk`` is set by the sandbox once built."""
        self.schema = schema
        self.store = store
        self.faults = faults
        self.bucket = bucket
        self.access_token = access_token
        self.api_version = api_version
        self.scopes: set[str] = set(DEFAULT_SCOPES)
        self.stats = Stats()
        self.bulk: Any = None
        self._stats_lock = threading.Lock()

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """One request; ``headers`` have lower-case names."""
        bulk = _BULK_PATH.match(path)
        if method == "GET" and bulk and self.bulk is not None:
            status, content = self.bulk.download(bulk.group(1))
            with self._stats_lock:
                self.stats.downloads += 1
            kind = "application/jsonl" if status == 200 else "application/xml"
            return Reply(status, content, content_type=kind)
        match = _GRAPHQL_PATH.match(path)
        if match is None or method != "POST":
            return _json(404, {"errors": "Not Found"})
        if headers.get("x-shopify-access-token") != self.access_token:
            return _json(401, {"errors": INVALID_TOKEN})
        with self._stats_lock:
            self.stats.requests += 1
        fault = self.faults.take()
        if fault is not None:
            if fault.kind == "drop":
                return Reply(0, b"", drop=True)
            if fault.kind == "fail":
                status = int(fault.value)
                return _json(status, {"errors": _REASONS.get(status, "Internal Server Error")})
            time.sleep(fault.value)  # a stall: the client's read timeout should fire
        request = _parse_body(headers.get("content-type", ""), body)
        if request is None:
            return _json(400, {"errors": {"query": "Required parameter missing or invalid"}})
        answer = self.graphql(request)
        return _json(200, answer, {"X-Shopify-API-Version": match.group(1)})

    def graphql(self, request: Request) -> dict[str, Any]:
        """The JSON answer of one GraphQL request (errors included)."""
        try:
            document = parse(request.query)
        except GraphQLSyntaxError as exc:
            error = {
                "message": exc.message,
                "locations": [{"line": at.line, "column": at.column} for at in exc.locations or []],
            }
            return self._answer(None, [error], 0, 0)
        errors = validate(self.schema, document)
        if errors:
            return self._answer(None, [validation_error(e, document) for e in errors], 0, 0)
        operation = _operation(document, request.operation_name)
        if operation is None:
            return self._answer(None, [{"message": "An operation name is required"}], 0, 0)
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        calculator = CostCalculator(self.schema, operation, fragments, request.variables)
        requested = calculator.requested()
        with self._stats_lock:
            self.stats.requested_costs.append(requested)
        if requested > SINGLE_QUERY_MAX:
            return self._answer(
                None, [max_cost_exceeded(requested, SINGLE_QUERY_MAX)], requested, 0
            )
        if self.faults.take_throttle() or not self.bucket.take(requested):
            with self._stats_lock:
                self.stats.throttled += 1
            return self._answer(None, [throttled()], requested, 0)
        result = self._execute(document, request)
        actual = calculator.actual(result.data)
        self.bucket.refund(requested - actual)
        with self._stats_lock:
            self.stats.points_spent += actual
        formatted = [dict(e.formatted) for e in result.errors or []]
        return self._answer(result.data, formatted, requested, actual, executed=True)

    def _execute(
        self, document: DocumentNode, request: Request, bulk: bool = False
    ) -> ExecutionResult:
        context = Context(self.store, self.faults, frozenset(self.scopes), bulk, self.bulk)
        with self.store.lock:
            result = execute(
                self.schema,
                document,
                context_value=context,
                variable_values=request.variables,
                operation_name=request.operation_name,
                middleware=[middleware],
            )
        assert isinstance(result, ExecutionResult)  # no async resolvers
        return result

    def execute_bulk(self, query: str) -> Optional[Mapping[str, Any]]:
        """Runs a (validated) bulk query unpaged and free; its ``data``."""
        result = self._execute(parse(query), Request(query, {}, None), bulk=True)
        if result.errors:
            logger.debug("shopify sandbox: bulk query errors: %s", result.errors)
        return result.data

    def _answer(
        self,
        data: Any,
        errors: list[dict[str, Any]],
        requested: int,
        actual: int,
        *,
        executed: bool = False,
    ) -> dict[str, Any]:
        """The JSON body; ``data`` only for an executed query (even null: a non-null field
        failed, Shopify/shopify-app-template-node#845), none for refused ones."""
        answer: dict[str, Any] = {}
        if errors:
            answer["errors"] = errors
        if executed:
            answer["data"] = data
        answer["extensions"] = {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual if executed else None,
                "throttleStatus": self.bucket.status().as_json(),
            }
        }
        return answer


def _operation(document: DocumentNode, name: Optional[str]) -> Optional[OperationDefinitionNode]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((o for o in operations if o.name and o.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def _parse_body(content_type: str, body: bytes) -> Optional[Request]:
    if content_type.startswith("application/graphql"):
        return Request(body.decode("utf-8", "replace"), {}, None)
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return None
    variables = payload.get("variables") or {}
    if not isinstance(variables, dict):
        return None
    name = payload.get("operationName")
    return Request(payload["query"], variables, name if isinstance(name, str) else None)
