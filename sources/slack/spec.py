"""Slack declared for the kit's connector framework: five resources on six Web API methods."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dlt.common.schema.typing import TColumnSchema

from sources.kit.connector import ConnectorSpec, ResourceSpec
from sources.kit.http_config import HttpConfiguration
from sources.kit.pagination import LoopSafeJSONResponseCursorPaginator

from .errors import raise_for_slack
from .settings import (
    DEFAULT_RATE_LIMIT,
    DEFAULT_RESOURCES,
    HISTORY,
    LIST,
    MEMBERS,
    METHOD_LIMITS,
    REPLIES,
    USERS,
)

__all__ = ["SPEC", "method_groups", "message_columns"]


def method_groups(per_minute: Mapping[str, float]) -> dict[str, tuple[str, float]]:
    """Limiter groups, one per method: name to ``(path regex, requests per second)``."""
    return {
        method: (rf"/{re.escape(method)}$", limit / 60.0) for method, limit in per_minute.items()
    }


def message_columns() -> dict[str, TColumnSchema]:
    """Columns of messages and replies (a fresh dict per call: dlt writes into hints)."""
    return {
        "channel_id": {"data_type": "text", "nullable": False},
        "ts": {"data_type": "text", "nullable": False},
        "thread_ts": {"data_type": "text", "nullable": True},
        "posted_at": {"data_type": "timestamp", "nullable": True},
        "edited_at": {"data_type": "timestamp", "nullable": True},
        "deleted": {"data_type": "bool"},
        "deleted_at": {"data_type": "timestamp", "nullable": True},
    }


def keyed_columns() -> dict[str, TColumnSchema]:
    """Columns of channels and users: the id and the soft-delete flag."""
    return {
        "id": {"data_type": "text", "nullable": False},
        "deleted": {"data_type": "bool"},
        "deleted_at": {"data_type": "timestamp", "nullable": True},
    }


def http_defaults() -> HttpConfiguration:
    """Slack's HTTP defaults: the source-wide pace (methods have their own groups)."""
    return HttpConfiguration(rate_limit=DEFAULT_RATE_LIMIT)


RESOURCE_SPECS = (
    # Channels are listed in full every run: one gone from the list was deleted.
    ResourceSpec("channels", LIST, columns=keyed_columns(), deletes=("relist", "webhook")),
    # users.list returns deactivated users with deleted = true (Slack's own flag).
    ResourceSpec("users", USERS, columns=keyed_columns(), deletes=("none",)),
    ResourceSpec(
        "messages",
        HISTORY,
        primary_key=("channel_id", "ts"),
        cursor="ts",
        columns=message_columns(),
        deletes=("webhook",),
    ),
    # Replies get their own table: read by another method on another schedule, and a
    # reply broadcast to the channel appears in history too, so one table would be merged
    # by two resources at once.
    ResourceSpec(
        "replies",
        REPLIES,
        primary_key=("channel_id", "ts"),
        cursor="ts",
        columns=message_columns(),
        deletes=("webhook",),
    ),
    ResourceSpec(
        "channel_members",
        MEMBERS,
        primary_key=("channel_id", "user_id"),
        write_disposition="replace",
        columns={
            "channel_id": {"data_type": "text", "nullable": False},
            "user_id": {"data_type": "text", "nullable": False},
        },
    ),
)

SPEC = ConnectorSpec(
    name="slack",
    title="Slack",
    data_selector="$",
    # Cursor paging (https://api.slack.com/apis/pagination): the next page's cursor is
    # response_metadata.next_cursor, "" on the last page.
    paginator=lambda: LoopSafeJSONResponseCursorPaginator(
        cursor_path="response_metadata.next_cursor", cursor_param="cursor"
    ),
    raise_for_error=raise_for_slack,
    rate_limit=DEFAULT_RATE_LIMIT,
    rate_limit_groups=method_groups(METHOD_LIMITS),
    http_defaults=http_defaults,
    resources=RESOURCE_SPECS,
    default_resources=DEFAULT_RESOURCES,
)
"""The Slack connector (``sources.slack``)."""
