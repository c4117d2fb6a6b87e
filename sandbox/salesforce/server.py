"""``SalesforceSandbox``: the Salesforce emulator on 127.0.0.1 in a background thread."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import urlsplit

from requests.structures import CaseInsensitiveDict

from sandbox.background import BackgroundServer
from sandbox.oauth.grants import JwtRules, TokenGrants
from sandbox.oauth.state import SandboxState

from .api import TOKEN_PATH, Answer, Faults, SalesforceApi, encode
from .bulk import DEFAULT_POLLS, BulkJobs
from .data import Seeder
from .ingest import IngestJobs
from .keys import KeyPair, generate_key_pair
from .locators import CURRENT_POLICY, LocatorPolicy, Locators
from .recycle_bin import RecycleBin
from .store import Store
from .writes import ValidationRules, Writer

logger = logging.getLogger("sluice.sandbox.salesforce")

CONSUMER_KEY = "3MVG9sandbox.consumer.key"
CONSUMER_SECRET = "sandbox-consumer-secret"
USERNAME = "integration@sluice-sandbox.example"
DEFAULT_API_LIMIT = 100_000
DEFAULT_PAGE_SIZE = 2000
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
"""``aud`` of a JWT bearer assertion: "The authorization server's URL: https://login.
salesforce.com, https://test.salesforce.com, or https://site.force.com/customers if
implementing for an Experience Cloud site" (https://help.salesforce.com/s/articleView?
id=sf.remoteaccess_oauth_jwt_flow.htm), never the instance URL. The sandbox's own login
URL stands in for them too."""
JWT_MAX_LIFETIME_S = 180
"""``exp``: "the expiration time of the assertion within 3 minutes" (same page)."""
JWT_DESCRIPTIONS = {
    # Salesforce's wording (https://www.useparagon.com/integration-error-solutions/
    # salesforce-invalid-grant-audience-is-invalid; https://salesforce.stackexchange.com/
    # questions/184363): an unknown or unapproved user gets the same answer. The wording
    # for expired assertions is not documented: the OAuth sandbox's is kept.
    "audience": "audience is invalid",
    "subject": "user hasn't approved this consumer",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, api: SalesforceApi) -> None:
        super().__init__((host, port), _Handler)
        self.api = api


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "salesforce-sandbox"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("POST")

    def do_PATCH(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("PATCH")

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("PUT")

    def do_DELETE(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("DELETE")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = CaseInsensitiveDict(self.headers.items())
        answer = self.server.api.handle(method, self.path, headers, body)
        self._send(answer)

    def _send(self, answer: Answer) -> None:
        payload = encode(answer)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        logger.debug("%s - " + format, self.address_string(), *args)


class SalesforceSandbox(BackgroundServer):
    """A local Salesforce org: OAuth token endpoint, describe, query/queryAll, limits.

    Example:
        >>> with SalesforceSandbox(seed=7, volume=10) as sf:
        ...     sf.store.update("Account", account_id, Name="Renamed")
    """

    label = "Salesforce sandbox"

    def __init__(
        self,
        seed: int = 42,
        volume: int = 40,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        api_limit: int = DEFAULT_API_LIMIT,
        now: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        key_pair: Optional[KeyPair] = None,
        bulk_polls: int = DEFAULT_POLLS,
        locator_policy: LocatorPolicy = CURRENT_POLICY,
        recycle_bin_capacity: Optional[int] = None,
        hard_delete_objects: frozenset[str] = frozenset(),
        rotate_refresh_tokens: bool = False,
        instance_host: Optional[str] = None,
    ) -> None:
        """Seeds the org (the server starts with ``start``).

        Args:
            seed: Seed of the data and token values.
            volume: Number of accounts; contacts, opportunities, leads and users follow.
            page_size: Records per query page (Salesforce: 2000).
            api_limit: Daily API request limit reported in ``Sforce-Limit-Info``.
            now: Unix-time clock for audit fields and token checks.
            host: Interface to listen on.
            port: Port (0: any free port).
            key_pair: The connected app's RSA keys; generated when omitted.
            bulk_polls: Status requests a Bulk API job stays ``InProgress``.
            locator_policy: When query locators die (``locators.LEGACY_POLICY``: 15
                minutes idle, 10 open per user).
            recycle_bin_capacity: Records the recycle bin holds before the oldest go.
            hard_delete_objects: Objects whose deletes skip the recycle bin.
            rotate_refresh_tokens: Each refresh answers a new refresh token and
                invalidates the one used (the connected app's "Enable Refresh Token
                Rotation", https://help.salesforce.com/s/articleView?id=sf.
                remoteaccess_oauth_refresh_token_rotation.htm); off by default, as in
                Salesforce.
            instance_host: Host of the ``instance_url`` tokens name (the login URL's
                host when None), so a test can tell login and instance URLs apart.
        """
        self.seed = seed
        self.host = host
        self._port = port
        self.keys = key_pair or generate_key_pair()
        self.store = Store(
            now, RecycleBin(capacity=recycle_bin_capacity), hard_deleted=hard_delete_objects
        )
        Seeder(self.store, random.Random(f"{seed}:data"), now()).seed(volume)
        self.oauth = SandboxState(
            {CONSUMER_KEY: CONSUMER_SECRET},
            access_token_ttl=12 * 3600,
            rotate_refresh_tokens=rotate_refresh_tokens,
            clock=now,
            rng=random.Random(f"{seed}:tokens"),
        )
        self.instance_host = instance_host
        self._grants = TokenGrants(
            self.oauth,
            {CONSUMER_KEY: self.keys.public_pem},
            LOGIN_AUDIENCES,
            JwtRules(JWT_MAX_LIFETIME_S, self._known_user, JWT_DESCRIPTIONS),
        )
        self.validation_rules = ValidationRules()
        self.writer = Writer(self.store, self.validation_rules)
        self.api = SalesforceApi(
            self.store,
            self.oauth,
            self._grants,
            page_size=page_size,
            api_limit=api_limit,
            bulk=BulkJobs(self.store, bulk_polls),
            locators=Locators(now, locator_policy),
            writer=self.writer,
            ingest=IngestJobs(self.writer, bulk_polls, now),
        )

    def start(self) -> SalesforceSandbox:
        """Starts serving; returns itself."""
        if self._server is not None:
            return self
        self._server = _Server(self.host, self._port, self.api)
        self.api.instance_url = self.instance_url
        self._grants.jwt_audience = (self.base_url, *LOGIN_AUDIENCES)
        self._serve(self._server, poll_interval=0.05)
        logger.info("Salesforce sandbox listening on %s", self.base_url)
        return self

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"SalesforceSandbox(seed={self.seed}, {where})"

    @property
    def instance_url(self) -> str:
        """Where the REST API is called (the ``instance_url`` of every token)."""
        if self.instance_host is None:
            return self.base_url
        return f"http://{self.instance_host}:{urlsplit(self.base_url).port}"

    def _known_user(self, username: str) -> bool:
        """Whether ``sub`` names the integration user or a seeded user."""
        return username == USERNAME or any(
            u.get("Username") == username for u in self.store.live("User")
        )

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint."""
        return self.base_url + TOKEN_PATH

    @property
    def ingest(self) -> IngestJobs:
        """Bulk API 2.0 ingest jobs (``ingest.end_next`` makes the next job fail)."""
        return self.api.ingest

    @property
    def faults(self) -> Faults:
        """Live fault switches."""
        return self.api.faults

    def jwt_credentials(self) -> dict[str, str]:
        """Settings of the JWT bearer flow, as under ``sources.salesforce.credentials``."""
        return {
            "token_url": self.token_url,
            "issuer": CONSUMER_KEY,
            "subject": USERNAME,
            "audience": self.base_url,
            "private_key": self.keys.private_pem,
        }

    def refresh_credentials(self) -> dict[str, str]:
        """Settings of the refresh token flow, with a freshly authorized refresh token."""
        return {
            "token_url": self.token_url,
            "client_id": CONSUMER_KEY,
            "client_secret": CONSUMER_SECRET,
            "refresh_token": self.oauth.issue_refresh_token(CONSUMER_KEY),
        }

    def expire_tokens(self) -> int:
        """Expires every access token (the API then answers 401 ``INVALID_SESSION_ID``)."""
        return self.oauth.expire_all_access_tokens()

    def set_api_usage(self, used: int, limit: Optional[int] = None) -> None:
        """Sets the org's API usage (and limit) reported in ``Sforce-Limit-Info``."""
        self.api.api_used = used
        if limit is not None:
            self.api.api_limit = limit
