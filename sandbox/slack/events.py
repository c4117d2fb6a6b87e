"""The Events API side: signed ``event_callback`` deliveries and the ``url_verification`` challenge.

Envelope fields are the Events API's (https://docs.slack.dev/apis/events-api/#callback-field):
``token``, ``team_id``, ``api_app_id``, ``event``, ``type: event_callback``, ``event_id``,
``event_time``. Requests are signed as "Verifying requests from Slack" says
(https://docs.slack.dev/authentication/verifying-requests-from-slack): ``X-Slack-Signature``
is ``v0=`` + hex HMAC-SHA256 of ``v0:<X-Slack-Request-Timestamp>:<raw body>`` under the
app's signing secret. The challenge is ``{"token", "challenge", "type": "url_verification"}``
and the app answers the challenge back
(https://docs.slack.dev/reference/events/url_verification). A delivery not answered 2xx
is retried up to three times with ``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason``
(https://docs.slack.dev/apis/events-api/#retries); Slack waits minutes between tries, the
sandbox retries at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import requests

from .ids import ALPHABET, new_id

logger = logging.getLogger("sluice.sandbox.slack")
Clock = Callable[[], float]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``v0=<hex>``: HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """One POST the sender made and what the receiver answered (0: no answer)."""

    url: str
    body: bytes
    headers: dict[str, str]
    status: int


class EventSender:
    """Builds, signs and posts Events API requests. Thread-safe."""

    def __init__(
        self,
        *,
        signing_secret: str,
        verification_token: str,
        team_id: str,
        api_app_id: str,
        bot_user_id: str,
        clock: Clock = time.time,
        seed: int = 0,
        session: Optional[requests.Session] = None,
        timeout_s: float = 5.0,
        retries: int = 3,
    ) -> None:
        """Creates the sender.

        Args:
            signing_secret: The app's signing secret.
            verification_token: The deprecated ``token`` field of every payload.
            team_id: Workspace id of the payloads.
            api_app_id: App id of the payloads.
            bot_user_id: The installing bot user (``authorizations``).
            clock: Signing time; the receiver checks it against its own clock (5 minutes).
            seed: Seed of the event ids.
            session: HTTP session (a new one by default).
            timeout_s: Timeout of each POST.
            retries: Retries of an event delivery that got no 2xx (Slack makes three).
        """
        self.signing_secret = signing_secret
        self.verification_token = verification_token
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.clock = clock
        self.session = session or requests.Session()
        self.timeout_s = timeout_s
        self.retries = retries
        self.url: Optional[str] = None
        self.deliveries: list[Delivery] = []
        self._rng = random.Random(f"slack-events:{seed}")
        self._lock = threading.Lock()

    def envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        """The ``event_callback`` wrapping ``event``."""
        with self._lock:
            event_id = "Ev" + "".join(self._rng.choice(ALPHABET) for _ in range(10))
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(float(event.get("event_ts", self.clock()))),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def signed(
        self, body: bytes, *, secret: Optional[str] = None, timestamp: Optional[int] = None
    ) -> dict[str, str]:
        """Headers of a delivery; ``secret``/``timestamp`` let tests forge or age one."""
        stamp = str(int(self.clock()) if timestamp is None else timestamp)
        return {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(secret or self.signing_secret, stamp, body),
        }

    def post(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        secret: Optional[str] = None,
        timestamp: Optional[int] = None,
        extra_headers: Optional[dict[str, str]] = None,
    ) -> requests.Response:
        """POSTs ``payload`` signed (or mis-signed) to ``url`` and records the delivery."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {**self.signed(body, secret=secret, timestamp=timestamp), **(extra_headers or {})}
        response = self.session.post(url, data=body, headers=headers, timeout=self.timeout_s)
        with self._lock:
            self.deliveries.append(Delivery(url, body, headers, response.status_code))
        return response

    def emit(self, event: dict[str, Any]) -> None:
        """Delivers ``event`` to the subscribed URL, if any, retrying a failed delivery.

        Failures are logged and recorded in ``deliveries`` (status 0: no answer), not raised.
        """
        url = self.url
        if url is None:
            return
        payload = self.envelope(event)
        status = -1
        for attempt in range(self.retries + 1):
            extra = {}
            if attempt:
                reason = "http_error" if status > 0 else "http_timeout"
                extra = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": reason}
            status = self._attempt(url, payload, extra)
            if 200 <= status < 300:
                return

    def _attempt(self, url: str, payload: dict[str, Any], extra: dict[str, str]) -> int:
        """One POST of a delivery; its status, 0 when nothing answered."""
        try:
            return self.post(url, payload, extra_headers=extra).status_code
        except requests.RequestException as exc:
            logger.warning("slack sandbox: event delivery to %s failed: %s", url, exc)
            with self._lock:
                self.deliveries.append(Delivery(url, b"", {}, 0))
            return 0

    def url_verification(self, url: str) -> requests.Response:
        """POSTs the signed challenge; the receiver must echo ``challenge``."""
        with self._lock:
            challenge = new_id(self._rng, "", 48)
        payload = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        return self.post(url, payload)
