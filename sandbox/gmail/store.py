"""The mailbox: labels, messages, threads and the history of every change. Thread-safe.

History follows https://developers.google.com/gmail/api/guides/sync ("Partial
synchronization") and the ``users.history.list`` reference: each change gets a new
``historyId``, larger than the last but "not contiguous with random gaps in between";
records older than retention are dropped and a ``startHistoryId`` before them is refused
(404, the caller must do a full sync). "A historyId is typically valid for at least a week".
"""

from __future__ import annotations

import html
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from .mime import Attachment, Content, b64url, build_source, payload_of

WEEK_S = 7 * 24 * 3600.0

SYSTEM_LABELS = (
    "CHAT", "SENT", "INBOX", "IMPORTANT", "TRASH", "DRAFT", "SPAM", "CATEGORY_FORUMS",
    "CATEGORY_UPDATES", "CATEGORY_PERSONAL", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL",
    "STARRED", "UNREAD",
)  # fmt: skip
"""The system label ids of every Gmail mailbox (guides/labels "Reserved label names")."""

HIDDEN_SYSTEM = {"CHAT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT"}

HISTORY_TYPES = ("messagesAdded", "messagesDeleted", "labelsAdded", "labelsRemoved")
"""Field names of a History record; the ``historyTypes`` parameter names them singular."""


