"""Deterministic, realistic seed data: a workspace, its users, channels, messages and threads.

Shapes follow Slack's object docs: users (https://docs.slack.dev/reference/objects/user-object),
conversations (https://docs.slack.dev/reference/objects/conversation-object) and messages
with their subtypes ``channel_join``, ``bot_message`` and ``file_share``
(https://docs.slack.dev/reference/events/message), thread parents carrying ``reply_count``,
``reply_users``, ``latest_reply`` and replies carrying ``thread_ts`` and ``parent_user_id``
(https://docs.slack.dev/messaging/retrieving-messages, "Threading messages").
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from .ids import format_ts, micros, new_id

Record = dict[str, Any]

FIRST_NAMES = ("Ada", "Bruno", "Chen", "Dalia", "Emeka", "Freya", "Gael", "Hana", "Ivo", "Jaya")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Kowalski")
PHRASES = (
    "Deploy of {svc} is done, watching the dashboards.",
    "Can someone review my PR for {svc}?",
    "Standup notes are in the doc.",
    "Is {svc} slow for anyone else?",
    "Lunch at noon?",
    "Rolling back {svc}, error rate is up.",
    "The {svc} migration finished overnight :tada:",
    "Reminder: retro on Friday.",
    "I pushed a fix for the flaky test in {svc}.",
    "Who owns the {svc} alerts?",
)
REPLIES = (
    "Looking now.",
    "+1",
    "Thanks!",
    "Fixed in main.",
    "On it.",
    "Same here.",
    "Done :white_check_mark:",
)
SERVICES = ("billing", "search", "auth", "ingest", "checkout", "notifications")
REACTIONS = ("thumbsup", "eyes", "tada", "white_check_mark", "heart")
DAY_S = 86400.0


@dataclass(frozen=True)
class ChannelPlan:
    """One seeded channel: visibility, whether the bot is in it, how many top-level messages."""

    name: str
    private: bool = False
    archived: bool = False
    bot_member: bool = True
    messages: int = 40
    general: bool = False


@dataclass(frozen=True)
class Volume:
    """How much is seeded.

    Attributes:
        users: Users in all, bots and Slackbot included (at least 6).
        big_channel: Top-level messages of ``#general``, the channel with hundreds.
        channels: The channel plans after ``#general``.
        span_days: Days of history before the clock's start.
    """

    users: int = 20
    big_channel: int = 400
    channels: tuple[ChannelPlan, ...] = (
        ChannelPlan("engineering", messages=120),
        ChannelPlan("random", messages=60),
        # Public, but the bot was never invited: history answers not_in_channel.
        ChannelPlan("design-reviews", bot_member=False, messages=30),
        ChannelPlan("incidents", private=True, messages=50),
        ChannelPlan("announcements-2023", archived=True, messages=20),
        # Private without the bot: invisible to a bot token (channel_not_found).
        ChannelPlan("leadership", private=True, bot_member=False, messages=20),
        ChannelPlan("old-project", private=True, archived=True, messages=15),
    )
    span_days: float = 30.0


@dataclass
class Workspace:
    """Everything seeded, in Slack's shapes."""

    team_id: str
    team_name: str
    domain: str
    app_id: str
    bot_user_id: str
    bot_id: str
    users: list[Record] = field(default_factory=list)
    channels: list[Record] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)
    messages: dict[str, list[Record]] = field(default_factory=dict)
    """Top-level messages per channel, oldest first."""
    replies: dict[tuple[str, str], list[Record]] = field(default_factory=dict)
    """Thread replies per ``(channel, thread_ts)``, oldest first, without the parent."""


