"""Slack source: channels, users, messages, thread replies and channel members.

Messages are read per channel from conversations.history from the saved high-water mark
(``oldest``), re-reading ``lookback_days`` behind it for edits and for threads with new
replies; each channel's checkpoint is saved page by page, so a long backfill under the
non-Marketplace limits (1 request per minute) resumes where it stopped. Thread replies
go to their own ``replies`` table. Deletes come from the Events API through the webhook
receiver (``pipelines/slack_webhooks.py``) and, for channels, from their full listing.
Settings are read from ``sources.slack.*`` (see :func:`slack_source` and :func:`make_client`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from sources.kit.connector import make_guard, make_resource, select_names, start_run
from sources.kit.deadletters import contract_for_dead_letters
from sources.kit.errors import ConfigurationError
from sources.kit.first_sync import parse_start
from sources.kit.monitor import SyncMonitor
from sources.kit.settings import ListSetting, str_list

from .budget import RunBudget
from .client import SlackClient, make_client
from .history import message_rows
from .lists import channel_rows, member_rows, user_rows
from .run import SlackRun
from .settings import CHANNEL_TYPES, DEFAULT_RESOURCES, LOOKBACK_DAYS, RESOURCES
from .spec import SPEC
from .threads import ThreadFeed, reply_rows

logger = logging.getLogger("sluice.slack")

__all__ = ["DEFAULT_RESOURCES", "RESOURCES", "SlackClient", "make_client", "slack_source"]


@dlt.source(name="slack", max_table_nesting=0, schema_contract=contract_for_dead_letters())
def slack_source(
    resources: ListSetting = None,
    channel_types: ListSetting = None,
    lookback_days: float = LOOKBACK_DAYS,
    time_budget_s: Optional[float] = None,
    start_date: Optional[str] = None,
    client: Optional[SlackClient] = None,
    run_id: Optional[str] = None,
    monitor: Optional[SyncMonitor] = None,
    now: Optional[float] = None,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Loads a Slack workspace as the bot sees it.

    Connection settings (``bot_token``, ``base_url``, ``marketplace_limits``,
    ``method_limits``, ``max_wait_s``...) are read from ``sources.slack.*`` by
    :func:`make_client`.

    Args:
        resources: What to load (``sources.slack.resources``): channels, users, messages,
            replies, channel_members; all but channel_members when omitted.
        channel_types: conversations.list ``types`` (public_channel, private_channel, mpim,
            im); public and private channels when omitted.
        lookback_days: Days re-read behind each channel's high-water mark.
        time_budget_s: Seconds the run may read before it stops cleanly (None: no limit).
        start_date: First sync only: messages at or after this ISO 8601 date.
        client: A prebuilt client; built from ``sources.slack.*`` when omitted.
        run_id: Identifier of this run (dead letters, ledger).
        monitor: Run ledger counters.
        now: Run start in unix seconds (injected in tests).
        clock: Monotonic clock of the time budget (injected in tests).

    Returns:
        One resource per selected name.
    """
    selected = select_names(SPEC, str_list(resources, SPEC.resources_setting))
    if "replies" in selected and "messages" not in selected:
        raise ConfigurationError(
            f"{SPEC.resources_setting}: replies are found through messages; select both"
        )
    types = tuple(str_list(channel_types, f"{SPEC.section}.channel_types") or CHANNEL_TYPES)
    start = parse_start(start_date, f"{SPEC.section}.start_date")
    client = client or make_client()
    started = start_run(SPEC, client, selected, run_id=run_id, monitor=monitor)
    run = SlackRun(
        client=client,
        monitor=started.monitor,
        run_id=started.run_id,
        budget=RunBudget(time_budget_s, client.method_limits, clock),
        channel_types=types,
        lookback_s=float(lookback_days) * 86400.0,
        first_oldest=f"{start.timestamp():.6f}" if start else None,
        now=now if now is not None else time.time(),
    )
    feed = ThreadFeed(enabled="replies" in selected)
    return [build_resource(name, run, feed) for name in selected]


def build_resource(name: str, run: SlackRun, feed: ThreadFeed) -> DltResource:
    """The dlt resource of one selected name."""
    resource = SPEC.resource(name)
    return make_resource(resource, rows_of(name, run, feed))


def rows_of(name: str, run: SlackRun, feed: ThreadFeed) -> Iterator[Any]:
    """The generator of one resource (its guard built inside the extraction)."""
    guard = make_guard(SPEC, SPEC.resource(name), run.run_id)
    if name == "channels":
        yield from channel_rows(run, guard)
    elif name == "users":
        yield from user_rows(run, guard)
    elif name == "channel_members":
        yield from member_rows(run, guard)
    elif name == "messages":
        state = dlt.current.resource_state("messages").setdefault("channels", {})
        try:
            for item in message_rows(run, guard, state):
                if isinstance(item, list):
                    feed.put_rows(item)
                yield item
        finally:
            feed.close()
    else:
        yield from reply_rows(run, guard, feed, dlt.current.resource_state("replies"))
