"""The listed resources: channels (with deletes by re-list), users, channel members."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from sources.kit.deadletters import RecordGuard
from sources.kit.emit import emit_page
from sources.kit.loaded import destination_sql, has_loaded, live_keys, rows_by_key

from .errors import SlackAccessError
from .rows import channel_row
from .run import Skips, SlackRun
from .settings import MEMBERS, USERS

logger = logging.getLogger("sluice.slack")


def channel_rows(run: SlackRun, guard: RecordGuard) -> Iterator[Any]:
    """Every conversation, then the loaded ones no longer listed as ``deleted = true``."""
    channels = run.channels()
    yield from emit_page(guard, [channel_row(c) for c in channels], run.monitor, "channels")
    gone = vanished_channels({str(c["id"]) for c in channels}, run.now)
    if gone:
        yield from emit_page(guard, gone, run.monitor, "channels", deleted=len(gone), pages=0)


def vanished_channels(listed: set[str], now: float) -> list[dict[str, Any]]:
    """Loaded, not deleted channels that conversations.list no longer returns.

    conversations.list lists archived channels too (exclude_archived=false), so a
    channel missing from a complete listing was deleted.
    """
    if not has_loaded("channels"):
        return []
    with destination_sql("slack channels") as client:
        if client is None:
            return []
        missing = sorted(live_keys(client, "channels", "id") - listed)
        rows = rows_by_key(client, "channels", "id", missing) if missing else []
    stamp = datetime.fromtimestamp(now, tz=timezone.utc)
    return [{**row, "deleted": True, "deleted_at": stamp} for row in rows]


def user_rows(run: SlackRun, guard: RecordGuard) -> Iterator[Any]:
    """users.list, deactivated users included with Slack's own ``deleted`` flag
    (https://api.slack.com/methods/users.list)."""
    try:
        for page in run.client.pages(USERS, "members", {}, label="users"):
            rows = [{**user, "deleted": bool(user.get("deleted"))} for user in page.items]
            yield from emit_page(guard, rows, run.monitor, "users")
    except SlackAccessError as exc:
        logger.warning("slack users: %s; the other resources go on", exc)
        run.client.notes.append(f"users: skipped, needs scope {exc.needed}")
        run.monitor.resource_failed("users", exc)


def member_rows(run: SlackRun, guard: RecordGuard) -> Iterator[Any]:
    """``(channel_id, user_id)`` of every readable channel (https://api.slack.com/methods/conversations.members)."""
    skips = Skips("channel_members")
    for channel in run.readable(run.channels(), "channel_members"):
        channel_id = str(channel["id"])
        try:
            pages = run.client.pages(
                MEMBERS, "members", {"channel": channel_id}, label="channel_members"
            )
            for page in pages:
                rows = [{"channel_id": channel_id, "user_id": user} for user in page.items]
                yield from emit_page(guard, rows, run.monitor, "channel_members")
        except SlackAccessError as exc:
            skips.add(channel, exc)
    skips.report(run)
