"""ServiceNow Table API constants: paths, tables, page size, cursor handling."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

TABLE_PATH = "/api/now/table/{table}"
"""Table API list endpoint, relative to the instance URL."""

TOKEN_PATH = "/oauth_token.do"  # noqa: S105 - a path, not a secret
"""OAuth token endpoint on the instance (default ``token_url``)."""

DEFAULT_TABLES: tuple[str, ...] = ("incident", "change_request", "sys_user", "cmdb_ci")
"""Tables loaded when ``sources.servicenow.tables`` is not set."""

AUDIT_DELETE_TABLE = "sys_audit_delete"
"""Where ServiceNow records deletions (``tablename``, ``documentkey`` = sys_id, ``payload``)."""

PAGE_SIZE = 1000
"""Records per page (``sysparm_limit``); ServiceNow recommends at most a few thousand."""

CURSOR_FIELD = "sys_updated_on"
PRIMARY_KEY = "sys_id"
TIMESTAMP_FIELDS: tuple[str, ...] = ("sys_created_on", "sys_updated_on")
GLIDE_FORMAT = "%Y-%m-%d %H:%M:%S"
"""ServiceNow's date-time text (UTC with ``sysparm_display_value=false``)."""

LOOKBACK_S = 300
"""Changes are re-read this far behind the saved cursor: same-second updates, clock skew
and records changed behind the keyset while a run listed. Merge on sys_id makes it harmless."""

DISPLAY_VALUE = "false"
"""``sysparm_display_value``: ``false`` gives raw values (UTC timestamps, choice codes,
sys_ids of references), which is what an incremental cursor and joins need. ``true`` and
``all`` return localized, user-timezone text and are refused."""

LIST_PARAMS: Mapping[str, str] = MappingProxyType(
    {"sysparm_display_value": DISPLAY_VALUE, "sysparm_exclude_reference_link": "true"}
)
"""Table API parameters every listing sends besides its ``sysparm_query``."""

CREDENTIALS_PATH = "sources.servicenow.credentials"
"""Where the credentials are configured (named by every auth error line)."""

DEFAULT_RATE_LIMIT = 20.0
"""Requests per second before the instance's ``X-RateLimit-*`` headers say otherwise."""

MAX_WAIT_S = 900.0
"""Longest ``Retry-After`` a run waits for (``sources.servicenow.max_wait_s``). Rate limit
rules count per hour and send only ``X-RateLimit-Limit``/``-Reset``/``-Rule`` (no
``Remaining``), so a spent hour can mean a wait of up to an hour: past this the table stops
cleanly and the run says when to retry."""

TABLE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,79}$"
