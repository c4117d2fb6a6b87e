"""HTTP access to the Gmail API on the kit's connector framework.

The kit builds the session (unit-budget limiter, retries of 429 and 403 rate limits,
breaker, redaction) from :data:`~.spec.SPEC`; what stays here is Gmail's own: pageToken
listings, history.list's 404 for an expired ``startHistoryId``, and details fetched in
batches, each batch charged the units of its calls and its failed calls sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from dlt.common.configuration.inject import with_config

from sources.kit.auth.cached_bearer import CachedBearerAuth, bearer_of
from sources.kit.connector import (
    ConnectorClient,
    ConnectorSpec,
    build_session,
    check_base_url,
    resolve_connector_http,
)
from sources.kit.errors import (
    FatalError,
    PaginationLoopError,
    RateLimitedError,
    ServerError,
    SluiceError,
)
from sources.kit.hints import retry_after_seconds
from sources.kit.http_config import HttpConfiguration

from . import batch
from .auth import make_auth
from .batch import Answer, Call
from .errors import HistoryExpired, is_rate_limited
from .settings import (
    API_ROOT,
    BATCH_PATH,
    BATCH_SIZE,
    BATCH_UNITS,
    HISTORY_PATH,
    LABELS_PATH,
    MAX_BATCH,
    MESSAGES_PATH,
    PAGE_SIZE,
    PROFILE_PATH,
    THREADS_PATH,
)
from .spec import SPEC

logger = logging.getLogger("sluice.gmail")

__all__ = ["GmailClient", "make_client"]

BATCH_ATTEMPTS = 6
"""Sends of a batch's failed calls before the run gives up on them."""


