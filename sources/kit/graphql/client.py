"""A GraphQL client over the kit's resilient session, paced by a :class:`CostLimiter`.

Transport failures (5xx, resets, timeouts) are the session's: it retries them. What is
GraphQL's own is here: the query goes as ``POST {"query", "variables"}``
(https://graphql.org/learn/serving-over-http/#post-request), the answer is HTTP 200 with
``errors`` beside ``data``, a THROTTLED answer is retried after the wait the cost model
gives, and every answer's cost figures feed the limiter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import requests
from requests.auth import AuthBase

from sources.kit.errors import error_from_response
from sources.kit.redact import global_redactor

from .cost import CostLimiter, CostReader, CostReport
from .errors import (
    FieldError,
    GraphQLQueryError,
    GraphQLThrottledError,
    field_errors,
    is_throttled,
    raise_fatal,
)

logger = logging.getLogger("sluice.graphql")


@dataclass(frozen=True)
class GraphQLResult:
    """One executed query.

    Attributes:
        data: The ``data`` object (failed fields are None).
        errors: Errors of a partial answer, each with its ``path`` (dead-letter them).
        cost: The cost figures of the answer, if it had any.
    """

    data: dict[str, Any]
    errors: list[FieldError]
    cost: Optional[CostReport]


@dataclass
class GraphQLClient:
    """Executes queries against one GraphQL endpoint.

    Attributes:
        session: The run's root resilient session (``for_label`` per resource).
        url: The endpoint (``https://{shop}.myshopify.com/admin/api/2025-01/graphql.json``).
        limiter: The cost bucket shared by every resource of the run.
        reader: Reads the provider's cost figures from an answer.
        headers: Headers every request carries (never credentials: see ``auth``).
        auth: How credentials are sent (the provider's token header).
        title: How messages name the provider.
        max_throttled: THROTTLED answers in a row before giving up on one query.
        sleep: Sleep between a THROTTLED answer and its retry (injected in tests).
    """

    session: requests.Session
    url: str
    limiter: CostLimiter
    reader: CostReader
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: Optional[AuthBase] = None
    title: str = "GraphQL"
    max_throttled: int = 20
    sleep: Optional[Callable[[float], None]] = None
    sent: int = 0

    def _session(self, label: Optional[str]) -> requests.Session:
        for_label = getattr(self.session, "for_label", None)
        return for_label(label) if label and for_label is not None else self.session

    def execute(
        self,
        query: str,
        variables: Optional[Mapping[str, Any]] = None,
        *,
        label: Optional[str] = None,
        estimated_cost: Optional[float] = None,
    ) -> GraphQLResult:
        """Runs one query, waiting for its cost and retrying THROTTLED answers.

        Args:
            query: The GraphQL document.
            variables: Its variables.
            label: Name the request is counted under (the resource).
            estimated_cost: The requested cost we expect (what the bucket must hold).

        Returns:
            The data, the errors of a partial answer, and the cost figures.

        Raises:
            GraphQLThrottledError: Still throttled after ``max_throttled`` retries.
            GraphQLAccessDeniedError: A field needs a scope the token lacks.
            GraphQLQueryError: The query is invalid or the answer is not GraphQL.
            SluiceError: The HTTP error the session could not retry away.
        """
        body = {"query": query, "variables": dict(variables or {})}
        sleep = self.sleep or self.limiter.pause
        for _attempt in range(self.max_throttled + 1):
            reserved = self.limiter.acquire(estimated_cost)
            try:
                payload = self._post(body, label)
            except BaseException:
                self.limiter.observe(reserved, None)
                raise
            report = self.reader(payload)
            self.limiter.observe(reserved, report)
            errors = field_errors(payload)
            if not is_throttled(errors):
                data = payload.get("data")
                raise_fatal(self.title, errors, isinstance(data, dict))
                return GraphQLResult(data if isinstance(data, dict) else {}, errors, report)
            wait = self.limiter.on_throttled(report)
            logger.info("%s throttled: retrying in %.2fs", self.title, wait)
            sleep(wait)
        raise GraphQLThrottledError(
            f"{self.title} kept answering THROTTLED ({self.max_throttled} retries): "
            "another app may share this store's budget; run again later"
        )

    def _post(self, body: Mapping[str, Any], label: Optional[str]) -> dict[str, Any]:
        response = self._session(label).post(
            self.url, json=body, headers=dict(self.headers), auth=self.auth
        )
        self.sent += 1
        if response.status_code >= 400:
            raise error_from_response(response, global_redactor())
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise GraphQLQueryError(
                f"{self.title} answered {self.url} with something else than GraphQL JSON",
                response=response,
            )
        return payload
