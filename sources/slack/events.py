"""Slack's Events API on the kit's webhook receiver, and the drain into the dataset.

Requests are checked as "Verifying requests from Slack" says
(https://api.slack.com/authentication/verifying-requests-from-slack): ``X-Slack-Signature``
is ``v0=`` HMAC-SHA256 of ``v0:<X-Slack-Request-Timestamp>:<body>``, refused more than
five minutes off. The ``url_verification`` challenge is answered with its ``challenge``
(https://api.slack.com/events/url_verification). Deliveries are stored by ``event_id``,
so Slack's retries (``X-Slack-Retry-Num``) are stored once.

The drain turns ``message_deleted`` into ``deleted = true`` rows (the previous message's
fields kept), ``message_changed`` into the edited row, and ``channel_deleted`` /
``group_deleted`` into the loaded channel marked deleted; other events are left to the poll.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

import dlt
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response

from sources.kit.deadletters import contract_for_dead_letters
from sources.kit.loaded import destination_sql, has_loaded, rows_by_key
from sources.kit.webhooks.inbox import Inbox, InboxEvent
from sources.kit.webhooks.receiver import EventIdentity, Verifier, create_receiver_app
from sources.kit.webhooks.signatures import require_header, verify_slack_signature

from .rows import message_row
from .spec import keyed_columns, message_columns

__all__ = [
    "WEBHOOK_PATH",
    "EventPlan",
    "create_slack_receiver",
    "identify_slack",
    "plan_events",
    "slack_events_source",
    "slack_verifier",
]

logger = logging.getLogger("sluice.slack.events")

WEBHOOK_PATH = "/slack/events"
TOLERANCE_S = 300.0
"""Slack's advice: refuse requests more than five minutes old (replay protection)."""
CHANNEL_GONE = ("channel_deleted", "group_deleted")


def slack_verifier(secret: str, clock: Callable[[], float] = time.time) -> Verifier:
    """The receiver's signature check for one signing secret."""

    def verify(body: bytes, headers: Mapping[str, str]) -> None:
        verify_slack_signature(
            body,
            require_header(headers, "X-Slack-Request-Timestamp"),
            require_header(headers, "X-Slack-Signature"),
            secret,
            tolerance_s=TOLERANCE_S,
            now=clock(),
        )

    return verify


def identify_slack(payload: Any) -> EventIdentity:
    """``event_id``, ``event_time`` and ``<type>[.<subtype>]`` of an ``event_callback``.

    Raises:
        KeyError: Not an event callback (no ``event_id``/``event_time``/``event``).
    """
    event = payload["event"]
    kind = str(event["type"]) + (f".{event['subtype']}" if event.get("subtype") else "")
    return EventIdentity(str(payload["event_id"]), int(payload["event_time"]), kind)


def answer_challenge(payload: Any) -> Optional[Response]:
    """The ``url_verification`` answer: the challenge back; None for anything else."""
    if isinstance(payload, dict) and payload.get("type") == "url_verification":
        return JSONResponse({"challenge": str(payload["challenge"])})
    return None


def create_slack_receiver(
    inbox: Inbox, secret: str, clock: Callable[[], float] = time.time
) -> Starlette:
    """The receiver app: ``POST /slack/events`` verified, challenged, stored."""
    return create_receiver_app(
        inbox=inbox,
        verifier=slack_verifier(secret, clock),
        identify=identify_slack,
        path=WEBHOOK_PATH,
        clock=clock,
        respond=answer_challenge,
    )


@dataclass
class EventPlan:
    """What a batch of events does to the tables, newest change of each key last."""

    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    channels_gone: dict[str, datetime] = field(default_factory=dict)
    ignored: int = 0

    @property
    def changes(self) -> int:
        """Rows the plan writes."""
        return len(self.messages) + len(self.replies) + len(self.channels_gone)


def is_reply(message: Mapping[str, Any]) -> bool:
    """A thread reply (its own table) rather than a channel message."""
    thread_ts = message.get("thread_ts")
    return bool(thread_ts) and thread_ts != message.get("ts")


def plan_events(events: Iterable[InboxEvent]) -> EventPlan:
    """The rows of a batch of stored events, applied in the order Slack made them."""
    plan = EventPlan()
    for stored in sorted(events, key=lambda e: (e.created, e.received_at)):
        event = json.loads(stored.payload).get("event") or {}
        when = datetime.fromtimestamp(stored.created, tz=timezone.utc)
        channel = str(event.get("channel") or "")
        subtype = event.get("subtype")
        if event.get("type") in CHANNEL_GONE:
            plan.channels_gone[channel] = when
        elif subtype == "message_deleted":
            before = event.get("previous_message") or {"ts": event.get("deleted_ts")}
            row = {**message_row(channel, before), "deleted": True, "deleted_at": when}
            table = plan.replies if is_reply(before) else plan.messages
            table[(channel, str(row["ts"]))] = row
        elif subtype == "message_changed" and isinstance(event.get("message"), dict):
            row = message_row(channel, event["message"])
            table = plan.replies if is_reply(event["message"]) else plan.messages
            table[(channel, str(row["ts"]))] = row
        else:
            plan.ignored += 1
    return plan


def gone_channel_rows(gone: Mapping[str, datetime]) -> Iterator[dict[str, Any]]:
    """The loaded rows of deleted channels, marked deleted (their fields kept)."""
    if not gone or not has_loaded("channels"):
        return
    with destination_sql("slack channels") as client:
        if client is None:
            return
        loaded = rows_by_key(client, "channels", "id", sorted(gone))
    for row in loaded:
        yield {**row, "deleted": True, "deleted_at": gone[str(row["id"])]}


@dlt.source(name="slack", max_table_nesting=0, schema_contract=contract_for_dead_letters())
def slack_events_source(plan: EventPlan) -> Any:
    """The drained changes, merged into the poll's tables (same keys and columns)."""
    message_key = ["channel_id", "ts"]
    return [
        dlt.resource(
            list(plan.messages.values()),
            name="message_events",
            table_name="messages",
            write_disposition="merge",
            primary_key=message_key,
            columns=message_columns(),
        ),
        dlt.resource(
            list(plan.replies.values()),
            name="reply_events",
            table_name="replies",
            write_disposition="merge",
            primary_key=message_key,
            columns=message_columns(),
        ),
        dlt.resource(
            gone_channel_rows(plan.channels_gone),
            name="channel_events",
            table_name="channels",
            write_disposition="merge",
            primary_key="id",
            columns=keyed_columns(),
        ),
    ]


def drain(pipeline: dlt.Pipeline, inbox: Inbox, batch: int = 1000) -> EventPlan:
    """Loads the pending events, then marks them done (a failed load leaves them pending).

    Returns:
        What the drained events changed.
    """
    total = EventPlan()
    while pending := inbox.pending(batch):
        plan = plan_events(pending)
        if plan.changes:
            pipeline.run(slack_events_source(plan))
        inbox.mark_done([e.event_id for e in pending])
        total.messages.update(plan.messages)
        total.replies.update(plan.replies)
        total.channels_gone.update(plan.channels_gone)
        total.ignored += plan.ignored
        if len(pending) < batch:
            break
    return total
