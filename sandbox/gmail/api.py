"""The Gmail REST endpoints: routing, Bearer auth, faults, quota units and the resources.

Paths are the discovery document's (``rootUrl`` + ``gmail/v1/users/{userId}/...``; the
bundled ``googleapiclient/discovery_cache/documents/gmail.v1.json`` has an empty
``servicePath`` and method paths starting ``gmail/v1/users/``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional
from urllib.parse import parse_qs, unquote

from .errors import (
    Reply,
    bad_request,
    google_error,
    not_found,
    quota_error,
    server_error,
    unauthenticated,
)
from .faults import Faults
from .query import QueryError, compile_query
from .quota import QuotaMeter
from .store import HISTORY_TYPES, Mailbox, StoredMessage, attachment_of, render, thread_ref
from .tokens import TokenEndpoint

logger = logging.getLogger("sluice.sandbox.gmail")

API_PREFIX = "gmail/v1/users/"
MAX_RESULTS = 500
FORMATS = ("minimal", "metadata", "full", "raw")
Params = dict[str, list[str]]


class Stats:
    """Requests per method (``messages.get``...), their total and the quota units spent."""

    def __init__(self) -> None:
        """Zero counts."""
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.units = 0

    def add(self, method: str, units: int = 0) -> None:
        """Counts one request of ``method`` and the units it was charged."""
        with self._lock:
            self._counts[method] += 1
            self.units += units

    def count(self, method: str) -> int:
        """Requests of ``method`` so far."""
        with self._lock:
            return self._counts[method]

    @property
    def total(self) -> int:
        """API requests so far (inner batch requests each count; the token endpoint not)."""
        with self._lock:
            return sum(n for m, n in self._counts.items() if m not in ("token", "batch"))

    def reset(self) -> None:
        """Back to zero."""
        with self._lock:
            self._counts.clear()
            self.units = 0


def _token(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def _untoken(kind: str, token: str) -> str:
    """The value inside a page token of ``kind``; ValueError when it is not one."""
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(token) from exc
    found, _, value = decoded.partition(":")
    if found != kind or not value:
        raise ValueError(token)
    return value


def _one(params: Params, name: str, default: str = "") -> str:
    values = params.get(name)
    return values[-1] if values else default


def _max_results(params: Params, default: int = 100) -> int:
    raw = _one(params, "maxResults", str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError("maxResults")
    return min(int(raw), MAX_RESULTS)


def _spoil(resource: dict[str, Any]) -> dict[str, Any]:
    """A message resource broken as a faulty backend might send it."""
    spoiled = copy.deepcopy(resource)
    payload = spoiled.get("payload")
    if isinstance(payload, dict):
        payload.pop("headers", None)
        payload["body"] = {"size": 3, "data": "%%not-base64%%"}
        payload.pop("parts", None)
    if "raw" in spoiled:
        spoiled["raw"] = "%%not-base64%%"
    spoiled["internalDate"] = "yesterday"
    return spoiled


class GmailApi:
    """Answers one request (``handle``), inner batch requests included."""

    def __init__(
        self,
        mailbox: Mailbox,
        tokens: TokenEndpoint,
        faults: Faults,
        quota: QuotaMeter,
        clock: Callable[[], float],
    ) -> None:
        """Wires the parts together."""
        self.mailbox, self.tokens, self.faults, self.quota = mailbox, tokens, faults, quota
        self.stats = Stats()
        self._clock = clock
        self.batch_handler: Optional[Callable[[Mapping[str, str], bytes], Reply]] = None

    def handle(
        self, verb: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """Answers ``verb path?query``; ``headers`` have lower-case names."""
        route = unquote(path).lstrip("/")
        if route == "token" and verb == "POST":
            self.stats.add("token")
            return self.tokens.handle(headers, body)
        if route in ("batch", "batch/gmail/v1") and verb == "POST":
            self.stats.add("batch")
            if self.batch_handler is None:
                return server_error(500)
            return self.batch_handler(headers, body)
        if not route.startswith(API_PREFIX):
            return not_found()
        user, _, rest = route[len(API_PREFIX) :].partition("/")
        method, args = self._resolve(verb, rest.strip("/").split("/"))
        if method is None:
            return not_found()
        return self._call(method, args, user, parse_qs(query, keep_blank_values=True), headers)

    @staticmethod
    def _resolve(verb: str, parts: Sequence[str]) -> tuple[Optional[str], list[str]]:
        if verb != "GET":
            return None, []
        shapes = {
            ("profile",): "getProfile",
            ("labels",): "labels.list",
            ("labels", "*"): "labels.get",
            ("messages",): "messages.list",
            ("messages", "*"): "messages.get",
            ("messages", "*", "attachments", "*"): "messages.attachments.get",
            ("threads",): "threads.list",
            ("threads", "*"): "threads.get",
            ("history",): "history.list",
        }
        for shape, method in shapes.items():
            if len(shape) != len(parts):
                continue
            pairs = list(zip(shape, parts, strict=True))
            if all(s in ("*", p) for s, p in pairs):
                return method, [p for s, p in pairs if s == "*"]
        return None, []

    def _call(
        self, method: str, args: list[str], user: str, params: Params, headers: Mapping[str, str]
    ) -> Reply:
        if not self.tokens.valid(headers.get("authorization")):
            self.stats.add(method)
            return unauthenticated()
        if user not in ("me", self.mailbox.email):
            self.stats.add(method)
            return google_error(403, f"Delegation denied for {self.mailbox.email}", "forbidden")
        throttle = self.faults.take_throttle()
        failure = self.faults.take_failure() if throttle is None else None
        if throttle is not None or failure is not None:
            self.stats.add(method)
            if throttle is not None:
                return quota_error(throttle.status, throttle.reason, throttle.retry_after)
            return server_error(failure or 503)
        cost, denial = self.quota.charge(self.mailbox.email, method)
        if denial is not None:
            self.stats.add(method)
            logger.debug("gmail sandbox: %s over quota", method)
            return quota_error(denial.status, denial.reason, denial.retry_after)
        self.stats.add(method, cost)
        try:
            return self._dispatch(method, args, params)
        except QueryError as exc:
            return bad_request(str(exc), "q")
        except ValueError as exc:
            return bad_request(
                f"Invalid value for {exc.args[0] if exc.args else 'parameter'}",
                str(exc.args[0]) if exc.args else None,
            )

    def _dispatch(self, method: str, args: list[str], params: Params) -> Reply:
        if method == "getProfile":
            return Reply.json(200, self.mailbox.profile())
        if method == "labels.list":
            return Reply.json(200, {"labels": self.mailbox.labels()})
        if method == "labels.get":
            label = self.mailbox.label(args[0])
            return not_found() if label is None else Reply.json(200, label)
        if method == "messages.list":
            return self._list_messages(params)
        if method == "messages.get":
            return self._get_message(args[0], params)
        if method == "messages.attachments.get":
            return self._get_attachment(args[0], args[1])
        if method == "threads.list":
            return self._list_threads(params)
        if method == "threads.get":
            return self._get_thread(args[0], params)
        return self._list_history(params)

    # -- messages and threads ------------------------------------------------------------

    def _matching(self, params: Params) -> list[StoredMessage]:
        """Messages passing ``labelIds`` (all of them), ``q`` and ``includeSpamTrash``."""
        messages = self.mailbox.stored()
        label_ids = set(params.get("labelIds", []))
        if label_ids:
            messages = [m for m in messages if label_ids <= set(m.label_ids)]
        # Reference: includeSpamTrash "Include messages from SPAM and TRASH in the results."
        if _one(params, "includeSpamTrash", "false").lower() != "true":
            hidden = {"SPAM", "TRASH"} - label_ids
            messages = [m for m in messages if not hidden & set(m.label_ids)]
        q = _one(params, "q")
        if q:
            predicate = compile_query(self.mailbox, q, self._clock())
            messages = [m for m in messages if predicate(m)]
        return messages

    def _list_messages(self, params: Params) -> Reply:
        size = _max_results(params)
        messages = self._matching(params)
        token = _one(params, "pageToken")
        if token:
            # The token names the last id served: later pages stay right as mail arrives.
            last = self._read_token("m", token)
            messages_after = [m for m in messages if m.id < last]
        else:
            messages_after = messages
        page = messages_after[:size]
        answer: dict[str, Any] = {"resultSizeEstimate": len(messages)}
        if page:
            answer["messages"] = [m.ref() for m in page]
        if len(messages_after) > size:
            answer["nextPageToken"] = _token("m", page[-1].id)
        return Reply.json(200, answer)

    def _read_token(self, kind: str, token: str) -> str:
        try:
            return _untoken(kind, token)
        except ValueError as exc:
            raise ValueError("pageToken") from exc

    def _format(self, params: Params) -> str:
        fmt = _one(params, "format", "full").lower()
        if fmt not in FORMATS:
            raise ValueError("format")
        return fmt

    def _resource(self, message: StoredMessage, params: Params) -> dict[str, Any]:
        resource = render(message, self._format(params), params.get("metadataHeaders", []))
        return _spoil(resource) if self.faults.take_malformed() else resource

    def _get_message(self, message_id: str, params: Params) -> Reply:
        message = self.mailbox.get(message_id)
        if message is None:
            return not_found()
        return Reply.json(200, self._resource(message, params))

    def _get_attachment(self, message_id: str, attachment_id: str) -> Reply:
        message = self.mailbox.get(message_id)
        attachment = None if message is None else attachment_of(message, attachment_id)
        if attachment is None:
            return not_found()
        data = base64.urlsafe_b64encode(attachment.data).decode("ascii")
        return Reply.json(200, {"size": len(attachment.data), "data": data})

    def _list_threads(self, params: Params) -> Reply:
        size = _max_results(params)
        order: list[str] = []
        for message in self._matching(params):
            if message.thread_id not in order:
                order.append(message.thread_id)
        token = _one(params, "pageToken")
        start = 0
        if token:
            last = self._read_token("t", token)
            start = order.index(last) + 1 if last in order else len(order)
        page = order[start : start + size]
        answer: dict[str, Any] = {"resultSizeEstimate": len(order)}
        if page:
            answer["threads"] = [thread_ref(self.mailbox.thread_messages(t)) for t in page]
        if start + size < len(order):
            answer["nextPageToken"] = _token("t", page[-1])
        return Reply.json(200, answer)

    def _get_thread(self, thread_id: str, params: Params) -> Reply:
        messages = self.mailbox.thread_messages(thread_id)
        if not messages:
            return not_found()
        thread = thread_ref(messages)
        thread.pop("snippet")
        thread["messages"] = [self._resource(m, params) for m in messages]
        return Reply.json(200, thread)

    # -- history -------------------------------------------------------------------------

    def _list_history(self, params: Params) -> Reply:
        raw_start = _one(params, "startHistoryId")
        if not raw_start:
            return bad_request("Required parameter: startHistoryId", "startHistoryId")
        if not raw_start.isdigit():
            raise ValueError("startHistoryId")
        size = _max_results(params)
        records = self.mailbox.history_since(int(raw_start))
        if records is None:
            # Reference: "Supplying an invalid or out of date startHistoryId typically
            # returns an HTTP 404 error code" (then the client performs a full sync).
            return not_found()
        token = _one(params, "pageToken")
        if token:
            after = int(self._read_token("h", token))
            records = [r for r in records if r.id > after]
        wanted = self._history_types(params)
        label_id = _one(params, "labelId")
        chosen = [
            r
            for r in records
            if wanted & set(r.changes) and (not label_id or label_id in r.message["labelIds"])
        ]
        page = chosen[:size]
        answer: dict[str, Any] = {"historyId": str(self.mailbox.history_id)}
        if page:
            answer["history"] = [r.resource(wanted) for r in page]
        if len(chosen) > size:
            answer["nextPageToken"] = _token("h", str(page[-1].id))
        return Reply.json(200, answer)

    @staticmethod
    def _history_types(params: Params) -> set[str]:
        names = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted",
                 "labelAdded": "labelsAdded", "labelRemoved": "labelsRemoved"}  # fmt: skip
        asked = params.get("historyTypes", [])
        if not asked:
            return set(HISTORY_TYPES)
        unknown = [a for a in asked if a not in names]
        if unknown:
            raise ValueError("historyTypes")
        return {names[a] for a in asked}