class Seeder:
    """Builds a :class:`Workspace` from one seeded generator."""

    def __init__(self, seed: int, now: float, volume: Volume) -> None:
        """History ends an hour before the UTC day of ``now`` began; spans ``volume.span_days``.

        Anchoring on the day, not the second, keeps every ts (the message keys) the same
        for a seed across sandboxes started the same day, e.g. before and after a resume.
        """
        self.rng = random.Random(f"slack:{seed}")
        self.now = float(int(now // DAY_S) * DAY_S)
        self.volume = volume
        self.used_ts: set[str] = set()

    def build(self) -> Workspace:
        """The whole workspace."""
        rng = self.rng
        ws = Workspace(
            team_id=new_id(rng, "T", 8),
            team_name="Sluice Sandbox",
            domain="sluice-sandbox",
            app_id=new_id(rng, "A", 10),
            bot_user_id=new_id(rng, "U", 10),
            bot_id=new_id(rng, "B", 10),
        )
        ws.users = self.users(ws)
        humans = [u["id"] for u in ws.users if not u["is_bot"] and not u["deleted"]]
        humans = [h for h in humans if h != "USLACKBOT"]
        plans = (ChannelPlan("general", messages=self.volume.big_channel, general=True),)
        for plan in plans + self.volume.channels:
            channel = self.channel(ws, plan, humans)
            ws.channels.append(channel)
            self.history(ws, channel["id"], plan, humans)
        return ws

    def users(self, ws: Workspace) -> list[Record]:
        """Humans (two of them deleted), three bots (the app's among them) and Slackbot."""
        rng = self.rng
        count = max(6, self.volume.users)
        users = [self.user(ws, "USLACKBOT", "slackbot", "Slackbot", bot=False)]
        users.append(
            self.user(ws, ws.bot_user_id, "sluicebot", "Sluice", bot=True, bot_id=ws.bot_id)
        )
        for name in ("deploybot", "github"):
            users.append(self.user(ws, new_id(rng, "U"), name, name.title(), bot=True))
        for index in range(count - len(users)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            handle = f"{first.lower()}.{last.lower()}{index}"
            user = self.user(ws, new_id(rng, "U"), handle, f"{first} {last}", bot=False)
            user["deleted"] = index < 2
            users.append(user)
        return users

    def user(
        self, ws: Workspace, user_id: str, name: str, real: str, *, bot: bool, bot_id: str = ""
    ) -> Record:
        """One user object (``profile.email`` only for humans, as bots have none)."""
        profile: Record = {
            "real_name": real,
            "display_name": name,
            "real_name_normalized": real,
            "display_name_normalized": name,
            "title": "",
            "status_text": "",
            "status_emoji": "",
            "image_72": f"https://avatars.example/{user_id}_72.png",
            "team": ws.team_id,
        }
        if bot_id:
            profile["bot_id"] = bot_id
        elif not bot and user_id != "USLACKBOT":
            profile["email"] = f"{name}@{ws.domain}.example"
        tz = self.rng.choice((("Europe/Berlin", "CET", 3600), ("America/New_York", "EST", -18000)))
        return {
            "id": user_id,
            "team_id": ws.team_id,
            "name": name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": real,
            "tz": tz[0],
            "tz_label": tz[1],
            "tz_offset": tz[2],
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": bot,
            "is_app_user": False,
            "updated": int(self.now - self.rng.uniform(DAY_S, 300 * DAY_S)),
        }

    def channel(self, ws: Workspace, plan: ChannelPlan, humans: list[str]) -> Record:
        """One conversation object and its member list."""
        rng = self.rng
        channel_id = new_id(rng, "C")
        members = sorted(rng.sample(humans, k=min(len(humans), rng.randint(4, len(humans)))))
        if plan.bot_member:
            members.append(ws.bot_user_id)
        ws.members[channel_id] = members
        created = int(self.now - self.volume.span_days * DAY_S - rng.uniform(DAY_S, 200 * DAY_S))
        creator = members[0]
        return {
            "id": channel_id,
            "name": plan.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": plan.private,
            "created": created,
            "is_archived": plan.archived,
            "is_general": plan.general,
            "unlinked": 0,
            "name_normalized": plan.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "is_ext_shared": False,
            "context_team_id": ws.team_id,
            "updated": created * 1000,
            "creator": creator,
            "is_member": plan.bot_member,
            "topic": {"value": f"All about {plan.name}", "creator": creator, "last_set": created},
            "purpose": {
                "value": f"#{plan.name} discussions",
                "creator": creator,
                "last_set": created,
            },
            "previous_names": [],
            "num_members": len(members),
        }

    def fresh_ts(self, seconds: float) -> str:
        """A ts not used yet (Slack keeps them unique per channel; the sandbox, workspace-wide)."""
        us = micros(seconds)
        while format_ts(us) in self.used_ts:
            us += 1
        ts = format_ts(us)
        self.used_ts.add(ts)
        return ts

    def history(self, ws: Workspace, channel_id: str, plan: ChannelPlan, humans: list[str]) -> None:
        """Top-level messages (joins first), some with threads, edits, reactions, files."""
        rng = self.rng
        end = self.now - 3600
        start = end - self.volume.span_days * DAY_S
        times = sorted(rng.uniform(start, end) for _ in range(plan.messages))
        members = [m for m in ws.members[channel_id] if m in humans]
        messages: list[Record] = []
        for index, seconds in enumerate(times):
            ts = self.fresh_ts(seconds)
            if index < min(3, len(members)):
                user = members[index]
                message: Record = {
                    "type": "message",
                    "subtype": "channel_join",
                    "user": user,
                    "text": f"<@{user}> has joined the channel",
                    "ts": ts,
                }
            else:
                message = self.message(ws, ts, rng.choice(members))
                if "subtype" not in message and rng.random() < 0.12:
                    self.thread(ws, channel_id, message, members, end)
            messages.append(message)
        ws.messages[channel_id] = messages

    def message(self, ws: Workspace, ts: str, user: str) -> Record:
        """A user message, a bot message or a file share."""
        rng = self.rng
        text = rng.choice(PHRASES).format(svc=rng.choice(SERVICES))
        roll = rng.random()
        if roll < 0.08:
            return {
                "type": "message",
                "subtype": "bot_message",
                "bot_id": new_id(random.Random(f"{ws.team_id}:deploybot"), "B"),
                "username": "deploybot",
                "text": f"Deployed {rng.choice(SERVICES)} build #{rng.randint(100, 999)}",
                "ts": ts,
            }
        message: Record = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": ws.team_id,
            "client_msg_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        }
        if roll < 0.13:
            message["subtype"] = "file_share"
            message["upload"] = True
            message["files"] = [
                {
                    "id": new_id(rng, "F"),
                    "name": f"screenshot-{rng.randint(1, 99)}.png",
                    "mimetype": "image/png",
                    "filetype": "png",
                    "size": rng.randint(10_000, 900_000),
                    "user": user,
                }
            ]
        if rng.random() < 0.06:
            message["edited"] = {
                "user": user,
                "ts": self.fresh_ts(float(ts) + rng.uniform(30, 3600)),
            }
        if rng.random() < 0.1:
            reactors = rng.sample([user], k=1)
            message["reactions"] = [{"name": rng.choice(REACTIONS), "users": reactors, "count": 1}]
        return message

    def thread(
        self, ws: Workspace, channel_id: str, parent: Record, members: list[str], end: float
    ) -> None:
        """Replies after ``parent`` (within two days) and the parent's thread fields."""
        rng = self.rng
        base = float(parent["ts"])
        times = sorted(
            rng.uniform(base + 1, min(end, base + 2 * DAY_S)) for _ in range(rng.randint(1, 6))
        )
        replies = []
        for seconds in times:
            user = rng.choice(members)
            replies.append(
                {
                    "type": "message",
                    "user": user,
                    "text": rng.choice(REPLIES),
                    "ts": self.fresh_ts(seconds),
                    "team": ws.team_id,
                    "thread_ts": parent["ts"],
                    "parent_user_id": parent["user"],
                    "client_msg_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                }
            )
        ws.replies[(channel_id, parent["ts"])] = replies
        set_thread_fields(parent, replies)


def set_thread_fields(parent: Record, replies: list[Record]) -> None:
    """Writes ``thread_ts``, ``reply_count``, ``reply_users``, ``latest_reply`` on a parent."""
    if not replies:
        for key in ("reply_count", "reply_users_count", "reply_users", "latest_reply"):
            parent.pop(key, None)
        return
    users = list(dict.fromkeys(r.get("user", "") for r in replies if r.get("user")))
    parent.update(
        {
            "thread_ts": parent["ts"],
            "reply_count": len(replies),
            "reply_users_count": len(users),
            "reply_users": users,
            "latest_reply": replies[-1]["ts"],
            "is_locked": False,
            "subscribed": False,
        }
    )


def seed_workspace(seed: int, now: float, volume: Volume) -> Workspace:
    """The seeded workspace for ``seed``; history ends an hour before ``now``'s UTC day."""
    return Seeder(seed, now, volume).build()
