"""Slack Web API constants: methods, resources, rate-limit tiers, page sizes, scopes."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

BASE_URL = "https://slack.com/api/"
"""Web API root; methods are ``<base>/<method>`` (https://api.slack.com/web)."""

TOKEN_KEY = "sources.slack.bot_token"  # noqa: S105 - a setting's name, not a secret
TOKEN_PREFIX = "xoxb-"  # noqa: S105
"""Bot tokens start with ``xoxb-`` (https://api.slack.com/authentication/token-types)."""

RESOURCES: tuple[str, ...] = ("channels", "users", "messages", "replies", "channel_members")
DEFAULT_RESOURCES: tuple[str, ...] = ("channels", "users", "messages", "replies")
"""``channel_members`` costs one call per channel: only when configured."""

CHANNEL_TYPES: tuple[str, ...] = ("public_channel", "private_channel")
"""``types`` of conversations.list (https://api.slack.com/methods/conversations.list)."""

LIST = "conversations.list"
USERS = "users.list"
HISTORY = "conversations.history"
REPLIES = "conversations.replies"
MEMBERS = "conversations.members"
AUTH_TEST = "auth.test"

# Tiers per method (https://api.slack.com/apis/rate-limits, each method page's "Rate
# limits"): Tier 2 is 20+ per minute, Tier 3 50+, Tier 4 100+ (conversations.members).
# Requests per minute.
METHOD_LIMITS: Mapping[str, float] = MappingProxyType(
    {LIST: 20.0, USERS: 20.0, MEMBERS: 100.0, HISTORY: 50.0, REPLIES: 50.0, AUTH_TEST: 100.0}
)

# Since 2025-05-29 apps not approved for the Marketplace get 1 request per minute and at
# most 15 objects per call on history and replies (https://api.slack.com/apis/rate-limits,
# "App types and rate limits"; changelog 2025-05-29).
MARKETPLACE_LIMITS: Mapping[str, float] = MappingProxyType({HISTORY: 1.0, REPLIES: 1.0})
MARKETPLACE_PAGE_SIZE = 15

PAGE_SIZE = 200
"""``limit`` per call: Slack recommends no more than 200 (https://api.slack.com/apis/pagination)."""

DEFAULT_RATE_LIMIT = 5.0
"""Requests per second across all methods (the per-method groups are far lower)."""

LOOKBACK_DAYS = 7.0
"""History re-read behind the high-water mark for edits and new thread replies."""

AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired"}
)
"""``ok: false`` codes that mean the token is unusable: the run stops (each method's
"Errors" table, e.g. https://api.slack.com/methods/conversations.history)."""

CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived_not_found"})
"""Codes about one channel: that channel is skipped, the others load."""

SCOPE_FOR: Mapping[str, str] = MappingProxyType(
    {
        LIST: "channels:read,groups:read",
        USERS: "users:read",
        HISTORY: "channels:history,groups:history",
        REPLIES: "channels:history,groups:history",
        MEMBERS: "channels:read,groups:read",
    }
)
"""Scopes a method needs, named when Slack's ``missing_scope`` answer omits ``needed``."""
