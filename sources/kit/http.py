"""The resilient HTTP session every connector hands to dlt's ``RESTClient``.

``RESTClient(base_url, session=ResilientSession(...), auth=..., paginator=...)``
prepares each request and calls :meth:`ResilientSession.send`, which does all the
work: host allowlist, default timeouts, idempotency keys, circuit breaker, rate
limiter, retries with backoff and jitter within a run-wide budget, safe redirects,
per-resource counters and redacted logging.
"""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Optional, Union
from urllib.parse import urlsplit

import requests
from requests import PreparedRequest, Request, Response
from requests.adapters import HTTPAdapter
from requests.hooks import default_hooks, dispatch_hook
from requests.utils import rewind_body
from urllib3.util.retry import Retry

from .circuit import CircuitBreaker, CircuitRegistry
from .errors import (
    ConfigurationError,
    FatalError,
    RateLimitWaitTooLongError,
    RetryBudgetExhaustedError,
    SluiceError,
    TooManyRedirectsError,
    TransientNetworkError,
    UnsafeRedirectError,
)
from .hosts import (
    carries_credentials,
    host_allowed,
    hostname_of,
    redirect_target,
    redirected_request,
)
from .ratelimit import RateLimiter
from .redact import Redactor, global_redactor
from .retry import NON_IDEMPOTENT_METHODS, RetryPolicy, exception_chain, is_transient_exception
from .settings import HttpSettings
from .stats import HttpStats

__all__ = ["MAX_REDIRECTS", "HttpSettings", "HttpStats", "ResilientSession"]

logger = logging.getLogger("sluice.http")

MAX_REDIRECTS = 5
NO_URLLIB3_RETRIES = Retry(total=0, read=False)
"""urllib3 must not retry on its own: every retry goes through the policy."""

SEND_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    OSError,
    http.client.HTTPException,
)
CONFIGURATION_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.SSLError,
)

Outcome = tuple[Optional[Response], Optional[BaseException]]


def body_is_replayable(request: PreparedRequest) -> bool:
    """Tells whether the request body can be sent again (bytes, text or a seekable file)."""
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    return isinstance(getattr(request, "_body_position", None), int)


def has_rewindable_body(request: PreparedRequest) -> bool:
    """Tells whether the body is a file that must be rewound before each attempt."""
    position = getattr(request, "_body_position", None)
    return hasattr(request.body, "seek") and isinstance(position, int)


def is_timeout(exc: BaseException) -> bool:
    """Tells whether a send failure was a timeout (also when wrapped)."""
    return any(isinstance(e, (requests.Timeout, TimeoutError)) for e in exception_chain(exc))