@dataclass
class Label:
    """A label resource (system or user)."""

    id: str
    name: str
    type: str

    def resource(self) -> dict[str, Any]:
        """The ``labels.list`` form."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.type == "user":
            out["messageListVisibility"] = "show"
            out["labelListVisibility"] = "labelShow"
        elif self.id not in HIDDEN_SYSTEM:
            out["messageListVisibility"] = "hide"
            out["labelListVisibility"] = "labelShow"
        return out


@dataclass
class StoredMessage:
    """One message: its labels, dates, history id and MIME source."""

    id: str
    thread_id: str
    label_ids: list[str]
    internal_date_ms: int
    history_id: int
    content: Content
    _built: Optional[tuple[bytes, dict[str, Any]]] = field(default=None, repr=False)

    def _build(self) -> tuple[bytes, dict[str, Any]]:
        # Built on first use: seeding stays fast and content never changes after insert.
        if self._built is None:
            source = build_source(self.content, self.internal_date_ms, self.id)
            self._built = (source, payload_of(source, self.content.attachments))
        return self._built

    @property
    def source(self) -> bytes:
        """The RFC 822 bytes."""
        return self._build()[0]

    @property
    def payload(self) -> dict[str, Any]:
        """The ``payload`` MessagePart tree (shared: callers must not change it)."""
        return self._build()[1]

    @property
    def snippet(self) -> str:
        """The first words of the text, HTML-escaped as Gmail sends ``snippet``."""
        words = " ".join(self.content.text.split())
        return html.escape(words[:140])

    def ref(self) -> dict[str, Any]:
        """``{"id", "threadId"}`` as lists give them."""
        return {"id": self.id, "threadId": self.thread_id}


@dataclass
class HistoryRecord:
    """One change: its id, when, a snapshot of the message and what happened to it.

    ``changes`` maps a History field (``messagesAdded``...) to the label ids it concerns
    (empty for added/deleted); one ``modify`` adding and removing labels is one record.
    """

    id: int
    at: float
    message: dict[str, Any]
    changes: dict[str, list[str]]

    def resource(self, kinds: Iterable[str] = HISTORY_TYPES) -> dict[str, Any]:
        """The ``History`` resource, limited to ``kinds``."""
        ref = {"id": self.message["id"], "threadId": self.message["threadId"]}
        out: dict[str, Any] = {"id": str(self.id), "messages": [ref]}
        for kind, label_ids in self.changes.items():
            if kind not in kinds:
                continue
            change: dict[str, Any] = {"message": dict(self.message)}
            if kind in ("labelsAdded", "labelsRemoved"):
                change["labelIds"] = list(label_ids)
            out[kind] = [change]
        return out


class Mailbox:
    """The seeded mailbox of one user and the changes made to it."""

    def __init__(
        self,
        email: str,
        clock: Callable[[], float],
        rng: random.Random,
        history_retention_s: float = WEEK_S,
    ) -> None:
        """An empty mailbox (``seed.seed_mailbox`` fills it).

        Args:
            email: The address (``userId`` "me").
            clock: Unix seconds.
            rng: History-id gaps and new ids.
            history_retention_s: Seconds a history record is kept.
        """
        self.email = email
        self.history_retention_s = history_retention_s
        self._clock = clock
        self._rng = rng
        self._lock = threading.RLock()
        self._labels: dict[str, Label] = {i: Label(i, i, "system") for i in SYSTEM_LABELS}
        self._messages: dict[str, StoredMessage] = {}
        self._history: list[HistoryRecord] = []
        self._history_id = 1_000_000 + rng.randrange(100_000)
        self._floor = self._history_id
        self._counter = 0
        self._user_labels = 0

    # -- reading ---------------------------------------------------------------------------

    @property
    def history_id(self) -> int:
        """The mailbox's current ``historyId``."""
        with self._lock:
            return self._history_id

    def labels(self) -> list[dict[str, Any]]:
        """Every label in ``labels.list`` form."""
        with self._lock:
            return [label.resource() for label in self._labels.values()]

    def label(self, label_id: str) -> Optional[dict[str, Any]]:
        """``labels.get``: the label with its message and thread counts (None: unknown)."""
        with self._lock:
            label = self._labels.get(label_id)
            if label is None:
                return None
            tagged = [m for m in self._messages.values() if label_id in m.label_ids]
            unread = [m for m in tagged if "UNREAD" in m.label_ids]
            return {
                **label.resource(),
                "messagesTotal": len(tagged),
                "messagesUnread": len(unread),
                "threadsTotal": len({m.thread_id for m in tagged}),
                "threadsUnread": len({m.thread_id for m in unread}),
            }

    def label_ids_named(self, name: str) -> set[str]:
        """Ids of the labels ``name`` designates in a search (``label:``), case-insensitive."""
        wanted = name.lower().replace("-", " ").replace("/", " ")
        with self._lock:
            return {
                label.id
                for label in self._labels.values()
                if wanted in (label.id.lower(), label.name.lower().replace("/", " "))
                or label.name.lower().replace("-", " ") == wanted
            }

    def stored(self) -> list[StoredMessage]:
        """Every message, newest first (the order of ``messages.list``)."""
        with self._lock:
            return sorted(self._messages.values(), key=lambda m: m.id, reverse=True)

    def get(self, message_id: str) -> Optional[StoredMessage]:
        """The message, or None."""
        with self._lock:
            return self._messages.get(message_id)

    def message(self, message_id: str) -> dict[str, Any]:
        """The ``format=full`` resource of one message.

        Raises:
            KeyError: No such message.
        """
        return render(self._messages[message_id], "full")

    def messages(self) -> list[dict[str, Any]]:
        """Every message's full resource, newest first."""
        return [render(m, "full") for m in self.stored()]

    def thread_messages(self, thread_id: str) -> list[StoredMessage]:
        """The thread's messages, oldest first (empty: unknown thread)."""
        with self._lock:
            found = [m for m in self._messages.values() if m.thread_id == thread_id]
        return sorted(found, key=lambda m: m.id)

    def threads(self) -> list[dict[str, Any]]:
        """Every thread as ``threads.list`` gives it, newest activity first."""
        latest: dict[str, StoredMessage] = {}
        for message in self.stored():
            latest.setdefault(message.thread_id, message)
        return [thread_ref(self.thread_messages(tid)) for tid in latest]

    def history_since(self, start: int) -> Optional[list[HistoryRecord]]:
        """Records after ``start``, oldest first; None when ``start`` is older than retained."""
        with self._lock:
            self._prune()
            if start < self._floor:
                return None
            return [r for r in self._history if r.id > start]

    def profile(self) -> dict[str, Any]:
        """``users.getProfile``."""
        with self._lock:
            return {
                "emailAddress": self.email,
                "messagesTotal": len(self._messages),
                "threadsTotal": len({m.thread_id for m in self._messages.values()}),
                "historyId": str(self._history_id),
            }

    # -- changing --------------------------------------------------------------------------

    def new_id(self, internal_date_ms: int) -> str:
        """A 16-hex-digit message id that sorts by date, as Gmail's do."""
        with self._lock:
            self._counter += 1
            return f"{internal_date_ms:011x}{self._counter % 0x100000:05x}"

    def create_label(self, name: str) -> str:
        """Adds a user label; returns its id (``Label_<n>``)."""
        with self._lock:
            if any(label.name.lower() == name.lower() for label in self._labels.values()):
                raise ValueError(f"label {name!r} exists")
            self._user_labels += 1
            label_id = f"Label_{self._user_labels}"
            self._labels[label_id] = Label(label_id, name, "user")
            return label_id

    def insert(self, message: StoredMessage, record: bool = True) -> None:
        """Stores a message (its source and payload are built here); records messagesAdded."""
        with self._lock:
            unknown = set(message.label_ids) - set(self._labels)
            if unknown:
                raise KeyError(f"unknown label ids {sorted(unknown)}")
            message.history_id = self._next_history_id()
            self._messages[message.id] = message
            if record:
                self._record({"messagesAdded": []}, message)
            else:
                self._floor = self._history_id

    def delete(self, message_id: str) -> None:
        """Deletes a message for good (records messagesDeleted).

        Raises:
            KeyError: No such message.
        """
        with self._lock:
            message = self._messages.pop(message_id)
            self._next_history_id()
            self._record({"messagesDeleted": []}, message)

    def modify(self, message_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """Adds and removes labels (records labelsAdded / labelsRemoved for real changes).

        Raises:
            KeyError: No such message or label.
        """
        with self._lock:
            message = self._messages[message_id]
            unknown = (set(add) | set(remove)) - set(self._labels)
            if unknown:
                raise KeyError(f"unknown label ids {sorted(unknown)}")
            added = [label for label in dict.fromkeys(add) if label not in message.label_ids]
            removed = [label for label in dict.fromkeys(remove) if label in message.label_ids]
            if not added and not removed:
                return
            message.history_id = self._next_history_id()
            message.label_ids = [x for x in message.label_ids if x not in removed] + added
            changes = {"labelsAdded": added, "labelsRemoved": removed}
            self._record({k: v for k, v in changes.items() if v}, message)

    def expire_history(self, before_history_id: Optional[int] = None) -> None:
        """Drops records up to ``before_history_id`` (all when None); older starts get 404."""
        with self._lock:
            cut = self._history_id if before_history_id is None else before_history_id
            self._history = [r for r in self._history if r.id > cut]
            self._floor = max(self._floor, cut)

    def _next_history_id(self) -> int:
        # Gaps between ids, as the reference warns: clients must not assume +1.
        self._history_id += 1 + self._rng.randrange(7)
        return self._history_id

    def _record(self, changes: dict[str, list[str]], message: StoredMessage) -> None:
        snapshot = {**message.ref(), "labelIds": list(message.label_ids)}
        self._history.append(HistoryRecord(self._history_id, self._clock(), snapshot, changes))

    def _prune(self) -> None:
        horizon = self._clock() - self.history_retention_s
        while self._history and self._history[0].at < horizon:
            self._floor = max(self._floor, self._history.pop(0).id)


def thread_ref(messages: Sequence[StoredMessage]) -> dict[str, Any]:
    """``{"id", "snippet", "historyId"}`` of a thread (its messages oldest first)."""
    last = messages[-1]
    return {
        "id": last.thread_id,
        "snippet": last.snippet,
        "historyId": str(max(m.history_id for m in messages)),
    }


def render(
    message: StoredMessage, fmt: str, metadata_headers: Sequence[str] = ()
) -> dict[str, Any]:
    """The ``Message`` resource in ``format`` minimal, metadata, full or raw."""
    out: dict[str, Any] = {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.label_ids),
        "snippet": message.snippet,
        "sizeEstimate": len(message.source),
        "historyId": str(message.history_id),
        "internalDate": str(message.internal_date_ms),
    }
    if fmt == "full":
        out["payload"] = message.payload
    elif fmt == "metadata":
        headers = message.payload.get("headers", [])
        if metadata_headers:
            wanted = {h.lower() for h in metadata_headers}
            headers = [h for h in headers if h["name"].lower() in wanted]
        out["payload"] = {"mimeType": message.payload.get("mimeType"), "headers": headers}
    elif fmt == "raw":
        out["raw"] = b64url(message.source)
    return out


def attachment_of(message: StoredMessage, attachment_id: str) -> Optional[Attachment]:
    """The message's attachment with that id, or None."""
    for attachment in message.content.attachments:
        if attachment.attachment_id == attachment_id:
            return attachment
    return None
