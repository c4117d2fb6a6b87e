"""HTTP access to the Slack Web API on the kit's connector framework.

The kit builds the session (per-method rate-limit groups, retries honouring 429
``Retry-After``, breaker, redaction) from :data:`~.spec.SPEC`; what stays here is
Slack's own: cursor pages of one method, the token check and the per-method budgets read
from ``sources.slack.method_limits`` / ``marketplace_limits``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional, Union

from dlt.common.configuration.inject import with_config

from sources.kit.auth.static import BearerAuth
from sources.kit.connector import (
    ConnectorClient,
    ConnectorSpec,
    build_session,
    check_base_url,
    resolve_connector_http,
)
from sources.kit.errors import ConfigurationError, PaginationLoopError
from sources.kit.http_config import HttpConfiguration
from sources.kit.redact import global_redactor

from .settings import (
    AUTH_TEST,
    BASE_URL,
    HISTORY,
    MARKETPLACE_LIMITS,
    MARKETPLACE_PAGE_SIZE,
    METHOD_LIMITS,
    PAGE_SIZE,
    REPLIES,
    TOKEN_KEY,
    TOKEN_PREFIX,
)
from .spec import SPEC, method_groups

__all__ = ["SlackClient", "SlackPage", "make_client", "method_budget", "parse_method_limits"]

logger = logging.getLogger("sluice.slack")

LimitsSetting = Union[str, Mapping[str, Any], None]


@dataclass(frozen=True)
class SlackPage:
    """One answer of a paged method.

    Attributes:
        body: The decoded answer.
        items: The records under the method's list key.
        next_cursor: The cursor of the next page; None on the last one.
        cursor: The cursor this page was asked with (None for the first page).
    """

    body: dict[str, Any]
    items: list[dict[str, Any]]
    next_cursor: Optional[str]
    cursor: Optional[str]


def next_cursor_of(body: Mapping[str, Any]) -> Optional[str]:
    """``response_metadata.next_cursor``; ``""`` or absent means the last page
    (https://api.slack.com/apis/pagination)."""
    meta = body.get("response_metadata")
    cursor = meta.get("next_cursor") if isinstance(meta, Mapping) else None
    return str(cursor) if cursor else None


@dataclass
class SlackClient(ConnectorClient):
    """Calls Web API methods through the kit's per-resource RESTClient.

    Attributes:
        base_url: API root (``https://slack.com/api``).
        session: Root resilient session (limiter groups per method, retries, breaker).
        auth: The bot token as ``Authorization: Bearer`` (Slack's preferred way).
        page_size: ``limit`` per call (capped at 15 on history/replies under the
            Marketplace regime).
        method_limits: Requests per minute per method, as the limiter paces them.
        marketplace: Whether the non-Marketplace limits apply.
        notes: Short lines for the run summary (a resource stopped early, channels skipped).
    """

    spec: ClassVar[ConnectorSpec] = SPEC
    page_size: int = PAGE_SIZE
    method_limits: Mapping[str, float] = field(default_factory=lambda: dict(METHOD_LIMITS))
    marketplace: bool = False
    notes: list[str] = field(default_factory=list)

    def limit_for(self, method: str) -> int:
        """The ``limit`` to send: at most 15 on history/replies under the 2025 regime."""
        if self.marketplace and method in (HISTORY, REPLIES):
            return min(self.page_size, MARKETPLACE_PAGE_SIZE)
        return self.page_size

    def call(
        self, method: str, params: Optional[Mapping[str, Any]] = None, *, label: str
    ) -> dict[str, Any]:
        """One GET of ``method``; an ``ok: false`` answer raises (the spec's raiser)."""
        body: dict[str, Any] = self.get(method, label=label, params=params).json()
        return body

    def pages(
        self,
        method: str,
        key: str,
        params: Mapping[str, Any],
        *,
        label: str,
        cursor: Optional[str] = None,
    ) -> Iterator[SlackPage]:
        """Pages of ``method`` from ``cursor`` (the first page when None).

        Args:
            method: Web API method (``conversations.history``).
            key: Where the records are in the answer (``messages``, ``channels``...).
            params: Arguments of every page besides ``cursor`` and ``limit``.
            label: Name the requests are counted under.
            cursor: A saved cursor to resume from.

        Yields:
            Each page with the cursor it was asked with and the next one.

        Raises:
            PaginationLoopError: Slack sent back a cursor it had already sent.
        """
        seen: set[str] = set()
        while True:
            query = {**params, "limit": self.limit_for(method)}
            if cursor:
                query["cursor"] = cursor
            body = self.call(method, query, label=label)
            items = body.get(key) or []
            following = next_cursor_of(body)
            yield SlackPage(body, list(items), following, cursor)
            if following is None:
                return
            if following in seen:
                raise PaginationLoopError(f"Slack {method}: cursor {following[:40]} came back")
            seen.add(following)
            cursor = following

    def check_credentials(self) -> dict[str, Any]:
        """``auth.test``, so a bad token fails before any work (https://api.slack.com/methods/auth.test).

        Returns:
            Its answer (team, user and bot ids).

        Raises:
            AuthenticationError: Slack refused the token.
        """
        return self.call(AUTH_TEST, label="_credentials")


def parse_method_limits(value: LimitsSetting) -> dict[str, float]:
    """``sources.slack.method_limits``: a table, JSON object or ``method=per_minute,...``.

    Raises:
        ConfigurationError: A value is not a positive number of requests per minute.
    """
    if value is None or value == "":
        return {}
    setting = "sources.slack.method_limits"
    pairs: Mapping[str, Any]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                pairs = json.loads(text)
            except ValueError as exc:
                raise ConfigurationError(f"{setting} is not a JSON object: {exc}") from None
        else:
            pairs = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    else:
        pairs = value
    limits: dict[str, float] = {}
    for method, raw in pairs.items():
        try:
            limits[str(method).strip()] = float(raw)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"{setting}.{method} must be requests per minute, got {raw!r}"
            ) from None
        if limits[str(method).strip()] <= 0:
            raise ConfigurationError(f"{setting}.{method} must be positive, got {raw!r}")
    return limits