class ResilientSession(requests.Session):
    """A ``requests.Session`` whose ``send`` retries, throttles and protects credentials.

    Share one root session per source run; give each dlt resource
    ``session.for_label(name)`` so its requests are counted separately.
    """

    def __init__(
        self,
        *,
        integration: str,
        settings: HttpSettings,
        rate_limiter: Optional[RateLimiter] = None,
        breakers: Optional[CircuitRegistry] = None,
        retry_policy: Optional[RetryPolicy] = None,
        redactor: Optional[Redactor] = None,
        stats: Optional[HttpStats] = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Optional[random.Random] = None,
        label: Optional[str] = None,
    ) -> None:
        """Creates the session.

        Args:
            integration: Source name (``stripe``); names breakers and log lines.
            settings: Timeouts, retry and breaker settings, allowed hosts.
            rate_limiter: Proactive limiter shared by the source; None for no limit.
            breakers: Circuit breakers shared by the source; built from settings if None.
            retry_policy: Retry policy shared by the source; built from settings if None.
            redactor: Masks secrets in logs and errors; the process-wide one if None.
            stats: Counters to increment; a fresh set if None.
            clock: Monotonic clock (injected in tests).
            sleep: Sleep function (injected in tests).
            rng: Randomness for jitter and idempotency keys (injected in tests).
            label: Name the session's requests are counted under.
        """
        super().__init__()
        self.integration = integration
        self.settings = settings
        self.rate_limiter = rate_limiter
        self.rng = rng or random.Random()
        self.retry_policy = retry_policy or RetryPolicy.from_settings(settings, self.rng)
        self.breakers = breakers or CircuitRegistry(
            failure_threshold=settings.breaker_failure_threshold,
            recovery_timeout=settings.breaker_recovery_timeout,
            clock=clock,
        )
        self.redactor = redactor or global_redactor()
        self.stats = stats or HttpStats()
        self.label = label
        self._clock = clock
        self._sleep = sleep
        self._root: ResilientSession = self
        self._label_stats: dict[str, HttpStats] = {}
        self._label_lock = threading.Lock()
        self.headers["User-Agent"] = settings.user_agent
        self._mount_adapters()

    def __repr__(self) -> str:
        return f"ResilientSession(integration={self.integration!r}, label={self.label!r})"

    def _mount_adapters(self) -> None:
        for prefix in ("https://", "http://"):
            self.mount(
                prefix,
                HTTPAdapter(
                    pool_connections=self.settings.pool_maxsize,
                    pool_maxsize=self.settings.pool_maxsize,
                    max_retries=NO_URLLIB3_RETRIES,
                ),
            )

    # -- labels and stats -------------------------------------------------------------

    def for_label(self, label: str) -> ResilientSession:
        """A session for one resource: shares limiter, breakers, retry budget, redactor.

        It also shares the root's connection pools (adapters mounted on the root before
        this call). Its counters are kept per label and also add up into the root's
        totals.

        Args:
            label: Resource name.

        Returns:
            A new session counted under ``label``.
        """
        root = self._root
        with root._label_lock:
            stats = root._label_stats.get(label)
            if stats is None:
                stats = HttpStats(parent=root.stats)
                root._label_stats[label] = stats
        child = ResilientSession(
            integration=root.integration,
            settings=root.settings,
            rate_limiter=root.rate_limiter,
            breakers=root.breakers,
            retry_policy=root.retry_policy,
            redactor=root.redactor,
            stats=stats,
            clock=root._clock,
            sleep=root._sleep,
            rng=root.rng,
            label=label,
        )
        child._root = root
        child.adapters = OrderedDict(root.adapters)
        child.headers.update(root.headers)
        child.auth = root.auth
        child.verify = root.verify
        child.proxies = dict(root.proxies)
        child.trust_env = root.trust_env
        return child

    @property
    def root(self) -> ResilientSession:
        """The session all labelled sessions were derived from."""
        return self._root

    def stats_by_label(self) -> dict[str, dict[str, Union[int, float]]]:
        """Counters per resource label."""
        root = self._root
        with root._label_lock:
            items = list(root._label_stats.items())
        return {label: stats.snapshot() for label, stats in items}

    def total_stats(self) -> dict[str, Union[int, float]]:
        """Counters of every request made through the root and its labelled sessions."""
        return self._root.stats.snapshot()

    # -- sending ----------------------------------------------------------------------

    def prepare_request(self, request: Request) -> PreparedRequest:
        """Prepares as requests does, remembering the auth so retries can re-sign.

        Signing flows (OAuth 1.0a, HMAC) put a timestamp and a nonce into each
        signature; a retry that re-sent the first attempt's bytes would be refused as a
        replay, so :meth:`send` calls the auth's ``sign()`` again before every retry.
        """
        prepared = super().prepare_request(request)
        auth = request.auth or self.auth
        if callable(getattr(auth, "sign", None)):
            prepared._sluice_signer = auth  # type: ignore[attr-defined]
        return prepared

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        """Sends a prepared request resiliently.

        Args:
            request: The prepared request (left unmodified).
            **kwargs: ``requests`` send options (``timeout``, ``stream``,
                ``allow_redirects``...). A missing timeout becomes
                ``(connect_timeout, read_timeout)``.

        Returns:
            The final response, also when it is an error response that is not retried
            or that still failed after the last attempt (response hooks then decide).

        Raises:
            UnsafeRedirectError: Credentials would go to a host that is not allowed.
            CircuitOpenError: The host's circuit is open.
            RetryBudgetExhaustedError: The run's retry budget is spent.
            TransientNetworkError: The connection failed on every attempt.
            TooManyRedirectsError: More than five redirects.
        """
        follow_redirects = bool(kwargs.pop("allow_redirects", True))
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.settings.timeout
        hooks = request.hooks
        signer = getattr(request, "_sluice_signer", None)
        current = self._first_attempt_request(request)
        if signer is not None:
            current._sluice_signer = signer  # type: ignore[attr-defined]
        self._refuse_unsafe_host(current)
        response = self._send_with_retries(current, kwargs)
        history: list[Response] = []
        target = redirect_target(response) if follow_redirects else None
        while target is not None:
            if len(history) >= MAX_REDIRECTS:
                raise TooManyRedirectsError(
                    f"{self.integration}: more than {MAX_REDIRECTS} redirects starting at "
                    f"{self.redactor.redact_url(request.url or '')}",
                    response=response,
                )
            history.append(response)
            response.close()
            current = redirected_request(current, response, target)
            self._refuse_unsafe_host(current)
            response = self._send_with_retries(current, kwargs)
            target = redirect_target(response)
        if history:
            response.history = history
        return dispatch_hook("response", hooks, response, **kwargs)

    def _first_attempt_request(self, request: PreparedRequest) -> PreparedRequest:
        prepared = request.copy()
        prepared.hooks = default_hooks()
        method = (prepared.method or "GET").upper()
        header = self.retry_policy.decider.idempotency_header
        if method in NON_IDEMPOTENT_METHODS and header not in prepared.headers:
            prepared.headers[header] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return prepared

    def _refuse_unsafe_host(self, request: PreparedRequest) -> None:
        host = hostname_of(request.url)
        if host_allowed(host, self.settings.allowed_hosts) or not carries_credentials(request):
            return
        raise UnsafeRedirectError(
            f"{self.integration}: refusing to send credentials to {host or 'an unknown host'} "
            f"({self.redactor.redact_url(request.url or '')}); allowed hosts: "
            f"{', '.join(self.settings.allowed_hosts)}"
        )

    def _send_with_retries(self, request: PreparedRequest, kwargs: dict[str, Any]) -> Response:
        method = (request.method or "GET").upper()
        breaker = self.breakers.get(self.integration, hostname_of(request.url))
        policy = self.retry_policy
        has_key = policy.decider.idempotency_header in request.headers
        replayable = body_is_replayable(request)
        attempt = 0
        while True:
            attempt += 1
            breaker.before_call()
            self._throttle(request)
            response, error = self._attempt(request, kwargs, attempt, breaker)
            retry = replayable and policy.decider.should_retry(method, response, error, has_key)
            if not retry:
                return self._finish(request, response, error, attempt)
            if attempt >= policy.max_attempts:
                return self._give_up(request, response, error, attempt)
            breaker.raise_if_open()
            if not policy.budget.try_spend():
                raise RetryBudgetExhaustedError(
                    f"{self.integration}: retry budget of {policy.budget.max_retries} retries "
                    "for this run is spent; the API is failing too often to continue",
                    response=response,
                ) from error
            self._refuse_long_wait(request, response)
            delay = policy.wait_before_retry(attempt, response)
            self._log_retry(request, response, error, attempt, delay)
            self.stats.increment("retries")
            if response is not None:
                response.close()
            self._sleep(delay)

    def _refuse_long_wait(self, request: PreparedRequest, response: Optional[Response]) -> None:
        """Raises instead of waiting when the server asks for more than ``max_wait_s``."""
        limit = self.settings.max_wait_s
        wanted = self.retry_policy.schedule.requested_wait(response)
        if limit is None or wanted is None or wanted <= limit:
            return
        path = urlsplit(request.url or "").path
        self._raise_wait_too_long(path, wanted, limit, response, "the API asks for")

    def _raise_wait_too_long(
        self, path: str, wait: float, limit: float, response: Optional[Response], who: str
    ) -> None:
        retry_at = self.retry_policy.schedule.wall_clock() + wait
        when = datetime.fromtimestamp(retry_at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        raise RateLimitWaitTooLongError(
            f"{self.integration}: rate limited on {path}; {who} a wait of {wait:.0f} s, "
            f"more than max_wait_s ({limit:.0f} s): run again after {when}",
            retry_at=retry_at,
            response=response,
        )

    def _throttle(self, request: PreparedRequest) -> None:
        if self.rate_limiter is None:
            return
        path = urlsplit(request.url or "").path or "/"
        limit = self.settings.max_wait_s
        if limit is not None:
            pending = self.rate_limiter.pending_wait(path)
            if pending > limit:
                self._raise_wait_too_long(path, pending, limit, None, "pacing to the window needs")
        waited = self.rate_limiter.acquire(path)
        if waited > 0:
            self.stats.increment("rate_limit_wait_s", waited)

    def _attempt(
        self,
        request: PreparedRequest,
        kwargs: dict[str, Any],
        attempt: int,
        breaker: CircuitBreaker,
    ) -> Outcome:
        attempt_request = request.copy()
        if has_rewindable_body(attempt_request):
            rewind_body(attempt_request)
        signer = getattr(request, "_sluice_signer", None)
        if attempt > 1 and signer is not None:
            signer.sign(attempt_request)
        started = self._clock()
        try:
            response = super().send(attempt_request, allow_redirects=False, **kwargs)
        except SEND_ERRORS as exc:
            self._record_error(request, exc, attempt, breaker, self._clock() - started)
            return None, exc
        except BaseException:
            breaker.release()
            raise
        self._record_response(request, response, attempt, breaker, self._clock() - started)
        return response, None

    def _record_response(
        self,
        request: PreparedRequest,
        response: Response,
        attempt: int,
        breaker: CircuitBreaker,
        elapsed: float,
    ) -> None:
        status = response.status_code
        self.stats.increment("requests")
        if status == 429:
            self.stats.increment("throttled_429")
        elif status >= 500:
            self.stats.increment("server_errors")
        elif status >= 400:
            self.stats.increment("client_errors")
        received = response_size(response)
        if received:
            self.stats.increment("bytes_received", received)
        breaker.last_error = None  # the host answered: whatever fails now, it is reachable
        if status >= 500:
            self._record_failure(breaker)
        else:
            breaker.record_success()
        if self.rate_limiter is not None:
            self.rate_limiter.observe(urlsplit(request.url or "").path or "/", response)
        self._log_attempt(request, str(status), attempt, elapsed)

    def _record_error(
        self,
        request: PreparedRequest,
        error: BaseException,
        attempt: int,
        breaker: CircuitBreaker,
        elapsed: float,
    ) -> None:
        self.stats.increment("requests")
        if is_timeout(error):
            self.stats.increment("timeouts")
        elif is_transient_exception(error):
            self.stats.increment("connection_errors")
        if is_transient_exception(error):
            breaker.last_error = error
            self._record_failure(breaker)
        else:
            breaker.release()
        self._log_attempt(request, type(error).__name__, attempt, elapsed)

    def _record_failure(self, breaker: CircuitBreaker) -> None:
        if breaker.record_failure():
            self.stats.increment("circuit_trips")

    def _finish(
        self,
        request: PreparedRequest,
        response: Optional[Response],
        error: Optional[BaseException],
        attempt: int,
    ) -> Response:
        if error is not None:
            raise self._error_for(request, error, attempt) from error
        assert response is not None
        return response

    def _give_up(
        self,
        request: PreparedRequest,
        response: Optional[Response],
        error: Optional[BaseException],
        attempt: int,
    ) -> Response:
        outcome = type(error).__name__ if response is None else str(response.status_code)
        logger.warning(
            "%s %s %s -> %s: giving up after %d attempt(s)",
            self.integration,
            request.method,
            self.redactor.redact_url(request.url or ""),
            outcome,
            attempt,
        )
        return self._finish(request, response, error, attempt)

    def _error_for(
        self, request: PreparedRequest, error: BaseException, attempt: int
    ) -> SluiceError:
        detail = self.redactor.redact_text(f"{type(error).__name__}: {error}")
        where = f"{request.method} {self.redactor.redact_url(request.url or '')}"
        if is_transient_exception(error):
            return TransientNetworkError(
                f"{self.integration}: {where} failed after {attempt} attempt(s): {detail}"
            )
        if isinstance(error, CONFIGURATION_EXCEPTIONS):
            return ConfigurationError(f"{self.integration}: cannot send {where}: {detail}")
        return FatalError(f"{self.integration}: {where} failed: {detail}")

    # -- logging ----------------------------------------------------------------------

    def _log_attempt(
        self, request: PreparedRequest, outcome: str, attempt: int, elapsed: float
    ) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        logger.debug(
            "%s %s %s -> %s in %.0f ms (attempt %d/%d)",
            self.integration,
            request.method,
            self.redactor.redact_url(request.url or ""),
            outcome,
            elapsed * 1000.0,
            attempt,
            self.retry_policy.max_attempts,
        )

    def _log_retry(
        self,
        request: PreparedRequest,
        response: Optional[Response],
        error: Optional[BaseException],
        attempt: int,
        delay: float,
    ) -> None:
        if response is not None:
            outcome = str(response.status_code)
        else:
            outcome = self.redactor.redact_text(type(error).__name__)
        logger.warning(
            "%s %s %s -> %s; retrying in %.2f s (attempt %d/%d)",
            self.integration,
            request.method,
            self.redactor.redact_url(request.url or ""),
            outcome,
            delay,
            attempt + 1,
            self.retry_policy.max_attempts,
        )


def response_size(response: Response) -> int:
    """Body bytes of a response already read (Content-Length for a streamed one)."""
    content = getattr(response, "_content", False)
    if isinstance(content, bytes):
        return len(content)
    try:
        return int(response.headers.get("Content-Length") or 0)
    except ValueError:
        return 0
