"""A realistic mailbox, the same for the same seed: threads, labels, alternatives, files."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .mime import Attachment, Content
from .store import Mailbox, StoredMessage

DAY_MS = 86_400_000

PEOPLE = (
    ("Ana Souza", "ana.souza@example.com"), ("Bjørn Haugen", "bjorn@example.no"),
    ("Chen Wei", "chen.wei@example.cn"), ("Dana Levi", "dana@example.org"),
    ("Émilie Durand", "emilie.durand@example.fr"), ("Farid Haddad", "farid@example.net"),
    ("Grace O'Neil", "grace.oneil@example.ie"), ("Hiro Tanaka", "hiro@example.jp"),
    ("Billing", "billing@vendor.example"), ("Newsletter", "news@letters.example"),
)  # fmt: skip

SUBJECTS = (
    "Quarterly report", "Réunion de lundi", "Überprüfung des Vertrags", "会议纪要",
    "Привет из офиса", "Invoice #{n}", "Your order has shipped", "Lunch on Friday?",
    "Design review notes", "Re: budget ✔", "Weekly digest", "Código de acceso",
    "Offsite planning", "Security alert", "Welcome aboard", "Ταξίδι στην Αθήνα",
)  # fmt: skip

WORDS = (
    "please find the numbers attached and let me know what you think about the plan we "
    "discussed yesterday, the team agreed to move the deadline by a week so that the "
    "review can include the latest figures from the regional offices café naïve"
).split()

ATTACHMENT_KINDS = (
    ("report.pdf", "application/pdf"), ("photo.jpg", "image/jpeg"),
    ("data.csv", "text/csv"), ("slides.pptx",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("notes.txt", "text/plain"),
)  # fmt: skip

USER_LABELS = ("Work", "Personal", "Receipts", "Projects/Alpha", "Travel")


@dataclass(frozen=True)
class Volume:
    """How big the seeded mailbox is.

    Attributes:
        threads: Conversations.
        max_per_thread: Most messages in one conversation.
        attachment_share: Share of messages with files.
        large_attachments: Files of about ``large_bytes`` (the rest are a few KB).
        large_bytes: Size of a large file.
        days: How far back the mail goes.
    """

    threads: int = 150
    max_per_thread: int = 4
    attachment_share: float = 0.15
    large_attachments: int = 2
    large_bytes: int = 1_500_000
    days: int = 120


def _sentence(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count)).capitalize() + "."


def _attachments(rng: random.Random, large: bool) -> list[Attachment]:
    files = []
    for _ in range(rng.choice((1, 1, 2))):
        name, mime_type = rng.choice(ATTACHMENT_KINDS)
        size = rng.randrange(300, 40_000)
        data = (
            rng.randbytes(size)
            if not mime_type.startswith("text/")
            else ((_sentence(rng, 12) + "\n").encode() * (size // 80 + 1))
        )
        attachment_id = "ANGjdJ" + rng.randbytes(60).hex()
        files.append(Attachment(attachment_id, name, mime_type, data))
    if large:
        name, mime_type = ATTACHMENT_KINDS[0]
        files[0] = Attachment(files[0].attachment_id, "scan-" + name, mime_type, b"")
    return files


def _labels_for(rng: random.Random, mine: bool, user_labels: list[str]) -> list[str]:
    if mine:
        return ["SENT"]
    roll = rng.random()
    if roll < 0.03:
        return ["SPAM"]
    if roll < 0.06:
        return ["TRASH"]
    labels = [
        "INBOX",
        rng.choice(
            (
                "CATEGORY_PERSONAL",
                "CATEGORY_UPDATES",
                "CATEGORY_PROMOTIONS",
                "CATEGORY_SOCIAL",
                "CATEGORY_FORUMS",
            )
        ),
    ]
    for label, share in (("UNREAD", 0.3), ("STARRED", 0.1), ("IMPORTANT", 0.25)):
        if rng.random() < share:
            labels.append(label)
    if user_labels and rng.random() < 0.35:
        labels.append(rng.choice(user_labels))
    return labels


def seed_mailbox(mailbox: Mailbox, seed: int, now: float, volume: Volume) -> None:
    """Fills ``mailbox`` with ``volume`` threads ending before ``now`` (history starts after)."""
    rng = random.Random(f"{seed}:mailbox")
    user_labels = [mailbox.create_label(name) for name in USER_LABELS]
    me = ("Sandbox User", mailbox.email)
    start_ms = int(now * 1000) - volume.days * DAY_MS
    pending: list[tuple[int, int, Content, bool]] = []
    for number in range(volume.threads):
        subject = rng.choice(SUBJECTS).format(n=1000 + number)
        other = rng.choice(PEOPLE)
        at = start_ms + rng.randrange((volume.days - 2) * DAY_MS)
        previous = None
        for position in range(rng.randint(1, volume.max_per_thread)):
            mine = position % 2 == 1 and rng.random() < 0.7
            sender, to = (me, other) if mine else (other, me)
            text = "\n\n".join(_sentence(rng, rng.randint(8, 30)) for _ in range(rng.randint(1, 4)))
            content = Content(
                subject=subject if position == 0 else f"Re: {subject}",
                sender=f"{sender[0]} <{sender[1]}>",
                to=f"{to[0]} <{to[1]}>",
                text=text,
                html=None
                if rng.random() < 0.3
                else "<div>" + text.replace("\n\n", "<br>") + "</div>",
                message_id=f"<{seed}.{number}.{position}@mail.example>",
                in_reply_to=previous,
            )
            previous = content.message_id
            pending.append((min(at, int(now * 1000) - 60_000), number, content, mine))
            at += rng.randrange(60_000, DAY_MS // 2)  # replies within hours
    pending.sort(key=lambda item: item[0])
    with_files = [i for i in range(len(pending)) if rng.random() < volume.attachment_share]
    large = set(with_files[: volume.large_attachments])
    threads: dict[int, str] = {}
    for index, (at, number, content, mine) in enumerate(pending):
        if index in with_files:
            content.attachments = _attachments(rng, index in large)
            if index in large:
                first = content.attachments[0]
                first.data = rng.randbytes(volume.large_bytes)
        message_id = mailbox.new_id(at)
        thread_id = threads.setdefault(number, message_id)
        labels = _labels_for(rng, mine, user_labels)
        mailbox.insert(StoredMessage(message_id, thread_id, labels, at, 0, content), record=False)