@dataclass
class GmailClient(ConnectorClient):
    """Lists and fetches Gmail resources for one mailbox (``userId`` ``me``).

    Attributes:
        batch_size: Calls per batch request (at most 100; Google advises 50).
        batch_units: Most quota units one batch may carry (so that one batch never
            spends more than a second's budget at once).
        sleep: Waits between re-sends of failed batch calls (injected in tests).
    """

    spec: ClassVar[ConnectorSpec] = SPEC
    batch_size: int = BATCH_SIZE
    batch_units: float = BATCH_UNITS
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def headers(self) -> Mapping[str, str]:
        """Gmail answers JSON."""
        return {"Accept": "application/json"}

    # -- listings ----------------------------------------------------------------------

    def pages(
        self, path: str, key: str, *, label: str, params: Optional[Mapping[str, Any]] = None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """Follows ``nextPageToken``; yields each page's ``key`` items and the page.

        Raises:
            PaginationLoopError: The API handed out a page token twice.
        """
        query = dict(params or {})
        seen: set[str] = set()
        while True:
            payload = self.get(path, label=label, params=query).json()
            items = payload.get(key) or []
            yield [i for i in items if isinstance(i, dict)], payload
            token = payload.get("nextPageToken")
            if not token:
                return
            if token in seen:
                raise PaginationLoopError(
                    f"Gmail {path}: page token repeated; stopping the listing"
                )
            seen.add(token)
            query["pageToken"] = token

    def profile(self) -> dict[str, Any]:
        """users.getProfile: emailAddress, messagesTotal, threadsTotal, historyId."""
        return dict(self.get(PROFILE_PATH, label="_profile").json())

    def labels(self) -> list[dict[str, Any]]:
        """users.labels.list (one call: the list is not paged)."""
        return list(self.get(LABELS_PATH, label="labels").json().get("labels") or [])

    def message_refs(
        self, q: Optional[str] = None, *, include_spam_trash: bool = False, label: str = "messages"
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """messages.list pages of ``{id, threadId}``."""
        params: dict[str, Any] = {"maxResults": PAGE_SIZE}
        if q:
            params["q"] = q
        if include_spam_trash:
            params["includeSpamTrash"] = "true"
        yield from self.pages(MESSAGES_PATH, "messages", label=label, params=params)

    def thread_pages(
        self, q: Optional[str] = None, *, include_spam_trash: bool = False
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """threads.list pages of ``{id, snippet, historyId}``."""
        params: dict[str, Any] = {"maxResults": PAGE_SIZE}
        if q:
            params["q"] = q
        if include_spam_trash:
            params["includeSpamTrash"] = "true"
        yield from self.pages(THREADS_PATH, "threads", label="threads", params=params)

    def history(
        self, start_history_id: int, *, label: str
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """history.list pages from ``start_history_id`` (all four history types).

        Raises:
            HistoryExpired: Gmail answered 404: the id is older than the history it
                keeps ("If you receive an HTTP 404 error response, your application
                should perform a full sync", guides/sync).
        """
        params = {"startHistoryId": str(start_history_id), "maxResults": PAGE_SIZE}
        try:
            yield from self.pages(HISTORY_PATH, "history", label=label, params=params)
        except SluiceError as exc:
            if exc.status == 404:
                raise HistoryExpired(f"history.list answered 404 for {start_history_id}") from exc
            raise

    # -- batches -----------------------------------------------------------------------

    def message_call(self, message_id: str, fmt: str, headers: Sequence[str] = ()) -> Call:
        """messages.get of one message."""
        params = [("format", fmt), *(("metadataHeaders", h) for h in headers if fmt == "metadata")]
        return Call(message_id, f"{MESSAGES_PATH}/{message_id}", tuple(params))

    def attachment_call(self, message_id: str, attachment_id: str) -> Call:
        """messages.attachments.get of one attachment (key ``<message id>/<attachment id>``)."""
        path = f"{MESSAGES_PATH}/{message_id}/attachments/{attachment_id}"
        return Call(f"{message_id}/{attachment_id}", path)

    def thread_call(self, thread_id: str) -> Call:
        """threads.get of one thread, messages in ``minimal`` format (count and snippets)."""
        return Call(thread_id, f"{THREADS_PATH}/{thread_id}", (("format", "minimal"),))

    def fetch(self, calls: Sequence[Call], *, label: str) -> Iterator[dict[str, Optional[Any]]]:
        """Fetches resources in batches; yields per batch ``key -> resource`` (None: 404).

        Raises:
            RateLimitedError: Calls were still throttled after every re-send.
            FatalError: A call was refused for good (403 other than a rate limit).
        """
        for chunk in self._chunks(calls):
            yield self._run_batch(chunk, label)

    def _chunks(self, calls: Sequence[Call]) -> Iterator[list[Call]]:
        cost = self._cost
        chunk: list[Call] = []
        units = 0.0
        size = max(1, min(self.batch_size, MAX_BATCH))
        for call in calls:
            price = cost(call.path)
            if chunk and (len(chunk) >= size or units + price > self.batch_units):
                yield chunk
                chunk, units = [], 0.0
            chunk.append(call)
            units += price
        if chunk:
            yield chunk

    def _cost(self, path: str) -> float:
        costs = self.spec.request_costs
        return costs(path) if costs is not None else 1.0

    def _run_batch(self, calls: list[Call], label: str) -> dict[str, Optional[Any]]:
        results: dict[str, Optional[Any]] = {}
        pending = calls
        for _ in range(BATCH_ATTEMPTS):
            answers, token = self._send_batch(pending, label)
            again, wait = self._sort_answers(pending, answers, results, token)
            if not again:
                return results
            pending = again
            self.session.stats.increment("retries")
            limiter = self.session.rate_limiter
            if wait > 0 and limiter is not None:
                # every resource holds back, and the re-send waits for its slot
                limiter.pause("default", wait)
            elif wait > 0:
                self.sleep(wait)
        raise RateLimitedError(
            f"Gmail batch: {len(pending)} call(s) still throttled or failing after "
            f"{BATCH_ATTEMPTS} attempts; run again later (the saved history cursor is kept)"
        )

    def _send_batch(self, calls: list[Call], label: str) -> tuple[dict[int, Answer], Optional[str]]:
        body, content_type = batch.encode(calls)
        session = self.rest_client(label).session
        url = self.base_url.rstrip("/") + BATCH_PATH
        limiter = self.session.rate_limiter
        units = sum(self._cost(call.path) for call in calls)
        headers = {"Content-Type": content_type, "Accept": "multipart/mixed"}
        if limiter is None:
            response = session.post(url, data=body, headers=headers, auth=self.auth)
        else:
            with limiter.charge(units):  # a batch costs the units of its calls
                response = session.post(url, data=body, headers=headers, auth=self.auth)
        self.spec.raise_for_error(response)
        answers = batch.decode(
            response.headers.get("Content-Type", ""), response.content, len(calls)
        )
        return answers, bearer_of(response.request)

    def _sort_answers(
        self,
        calls: list[Call],
        answers: Mapping[int, Answer],
        results: dict[str, Optional[Any]],
        token: Optional[str],
    ) -> tuple[list[Call], float]:
        """Keeps the answered calls; returns the calls to send again and the wait first."""
        again: list[Call] = []
        wait = 0.0
        for index, call in enumerate(calls):
            answer = answers.get(index)
            if answer is None:
                again.append(call)
                wait = max(wait, 0.5)
            elif answer.status < 300:
                results[call.key] = answer.json()
            elif answer.status == 404:
                results[call.key] = None  # gone since it was listed: deleted
            elif answer.status == 401:
                self._renew_token(token)
                again.append(call)
            elif is_rate_limited(answer.status, answer.reasons) or answer.status >= 500:
                again.append(call)
                wait = max(wait, self._wait_for(answer))
            else:
                raise self._call_error(call, answer)
        return again, wait

    def _renew_token(self, token: Optional[str]) -> None:
        """An inner 401: the access token expired since the batch left; fetch a new one."""
        if isinstance(self.auth, CachedBearerAuth):
            self.auth.invalidate(token)

    def _wait_for(self, answer: Answer) -> float:
        hint = (
            retry_after_seconds({"Retry-After": answer.retry_after}, time.time())
            if answer.retry_after
            else None
        )
        return hint if hint is not None else 1.0

    def _call_error(self, call: Call, answer: Answer) -> SluiceError:
        payload = answer.json()
        error = payload.get("error") if isinstance(payload, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        text = f"HTTP {answer.status} from GET {call.path} (in a batch): {message or 'error'}"
        if answer.status == 403:
            return FatalError(
                f"Gmail refused a call ({text}): re-authorise with the gmail.readonly scope "
                "and set sources.gmail.credentials.refresh_token"
            )
        if answer.status >= 500:
            return ServerError(text)
        return FatalError(f"Gmail: {text}")

    def check_credentials(self) -> dict[str, Any]:
        """getProfile (one unit) so refused credentials fail before any work.

        Returns:
            The profile.
        """
        return self.profile()


def make_client(**given: Any) -> GmailClient:
    """Builds a Gmail client from ``sources.gmail.*``.

    ``base_url`` (the API root, Google's by default), ``auth`` (from
    ``sources.gmail.credentials.*`` when omitted) and the HTTP keys of
    :class:`~sources.kit.http_config.HttpConfiguration` resolve from dlt config unless
    passed; ``rate_limit`` is quota units per second (220).

    Raises:
        ConfigurationError: The base URL, credentials or an HTTP setting is unusable.
    """
    http = resolve_connector_http(SPEC, given)
    return client_from_config(http=http, **given)


@with_config(sections=("sources", "gmail"))
def client_from_config(
    base_url: str = API_ROOT,
    auth: Optional[Any] = None,
    sleep: Optional[Callable[[float], None]] = None,
    *,
    http: HttpConfiguration,
) -> GmailClient:
    """The client from connection settings and resolved HTTP settings.

    Args:
        base_url: API root (``SOURCES__GMAIL__BASE_URL``; Google's by default).
        auth: A prebuilt auth; from ``sources.gmail.credentials.*`` when omitted.
        sleep: Pacing and retry waits, batch re-sends included (injected in tests).
        http: Timeouts, retries, breaker and the units-per-second rate limit.

    Returns:
        The client.
    """
    url = check_base_url(SPEC, base_url, example=API_ROOT)
    client = GmailClient(
        base_url=url,
        session=build_session(
            SPEC,
            base_url=url,
            settings=http.to_settings(),
            rate_limit=http.rate_limit,
            sleep=sleep or time.sleep,
        ),
        auth=auth or make_auth(),
        sleep=sleep or time.sleep,
    )
    return client
