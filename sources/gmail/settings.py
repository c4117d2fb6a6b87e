"""Gmail API v1 constants: paths, resources, quota units, batch and size limits."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

API_ROOT = "https://gmail.googleapis.com"
"""``rootUrl`` of the discovery document (googleapiclient's bundled ``gmail.v1.json``)."""

TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
"""Google's OAuth 2.0 token endpoint
(https://developers.google.com/identity/protocols/oauth2/web-server#offline)."""

USER_PATH = "/gmail/v1/users/me"
"""Method paths start ``gmail/v1/users/{userId}``; ``me`` is the authorised user."""
PROFILE_PATH = f"{USER_PATH}/profile"
LABELS_PATH = f"{USER_PATH}/labels"
MESSAGES_PATH = f"{USER_PATH}/messages"
THREADS_PATH = f"{USER_PATH}/threads"
HISTORY_PATH = f"{USER_PATH}/history"
BATCH_PATH = "/batch/gmail/v1"
"""The API's ``batchPath`` (https://developers.google.com/gmail/api/guides/batch)."""

RESOURCES: tuple[str, ...] = ("labels", "messages", "threads")
DEFAULT_RESOURCES: tuple[str, ...] = RESOURCES

CREDENTIALS_PATH = "sources.gmail.credentials"
"""Where the OAuth client and refresh token are configured (named by auth errors)."""

UNIT_COSTS: Mapping[str, float] = MappingProxyType(
    {
        r"/profile$": 1,
        r"/labels(/[^/]+)?$": 1,
        r"/messages/[^/]+/attachments/[^/]+$": 5,
        r"/messages(/[^/]+)?$": 5,
        r"/threads(/[^/]+)?$": 10,
        r"/history$": 2,
    }
)
"""Quota units per method, by path (https://developers.google.com/gmail/api/reference/quota,
"Per-method quota usage": getProfile 1, labels.list/get 1, messages.list/get 5,
messages.attachments.get 5, threads.list/get 10, history.list 2)."""

DEFAULT_UNITS_PER_S = 200.0
"""Units per second paced at. The per-user limit is "15,000 quota units per user per
minute" (formerly "250 quota units per user per second, moving average (allows short
bursts)", same page). Any one second then sees at most the rate plus one burst (a
batch): 200 + 40 stays under 250."""
UNITS_BURST = 40
"""Units that may go back to back: one batch (:data:`BATCH_UNITS`), and more than the
costliest single call (threads.get 10)."""
BATCH_UNITS = 40.0
"""Most units one batch carries (8 messages.get, 4 threads.get): a batch is sent at once,
so a bigger one would spend more than the per-second budget allows in a burst."""

BATCH_SIZE = 50
"""Calls per batch: at most 100, and "Sending batches larger than 50 requests is not
recommended" (https://developers.google.com/gmail/api/guides/batch)."""
MAX_BATCH = 100
PAGE_SIZE = 500
"""``maxResults`` of messages.list / threads.list / history.list (the documented maximum)."""

MAX_BODY_BYTES = 100_000
"""Body text (plain and HTML each) kept per message when bodies are loaded; cut beyond."""
MAX_ATTACHMENT_BYTES = 1_000_000
"""Attachments larger than this are listed (name, type, size) but their content is not read."""

METADATA_HEADERS: tuple[str, ...] = (
    "Subject",
    "From",
    "To",
    "Cc",
    "Bcc",
    "Reply-To",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
)
"""Headers loaded as columns (lower-case, dashes as underscores)."""

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
"""403 / 429 reasons that are retried with backoff ("Resolve errors" guide:
https://developers.google.com/gmail/api/guides/handle-errors)."""

SYNC_GUIDE = "https://developers.google.com/gmail/api/guides/sync"
"""Full sync, then partial sync by history.list; a 404 means "perform a full sync"."""
