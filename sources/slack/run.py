"""What every Slack resource of one run shares: client, ledger, budget, the channel list."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

from sources.kit.monitor import SyncMonitor

from .budget import RunBudget
from .client import SlackClient
from .errors import SlackAccessError
from .settings import LIST

logger = logging.getLogger("sluice.slack")


class SkippedChannelsError(SlackAccessError):
    """Some channels (or a method) could not be read; the rest loaded."""


@dataclass
class Skips:
    """Channels one resource skipped, each with its one-line reason."""

    resource: str
    lines: list[str] = field(default_factory=list)

    def add(self, channel: dict[str, Any], error: SlackAccessError) -> None:
        """Logs and keeps one skipped channel."""
        line = f"#{channel.get('name', '?')} ({channel.get('id')}): {error.code}"
        if error.needed:
            line += f", needs scope {error.needed}"
        self.lines.append(line)
        logger.warning(
            "slack %s: skipped %s; the other channels go on",
            self.resource,
            line,
            extra={"resource": self.resource},
        )

    def report(self, run: SlackRun) -> None:
        """Writes the skipped channels to the run ledger (the resource is partial)."""
        if self.lines:
            run.client.notes.append(f"{self.resource}: {len(self.lines)} channel(s) skipped")
            run.monitor.resource_failed(
                self.resource,
                SkippedChannelsError(
                    f"skipped {len(self.lines)} channel(s): {'; '.join(self.lines)}",
                    code="skipped",
                    method="",
                ),
            )


@dataclass
class SlackRun:
    """The run's shared parts.

    Attributes:
        client: The Slack client.
        monitor: Run ledger counters.
        run_id: Identifier of the run.
        budget: Time budget and per-method pace.
        channel_types: ``types`` of conversations.list.
        lookback_s: History re-read behind each channel's high-water mark.
        first_oldest: ``oldest`` of a channel's first sync (from ``start_date``).
        now: Run start, unix seconds.
    """

    client: SlackClient
    monitor: SyncMonitor
    run_id: str
    budget: RunBudget
    channel_types: tuple[str, ...]
    lookback_s: float
    first_oldest: Optional[str]
    now: float
    _channels: Optional[list[dict[str, Any]]] = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def channels(self) -> list[dict[str, Any]]:
        """Every conversation of the configured types, archived included; listed once per
        run whichever resource asks first (they run in parallel)."""
        with self._lock:
            if self._channels is None:
                listed: list[dict[str, Any]] = []
                # https://api.slack.com/methods/conversations.list: exclude_archived false
                # keeps archived channels, whose history stays readable.
                params = {"types": ",".join(self.channel_types), "exclude_archived": "false"}
                for page in self.client.pages(LIST, "channels", params, label="channels"):
                    listed.extend(page.items)
                self._channels = listed
            return self._channels

    def stopped(self, resource: str, error: BaseException) -> None:
        """Records a resource that stopped early (ledger partial, a summary note)."""
        self.client.notes.append(f"{resource}: stopped early, resumes next run")
        self.monitor.resource_failed(resource, error)

    def readable(self, channels: list[dict[str, Any]], resource: str) -> list[dict[str, Any]]:
        """The channels the bot can read: members only (Slack answers not_in_channel
        otherwise, https://api.slack.com/methods/conversations.history#errors)."""
        outside = [c for c in channels if c.get("is_member") is False]
        if outside:
            names = ", ".join(f"#{c.get('name')} ({c.get('id')})" for c in outside)
            logger.warning(
                "slack %s: the bot is not a member of %s; invite it to load them",
                resource,
                names,
                extra={"resource": resource},
            )
        return [c for c in channels if c.get("is_member") is not False]