def method_budget(marketplace: bool, configured: Mapping[str, float]) -> dict[str, float]:
    """Requests per minute per method: the tiers, the 2025 regime, then the configuration."""
    budget = dict(METHOD_LIMITS)
    if marketplace:
        budget.update(MARKETPLACE_LIMITS)
    budget.update(configured)
    return budget


def check_token(token: Optional[str]) -> str:
    """The bot token, registered with the redactor, or one line saying what to set.

    Raises:
        ConfigurationError: Missing, or not a bot token.
    """
    if not token:
        raise ConfigurationError(
            f"Slack bot token missing: set {TOKEN_KEY} (xoxb-...) in .dlt/secrets.toml or "
            f"{TOKEN_KEY.upper().replace('.', '__')}"
        )
    global_redactor().add_secret(token)
    if not token.startswith(TOKEN_PREFIX):
        # A user (xoxp-) or app-level (xapp-) token lacks the bot's scopes.
        raise ConfigurationError(
            f"{TOKEN_KEY} does not look like a Slack bot token: it must start with "
            f"{TOKEN_PREFIX} (OAuth & Permissions > Bot User OAuth Token)"
        )
    return token


def make_client(**given: Any) -> SlackClient:
    """Builds a Slack client from ``sources.slack.*``.

    Every argument resolves from dlt config, secrets or the environment unless passed:
    ``base_url``, ``bot_token``, ``page_size``, ``marketplace_limits``,
    ``method_limits`` and the HTTP keys of
    :class:`~sources.kit.http_config.HttpConfiguration` (``max_wait_s``...).

    Raises:
        ConfigurationError: The base URL, token or a setting is unusable.
    """
    http = resolve_connector_http(SPEC, given)
    return client_from_config(http=http, **given)


@with_config(sections=("sources", "slack"))
def client_from_config(
    base_url: str = BASE_URL,
    bot_token: Optional[str] = None,
    page_size: int = PAGE_SIZE,
    marketplace_limits: bool = False,
    method_limits: LimitsSetting = None,
    *,
    http: HttpConfiguration,
) -> SlackClient:
    """Builds the client from the connection settings and resolved HTTP settings.

    Args:
        base_url: Web API root (``SOURCES__SLACK__BASE_URL``).
        bot_token: The bot token (``sources.slack.bot_token`` in secrets).
        page_size: ``limit`` per call.
        marketplace_limits: The app is not Marketplace-approved: history and replies at
            1 request per minute and 15 messages per call.
        method_limits: Requests per minute per method, over the tiers' defaults.
        http: Timeouts, retries, breaker, rate limit and longest wait.

    Returns:
        The client.
    """
    url = check_base_url(SPEC, base_url, example=BASE_URL)
    token = check_token(bot_token)
    budget = method_budget(marketplace_limits, parse_method_limits(method_limits))
    # The per-method budget of this run replaces the spec's tier defaults.
    spec = dataclasses.replace(SPEC, rate_limit_groups=method_groups(budget))
    session = build_session(
        spec, base_url=url, settings=http.to_settings(), rate_limit=http.rate_limit
    )
    return SlackClient(
        base_url=url + "/",
        session=session,
        auth=BearerAuth(token),
        page_size=page_size,
        method_limits=budget,
        marketplace=marketplace_limits,
    )
