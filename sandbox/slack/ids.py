"""Slack's identifiers, message timestamps and opaque pagination cursors.

Ids are an upper-case letter naming the kind (``T`` team, ``U`` user, ``B`` bot, ``C``
conversation, ``F`` file) and upper-case alphanumerics. A message ``ts`` is the Unix time
with six decimals, unique per channel, and doubles as the message id
(https://docs.slack.dev/messaging/retrieving-messages: "ts ... is the unique identifier").
Cursors are base64 of ``<kind>:<key>`` as Slack's are (its pagination guide shows
``dXNlcjpVMDYxTkZUVDI=`` = ``user:U061NFTT2``, https://docs.slack.dev/apis/web-api/pagination).
"""

from __future__ import annotations

import base64
import binascii
import random
from decimal import Decimal, InvalidOperation
from typing import Optional

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def new_id(rng: random.Random, prefix: str, length: int = 10) -> str:
    """A Slack-looking id such as ``C07AB12CD3E``."""
    return prefix + "".join(rng.choice(ALPHABET) for _ in range(length))


def micros(seconds: float) -> int:
    """Unix seconds as whole microseconds (ts arithmetic stays exact in integers)."""
    return int(round(seconds * 1_000_000))


def format_ts(us: int) -> str:
    """``1712345678.000123`` from microseconds."""
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def ts_key(ts: str) -> Decimal:
    """A ts (or an ``oldest``/``latest`` argument such as ``1712345678``) as an exact number.

    Decimal, not float: a float cannot tell every microsecond apart at today's Unix times.

    Raises:
        ValueError: Not a number.
    """
    try:
        value = Decimal(str(ts).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a timestamp: {ts!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a timestamp: {ts!r}")
    return value


def encode_cursor(kind: str, key: str) -> str:
    """An opaque cursor pointing at the next item (``key``) of a listing."""
    return base64.b64encode(f"{kind}:{key}".encode()).decode("ascii")


def decode_cursor(cursor: str, kind: str) -> Optional[str]:
    """The key a cursor of ``kind`` points at; None for a cursor the sandbox did not issue."""
    try:
        text = base64.b64decode(cursor.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    found, sep, key = text.partition(":")
    return key if sep and found == kind and key else None
