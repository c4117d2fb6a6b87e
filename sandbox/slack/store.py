"""The workspace's live state: what the Web API reads and the mutations tests make."""

from __future__ import annotations

import copy
import threading
import uuid
from typing import Optional

from .ids import format_ts, micros, ts_key
from .seed import Record, Workspace, set_thread_fields


class UnknownChannelError(KeyError):
    """No such channel (or it was deleted)."""


class UnknownMessageError(KeyError):
    """No such message in the channel."""


class Store:
    """Channels, users, members, messages and threads; every method is thread-safe.

    Reads return deep copies, so callers (and served pages) never alias the state.
    """

    def __init__(self, workspace: Workspace) -> None:
        """Takes over a seeded workspace."""
        self.workspace = workspace
        self._lock = threading.RLock()
        self._channels = {c["id"]: c for c in workspace.channels}
        self._users = {u["id"]: u for u in workspace.users}
        self._messages: dict[str, dict[str, Record]] = {
            cid: {m["ts"]: m for m in msgs} for cid, msgs in workspace.messages.items()
        }
        self._replies = {key: list(value) for key, value in workspace.replies.items()}
        self._members = {cid: list(m) for cid, m in workspace.members.items()}
        self._deleted: set[str] = set()
        seeded = [ts for msgs in self._messages.values() for ts in msgs]
        seeded += [r["ts"] for rs in self._replies.values() for r in rs]
        self._last_us = max((int(ts_key(ts) * 1_000_000) for ts in seeded), default=0)

    # Reads -------------------------------------------------------------------------------

    def all_channels(self) -> list[Record]:
        """Every channel not deleted, the bot's or not."""
        with self._lock:
            return [
                copy.deepcopy(c) for cid, c in self._channels.items() if cid not in self._deleted
            ]

    def channels(self) -> list[Record]:
        """What a bot token lists: public channels and the private ones its bot user is in.

        Bot tokens list only private channels their bot user belongs to
        (https://docs.slack.dev/reference/methods/conversations.list, "Usage info").
        """
        return [c for c in self.all_channels() if not c["is_private"] or c["is_member"]]

    def channel(self, channel_id: str) -> Optional[Record]:
        """One channel (a copy), or None when unknown or deleted."""
        with self._lock:
            found = self._channels.get(channel_id)
            if found is None or channel_id in self._deleted:
                return None
            return copy.deepcopy(found)

    def users(self) -> list[Record]:
        """Every user, deleted ones and bots included (as ``users.list`` returns them)."""
        with self._lock:
            return [copy.deepcopy(u) for u in self._users.values()]

    def messages(self, channel_id: str) -> list[Record]:
        """Top-level messages of a channel, oldest first.

        Raises:
            UnknownChannelError: No such channel.
        """
        with self._lock:
            self._require(channel_id)
            msgs = self._messages.get(channel_id, {})
            return [copy.deepcopy(msgs[ts]) for ts in sorted(msgs, key=ts_key)]

    def replies(self, channel_id: str, thread_ts: str) -> list[Record]:
        """The replies of one thread, oldest first, without the parent (empty if none)."""
        with self._lock:
            self._require(channel_id)
            return copy.deepcopy(self._replies.get((channel_id, thread_ts), []))

    def threads(self, channel_id: str) -> list[str]:
        """The ``thread_ts`` of every thread with replies in a channel."""
        with self._lock:
            return sorted(
                (ts for (cid, ts), rs in self._replies.items() if cid == channel_id and rs),
                key=ts_key,
            )

    def message(self, channel_id: str, ts: str) -> Optional[Record]:
        """A top-level message or a reply, or None."""
        with self._lock:
            found = self._messages.get(channel_id, {}).get(ts)
            if found is None:
                found = self._find_reply(channel_id, ts)
            return copy.deepcopy(found) if found is not None else None

    def members(self, channel_id: str) -> list[str]:
        """User ids of a channel's members."""
        with self._lock:
            self._require(channel_id)
            return list(self._members.get(channel_id, []))

    def is_member(self, channel_id: str, user_id: str) -> bool:
        """Whether ``user_id`` is in the channel."""
        with self._lock:
            return user_id in self._members.get(channel_id, [])

    # Mutations ---------------------------------------------------------------------------

    def next_ts(self, now: float) -> str:
        """A ts at ``now`` (or just after the newest one), so new messages sort last."""
        with self._lock:
            self._last_us = max(micros(now), self._last_us + 1)
            return format_ts(self._last_us)

    def post(
        self, channel_id: str, text: str, user: str, ts: str, thread_ts: Optional[str]
    ) -> Record:
        """Adds a message (a reply when ``thread_ts``); returns it.

        Raises:
            UnknownChannelError: No such channel.
            UnknownMessageError: ``thread_ts`` is not a top-level message of the channel.
        """
        message: Record = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": self.workspace.team_id,
            "client_msg_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{channel_id}/{ts}")),
        }
        with self._lock:
            self._require(channel_id)
            if thread_ts is None:
                self._messages.setdefault(channel_id, {})[ts] = message
                return copy.deepcopy(message)
            parent = self._messages.get(channel_id, {}).get(thread_ts)
            if parent is None:
                raise UnknownMessageError(thread_ts)
            message["thread_ts"] = thread_ts
            message["parent_user_id"] = parent.get("user", "")
            replies = self._replies.setdefault((channel_id, thread_ts), [])
            replies.append(message)
            set_thread_fields(parent, replies)
            return copy.deepcopy(message)

    def edit(self, channel_id: str, ts: str, text: str, edited_ts: str) -> tuple[Record, Record]:
        """Changes a message's text and sets ``edited``; returns (before, after).

        Raises:
            UnknownMessageError: No such message.
        """
        with self._lock:
            self._require(channel_id)
            found = self._messages.get(channel_id, {}).get(ts) or self._find_reply(channel_id, ts)
            if found is None:
                raise UnknownMessageError(ts)
            before = copy.deepcopy(found)
            found["text"] = text
            found["edited"] = {"user": found.get("user", ""), "ts": edited_ts}
            return before, copy.deepcopy(found)

    def delete(self, channel_id: str, ts: str) -> Record:
        """Removes a message (a thread parent takes its replies along); returns it.

        Raises:
            UnknownMessageError: No such message.
        """
        with self._lock:
            self._require(channel_id)
            top = self._messages.get(channel_id, {})
            if ts in top:
                self._replies.pop((channel_id, ts), None)
                return top.pop(ts)
            for (cid, thread_ts), replies in self._replies.items():
                for index, reply in enumerate(replies):
                    if cid == channel_id and reply["ts"] == ts:
                        del replies[index]
                        set_thread_fields(top[thread_ts], replies)
                        return reply
            raise UnknownMessageError(ts)

    def delete_channel(self, channel_id: str) -> Record:
        """Deletes a channel; its messages become unreachable."""
        with self._lock:
            self._require(channel_id)
            self._deleted.add(channel_id)
            return copy.deepcopy(self._channels[channel_id])

    def archive_channel(self, channel_id: str) -> Record:
        """Sets ``is_archived``."""
        with self._lock:
            self._require(channel_id)
            self._channels[channel_id]["is_archived"] = True
            return copy.deepcopy(self._channels[channel_id])

    def _require(self, channel_id: str) -> None:
        if channel_id not in self._channels or channel_id in self._deleted:
            raise UnknownChannelError(channel_id)

    def _find_reply(self, channel_id: str, ts: str) -> Optional[Record]:
        for (cid, _), replies in self._replies.items():
            if cid == channel_id:
                for reply in replies:
                    if reply["ts"] == ts:
                        return reply
        return None
