"""The Table API (``GET /api/now/table/<table>[/<sys_id>]``) and the token endpoint, without HTTP.

Rate limits follow ratelimit.py (documented headers only), read ACLs and single records
record_api.py, delete auditing audit.py.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qs, urlencode

from .auth import Authenticator, parse_form
from .faults import Faults
from .query import QueryError, parse_query
from .ratelimit import RateLimitRule
from .record_api import READ_ROLES, Payload, forbidden, get_record, split_path
from .store import Store, UnknownTableError

TABLE_PREFIX = "/api/now/table/"
TOKEN_PATH = "/oauth_token.do"
MAX_LIMIT = 10000
DEFAULT_LIMIT = 10000


@dataclass
class Reply:
    """What the HTTP layer writes (or a dropped connection)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass
class Stats:
    """Request counters for tests."""

    requests: int = 0
    throttled: int = 0
    failed: int = 0
    dropped: int = 0
    unauthorized: int = 0
    by_table: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, attribute: str, table: Optional[str] = None) -> None:
        """Adds one to a counter (and to ``by_table``)."""
        with self._lock:
            setattr(self, attribute, getattr(self, attribute) + 1)
            if table is not None:
                self.by_table[table] += 1

    def reset(self) -> None:
        """Zeroes every counter."""
        with self._lock:
            self.requests = self.throttled = self.failed = self.dropped = self.unauthorized = 0
            self.by_table.clear()


def json_reply(status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> Reply:
    """A JSON reply."""
    return Reply(status, json.dumps(payload).encode("utf-8"), dict(headers or {}))


def payload_reply(payload: Payload) -> Reply:
    """A ``(status, body)`` pair as a JSON reply."""
    return json_reply(payload[0], payload[1])


def sn_error(status: int, message: str, detail: str) -> Reply:
    """ServiceNow's error body shape."""
    return json_reply(
        status, {"error": {"message": message, "detail": detail}, "status": "failure"}
    )


def quota_cancelled() -> Reply:
    """The transaction quota rule's cancellation, body as gflewis/sndml3#38 quotes it.

    The HTTP status is not in the stored docs or issues; 500 is an assumption.
    """
    message = "Transaction cancelled: maximum execution time exceeded"
    detail = (
        f"{message} Check logs for error trace or enable glide.rest.debug property to "
        "verify REST request processing"
    )
    return sn_error(500, message, detail)


class TableApi:
    """Routes one request: token endpoint, auth, rate limit, faults, then the table listing."""

    def __init__(
        self,
        store: Store,
        auth: Authenticator,
        faults: Faults,
        base_url: str,
        rate_rule: Optional[RateLimitRule] = None,
    ) -> None:
        """Wires the parts; ``base_url`` is set by the server once it listens."""
        self.store = store
        self.auth = auth
        self.faults = faults
        self.base_url = base_url
        self.rate_rule = rate_rule or RateLimitRule(None, lambda: 0.0)
        self.stats = Stats()

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """Answers one request."""
        if path == TOKEN_PATH and method == "POST":
            token = self.auth.token(parse_form(body), headers.get("authorization"))
            return json_reply(token.status, token.body)
        if not path.startswith(TABLE_PREFIX) or method != "GET":
            return sn_error(400, "Invalid URL", f"{method} {path} is not served by the sandbox")
        table, sys_id = split_path(path[len(TABLE_PREFIX) :])
        self.stats.count("requests", table)
        if self.faults.take_drop():
            self.stats.count("dropped")
            return Reply(drop=True)
        user = self.auth.user_of(headers.get("authorization"))
        if user is None:
            self.stats.count("unauthorized")
            return sn_error(401, "User Not Authenticated", "Required to provide Auth information")
        throttle, _ = self.faults.admit(user or "oauth")
        if throttle is not None:
            self.stats.count("throttled")
            reply = sn_error(429, "Rate limit exceeded", "Too many requests")
            reply.headers.update(throttle.headers)
            return reply
        verdict = self.rate_rule.admit(user or "oauth")
        if verdict.denied:
            self.stats.count("throttled")
            reply = sn_error(429, "Rate limit exceeded", verdict.detail)
            reply.headers.update(verdict.headers)
            return reply
        status = self.faults.take_failure()
        if status is not None:
            self.stats.count("failed")
            return sn_error(status, "Service unavailable", "injected fault")
        role = READ_ROLES.get(table)
        if role is not None and not self.auth.has_role(user, role):
            reply = payload_reply(forbidden())
        elif sys_id:
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            shaped = get_record(self.store, table, sys_id, lambda r: self.shape(table, r, params))
            reply = payload_reply(shaped)
        else:
            reply = self.list_table(table, parse_qs(query, keep_blank_values=True))
        reply.headers.update(verdict.headers)
        return reply

    def list_table(self, table: str, params: Mapping[str, list[str]]) -> Reply:
        """``GET /api/now/table/<table>`` with the sysparm_* parameters."""
        one = {k: v[-1] for k, v in params.items()}
        try:
            limit = min(MAX_LIMIT, max(1, int(one.get("sysparm_limit") or DEFAULT_LIMIT)))
            offset = max(0, int(one.get("sysparm_offset") or 0))
            total, window = self.store.select_window(
                table, parse_query(one.get("sysparm_query", "")), offset, limit
            )
        except UnknownTableError:
            return sn_error(400, "Invalid table", f"Invalid table {table}")
        except (QueryError, ValueError) as exc:
            return sn_error(400, "Invalid query", str(exc))
        if self.faults.over_quota(offset):
            return quota_cancelled()
        # Row ACLs filter after the limit picked the window (faults.row_acl).
        page = [self.shape(table, r, one) for r in window if self.faults.readable(table, r)]
        self.faults.page_served(table, one.get("sysparm_query", ""))
        headers = {"X-Total-Count": str(total)}
        links = self.links(table, one, offset, limit, total)
        if links:
            headers["Link"] = links
        return json_reply(200, {"result": page}, headers)

    def shape(
        self, table: str, record: dict[str, str], params: Mapping[str, str]
    ) -> dict[str, Any]:
        """Applies ``sysparm_fields``, ``sysparm_display_value`` and injected malformation."""
        if self.faults.take_malformed(table):
            record = {**record, "sys_updated_on": "not a date"}
        fields = [f for f in params.get("sysparm_fields", "").split(",") if f]
        hidden = self.faults.hidden_fields(table)
        chosen = {
            k: v for k, v in record.items() if (not fields or k in fields) and k not in hidden
        }
        if params.get("sysparm_display_value", "false").lower() == "all":
            return {k: {"display_value": v, "value": v} for k, v in chosen.items()}
        return dict(chosen)

    def links(
        self, table: str, params: Mapping[str, str], offset: int, limit: int, total: int
    ) -> str:
        """The ``Link`` header: first, prev, next and last pages."""

        def url(at: int) -> str:
            query = urlencode({**params, "sysparm_limit": limit, "sysparm_offset": at})
            return f"{self.base_url}{TABLE_PREFIX}{table}?{query}"

        last = max(0, ((total - 1) // limit) * limit) if total else 0
        parts = [f'<{url(0)}>;rel="first"']
        if offset > 0:
            parts.append(f'<{url(max(0, offset - limit))}>;rel="prev"')
        if offset + limit < total:
            parts.append(f'<{url(offset + limit)}>;rel="next"')
        parts.append(f'<{url(last)}>;rel="last"')
        return ",".join(parts)
