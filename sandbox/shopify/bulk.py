"""Bulk query operations: run, poll, cancel, JSONL results behind expiring URLs.

https://shopify.dev/docs/api/usage/bulk-operations/queries and
https://shopify.dev/docs/api/admin-graphql/2025-01/objects/BulkOperation: before API
version 2026-01 an app runs one bulk query at a time per shop (a second answers a
userError); an operation goes ``CREATED`` -> ``RUNNING`` -> ``COMPLETED`` (or ``FAILED``
with an ``errorCode``, or ``CANCELING`` -> ``CANCELED``); the result is JSONL, one object
per line, objects of a nested connection on their own lines after their parent with
``__parentId`` holding the parent's id; ``url`` and ``partialDataUrl`` expire (after
seven days) and querying the operation again gives a fresh signed URL.

In the sandbox an operation advances one step per poll (``node(id:)`` or
``currentBulkOperation``), finishing after ``polls_to_complete`` polls or once the clock
has moved ``seconds_to_complete`` past its creation, whichever comes first.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from graphql import (
    FieldNode,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError

from .clock import Clock, iso
from .faults import Faults

URL_LIFETIME_S = 7 * 86_400.0
MAX_CONNECTIONS = 5
MAX_DEPTH = 2
_EXPIRED = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code>"
    b"<Message>The provided token has expired.</Message></Error>"
)
_ACTIVE = {"CREATED", "RUNNING", "CANCELING"}
Record = dict[str, Any]
Executor = Callable[[str], Optional[Mapping[str, Any]]]
"""Runs a bulk query unpaged; returns its ``data``."""


@dataclass
class Operation:
    """One bulk operation and its result."""

    number: int
    query: str
    created: float
    status: str = "CREATED"
    error_code: Optional[str] = None
    completed: Optional[float] = None
    polls: int = 0
    lines: list[bytes] = field(default_factory=list)
    root_count: int = 0

    @property
    def id(self) -> str:
        """Its global id."""
        return f"gid://shopify/BulkOperation/{self.number}"


@dataclass(frozen=True)
class Grant:
    """A result URL handed out: which operation's file, and when."""

    operation: str
    issued: float
    epoch: int


def jsonl_lines(data: Mapping[str, Any]) -> tuple[list[bytes], int]:
    """The JSONL rows of a bulk query's ``data`` and the number of root objects."""
    lines: list[bytes] = []
    roots = 0
    for value in data.values():
        for node in _nodes(value):
            roots += 1
            lines.extend(_flatten(node, None))
    return lines, roots


