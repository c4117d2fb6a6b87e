"""Faults and rate limits: 5xx, dropped connections, 429 storms, malformed records.

Also what an instance's configuration does to a listing: field- and row-level read ACLs,
the REST transaction quota on deep offsets, and hooks that change the data between pages.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Optional

from .clock import Clock


@dataclass(frozen=True)
class Throttle:
    """A 429 answer and the headers it carries."""

    retry_after: int
    headers: dict[str, str]


class Faults:
    """One-shot fault switches and a fixed-window rate limit per user. Thread-safe."""

    def __init__(self, rate_limit: Optional[int], window_s: int, clock: Clock) -> None:
        """Creates the switches.

        Args:
            rate_limit: Requests allowed per window (None: unlimited, no headers).
            window_s: Window length in seconds.
            clock: Unix seconds (the window and ``X-RateLimit-Reset``).
        """
        self.rate_limit = rate_limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._fail: list[int] = []
        self._drop = 0
        self._throttle: list[int] = []
        self._malform: dict[Optional[str], int] = {}
        self._windows: dict[str, tuple[int, int]] = {}
        self._hidden_fields: dict[str, set[str]] = {}
        self._row_acls: dict[str, Callable[[Mapping[str, str]], bool]] = {}
        self._page_hooks: dict[tuple[str, int], list[Callable[[], object]]] = {}
        self._pages_served: dict[str, int] = {}
        self.offset_quota: Optional[int] = None
        self.listings: list[tuple[str, str]] = []

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next ``count`` API requests answer ``status``."""
        with self._lock:
            self._fail.extend([status] * count)

    def drop_next(self, count: int) -> None:
        """The next ``count`` API requests get a connection reset."""
        with self._lock:
            self._drop += count

    def throttle_next(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` API requests answer 429 with ``Retry-After``."""
        with self._lock:
            self._throttle.extend([retry_after] * count)

    def malform_next(self, count: int, table: Optional[str] = None) -> None:
        """The next ``count`` records served (of ``table``, or any) get a bad ``sys_updated_on``."""
        with self._lock:
            self._malform[table] = self._malform.get(table, 0) + count

    def take_failure(self) -> Optional[int]:
        """The status to fail this request with, if any."""
        with self._lock:
            return self._fail.pop(0) if self._fail else None

    def take_drop(self) -> bool:
        """Whether to drop this request's connection."""
        with self._lock:
            if self._drop <= 0:
                return False
            self._drop -= 1
            return True

    def take_malformed(self, table: str) -> bool:
        """Whether to spoil the next record of ``table``."""
        with self._lock:
            for key in (table, None):
                if self._malform.get(key, 0) > 0:
                    self._malform[key] -= 1
                    return True
            return False

    def admit(self, user: str) -> tuple[Optional[Throttle], dict[str, str]]:
        """Counts a request; returns a throttle (or None) and the ``X-RateLimit-*`` headers."""
        with self._lock:
            if self._throttle:
                wait = self._throttle.pop(0)
                return Throttle(wait, {"Retry-After": str(wait)}), {}
            if self.rate_limit is None:
                return None, {}
            now = self._clock()
            start = int(now // self.window_s) * self.window_s
            seen_start, used = self._windows.get(user, (start, 0))
            used = used + 1 if seen_start == start else 1
            self._windows[user] = (start, used)
            reset = start + self.window_s
            headers = {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
                "X-RateLimit-Reset": str(reset),
            }
            if used > self.rate_limit:
                wait = max(1, math.ceil(reset - now))
                return Throttle(wait, {**headers, "Retry-After": str(wait)}), headers
            return None, headers

    def hide_field(self, table: str, name: str) -> None:
        """A field-level read ACL: ``name`` is left out of every record of ``table``.

        Instances omit (or blank) a field the user may not read and say nothing
        (KB2971488 "REST API 403: Forbidden - Field-Level ACL Diagnosis Guide":
        "API response returns empty fields"); queries and ORDERBY on it still run.
        """
        with self._lock:
            self._hidden_fields.setdefault(table, set()).add(name)

    def hidden_fields(self, table: str) -> set[str]:
        """Fields of ``table`` the field ACLs hide."""
        with self._lock:
            return set(self._hidden_fields.get(table, ()))

    def row_acl(self, table: str, readable: Callable[[Mapping[str, str]], bool]) -> None:
        """A row-level read ACL on ``table``: only records ``readable`` accepts are returned.

        It applies after ``sysparm_limit``/``sysparm_offset`` picked the page, so pages
        come back short (even empty) and ``X-Total-Count`` still counts the hidden rows
        (KB3047115 "Inbound Web Services - Empty or Incomplete Results": "ACLs filter
        rows after the query runs", "sysparm_limit=36 returns only 12 records").
        """
        with self._lock:
            self._row_acls[table] = readable

    def readable(self, table: str, record: Mapping[str, str]) -> bool:
        """Whether the row ACL of ``table`` (if any) lets the user read ``record``."""
        with self._lock:
            acl = self._row_acls.get(table)
        return acl is None or acl(record)

    def over_quota(self, offset: int) -> bool:
        """Whether a listing at ``offset`` runs past the REST Table API transaction quota.

        The base system's "REST Table API request timeout" quota rule cancels Table API
        transactions after 60 s (docs "Default quota rules", platform-performance/concept/
        c_DefaultQuotaRules.html), which deep ``sysparm_offset`` queries on large tables
        reach; the sandbox stands in for time with ``offset_quota`` (None: no quota).
        """
        return self.offset_quota is not None and offset > self.offset_quota

    def after_page(self, table: str, page: int, action: Callable[[], object]) -> None:
        """Runs ``action`` right after the ``page``-th listing (1-based) of ``table`` is built.

        Tests change records between two page requests with it.
        """
        with self._lock:
            self._page_hooks.setdefault((table, page), []).append(action)

    def page_served(self, table: str, query: str = "") -> None:
        """Counts one listing page of ``table`` (and its query) and runs its hooks."""
        with self._lock:
            served = self._pages_served.get(table, 0) + 1
            self._pages_served[table] = served
            self.listings.append((table, query))
            hooks = self._page_hooks.pop((table, served), [])
        for action in hooks:
            action()