def _nodes(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        return []
    edges = value.get("edges")
    if isinstance(edges, list):
        return [e["node"] for e in edges if isinstance(e, Mapping) and e.get("node")]
    nodes = value.get("nodes")
    return [n for n in nodes if n] if isinstance(nodes, list) else []


def _is_connection(value: Any) -> bool:
    return isinstance(value, Mapping) and ("edges" in value or "nodes" in value)


def _flatten(node: Mapping[str, Any], parent: Optional[str]) -> Iterator[bytes]:
    """The node's row (nested connections taken out), then its children's rows."""
    row = {k: v for k, v in node.items() if not _is_connection(v)}
    if parent is not None:
        row["__parentId"] = parent
    yield json.dumps(row, separators=(",", ":")).encode()
    for value in node.values():
        if _is_connection(value):
            for child in _nodes(value):
                yield from _flatten(child, node.get("id"))


class BulkOperations:
    """The shop's bulk operations. Thread-safe."""

    def __init__(
        self,
        schema: GraphQLSchema,
        execute: Executor,
        faults: Faults,
        clock: Clock,
        base_url: Callable[[], str],
        *,
        seed: int = 42,
        polls_to_complete: int = 2,
        seconds_to_complete: float = 5.0,
    ) -> None:
        """Creates an empty list of operations.

        Args:
            schema: The schema bulk queries are validated against.
            execute: Runs a bulk query unpaged.
            faults: Switches (failed, canceled operations; expired URLs).
            clock: Unix seconds.
            base_url: The sandbox's URL (result URLs live under it).
            seed: Seed of the URL tokens.
            polls_to_complete: Polls after which an operation finishes.
            seconds_to_complete: Seconds after which it finishes.
        """
        self.schema = schema
        self.execute = execute
        self.faults = faults
        self.clock = clock
        self.base_url = base_url
        self.polls_to_complete = polls_to_complete
        self.seconds_to_complete = seconds_to_complete
        self._rng = random.Random(f"{seed}:bulk")
        self._lock = threading.RLock()
        self._ops: dict[str, Operation] = {}
        self._grants: dict[str, Grant] = {}
        self.started = 0

    # -- GraphQL entry points (resolvers) ------------------------------------------------

    def run(self, query: str, groupObjects: bool = False) -> Record:  # noqa: N803 - GraphQL name
        """``bulkOperationRunQuery``: the new operation, or userErrors."""
        with self._lock:
            active = next((op for op in self._ops.values() if op.status in _ACTIVE), None)
            if active is not None:
                message = (
                    "A bulk query operation for this app and shop is already in progress: "
                    f"{active.id}."
                )
                return _user_error(None, message, "OPERATION_IN_PROGRESS")
            problem = self._check(query)
            if problem is not None:
                return _user_error(["query"], problem, "INVALID")
            op = Operation(len(self._ops) + 1, query, self.clock())
            self._ops[op.id] = op
            self.started += 1
            return {"bulkOperation": self._view(op), "userErrors": []}

    def cancel(self, id: str) -> Record:  # noqa: A002 - GraphQL name
        """``bulkOperationCancel``: CANCELING now, CANCELED at the next poll."""
        with self._lock:
            op = self._ops.get(id)
            if op is None:
                return {
                    "bulkOperation": None,
                    "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}],
                }
            if op.status not in _ACTIVE:
                message = f"A bulk operation cannot be canceled when it is {op.status.lower()}"
                return {
                    "bulkOperation": self._view(op),
                    "userErrors": [{"field": None, "message": message}],
                }
            op.status = "CANCELING"
            return {"bulkOperation": self._view(op), "userErrors": []}

    def current(self, type: str = "QUERY") -> Optional[Record]:  # noqa: A002 - GraphQL name
        """``currentBulkOperation``: the latest operation, polled."""
        with self._lock:
            if type != "QUERY" or not self._ops:
                return None
            return self.get(list(self._ops)[-1])

    def get(self, object_id: str) -> Optional[Record]:
        """``node(id:)`` on a bulk operation: polled (it may advance), with a fresh URL."""
        with self._lock:
            op = self._ops.get(object_id)
            if op is None:
                return None
            self._poll(op)
            return self._view(op)

    # -- the result files ------------------------------------------------------------------

    def download(self, token: str) -> tuple[int, bytes]:
        """``(status, body)`` of ``GET /bulk/<token>.jsonl``: 200, 403 expired or 404."""
        with self._lock:
            grant = self._grants.get(token)
            if grant is None:
                return 404, b"Not Found"
            op = self._ops[grant.operation]
            now = self.clock()
            if grant.epoch != self.faults.url_epoch or now > grant.issued + URL_LIFETIME_S:
                # Google Cloud Storage's answer to an expired signed URL.
                body = _EXPIRED
                return 403, body
            return 200, b"".join(line + b"\n" for line in op.lines)

    # -- internals -----------------------------------------------------------------------

    def _check(self, query: str) -> Optional[str]:
        try:
            document = parse(query)
        except GraphQLSyntaxError as exc:
            return f"Invalid bulk query: {exc.message}"
        errors = validate(self.schema, document)
        if errors:
            return f"Invalid bulk query: {errors[0].message}"
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        query_type = self.schema.query_type
        assert query_type is not None
        roots = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        if len(roots) != 1 or not _returns_connection(query_type, roots[0]):
            return "Bulk queries must contain exactly one top-level connection field."
        count, depth = _connections(self.schema, query_type, operation.selection_set, 0)
        # "up to five connections with a maximum nesting depth of two levels"
        # (https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/bulkOperationRunQuery)
        if count > MAX_CONNECTIONS:
            return f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
        if depth > MAX_DEPTH:
            return f"Bulk queries cannot contain connections nested more than {MAX_DEPTH} levels."
        return None

    def _poll(self, op: Operation) -> None:
        op.polls += 1
        if op.status == "CANCELING":
            self._finish(op, "CANCELED")
        elif op.status == "CREATED":
            op.status = "RUNNING"
        if op.status == "RUNNING" and (
            op.polls >= self.polls_to_complete
            or self.clock() - op.created >= self.seconds_to_complete
        ):
            self._finish(op, self.faults.take_bulk_outcome() or "COMPLETED")

    def _finish(self, op: Operation, status: str) -> None:
        op.status = status
        if status == "COMPLETED":
            data = self.execute(op.query) or {}
            op.lines, op.root_count = jsonl_lines(data)
            op.completed = self.clock()
        elif status == "FAILED":
            op.error_code = "INTERNAL_SERVER_ERROR"

    def _url(self, op: Operation) -> Optional[str]:
        if op.status != "COMPLETED":
            return None
        token = f"{self._rng.getrandbits(128):032x}"
        self._grants[token] = Grant(op.id, self.clock(), self.faults.url_epoch)
        return f"{self.base_url()}/bulk/{token}.jsonl"

    def _view(self, op: Operation) -> Record:
        size = sum(len(line) + 1 for line in op.lines)
        return {
            "id": op.id,
            "status": op.status,
            "errorCode": op.error_code,
            "type": "QUERY",
            "query": op.query,
            "objectCount": str(len(op.lines)),
            "rootObjectCount": str(op.root_count),
            "fileSize": str(size) if op.status == "COMPLETED" else None,
            "url": self._url(op),
            "partialDataUrl": None,
            "createdAt": iso(op.created),
            "completedAt": iso(op.completed) if op.completed is not None else None,
        }

    def operations(self) -> list[Record]:
        """Every operation's state (not polled)."""
        with self._lock:
            return [
                {"id": op.id, "status": op.status, "errorCode": op.error_code, "polls": op.polls}
                for op in self._ops.values()
            ]


def _returns_connection(parent: GraphQLObjectType, node: FieldNode) -> bool:
    field_def = parent.fields.get(node.name.value)
    return field_def is not None and get_named_type(field_def.type).name.endswith("Connection")


def _connections(
    schema: GraphQLSchema, parent: GraphQLNamedType, selection_set: SelectionSetNode, depth: int
) -> tuple[int, int]:
    """How many connections a selection holds and how deep they nest (root = 1)."""
    count, deepest = 0, depth
    for selection in selection_set.selections:
        inner: Optional[SelectionSetNode] = getattr(selection, "selection_set", None)
        if inner is None:
            continue
        target: GraphQLNamedType = parent
        level = depth
        if isinstance(selection, FieldNode):
            fields = getattr(parent, "fields", {})
            field_def = fields.get(selection.name.value)
            if field_def is None:
                continue
            target = get_named_type(field_def.type)
            if target.name.endswith("Connection"):
                count += 1
                level = depth + 1
                deepest = max(deepest, level)
        elif isinstance(selection, InlineFragmentNode) and selection.type_condition:
            target = schema.get_type(selection.type_condition.name.value) or parent
        sub_count, sub_depth = _connections(schema, target, inner, level)
        count += sub_count
        deepest = max(deepest, sub_depth)
    return count, deepest


def _user_error(field_path: Optional[list[str]], message: str, code: str) -> Record:
    return {
        "bulkOperation": None,
        "userErrors": [{"field": field_path, "message": message, "code": code}],
    }
