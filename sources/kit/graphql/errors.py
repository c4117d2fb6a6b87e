"""GraphQL's ``errors`` array (HTTP 200) mapped onto the kit's exceptions.

The GraphQL spec (https://spec.graphql.org/October2021/#sec-Errors) puts errors in an
``errors`` list beside ``data``; a field that failed is ``null`` in ``data`` and its
error carries the ``path``. Providers add a code in ``extensions.code``: Shopify's
``THROTTLED``, ``ACCESS_DENIED``, ``MAX_COST_EXCEEDED``
(https://shopify.dev/docs/api/usage/rate-limits, https://shopify.dev/docs/api/admin-graphql#status_and_error_codes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from sources.kit.errors import AuthenticationError, ClientError, RateLimitedError

THROTTLED = "THROTTLED"
ACCESS_DENIED = "ACCESS_DENIED"
MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"


class GraphQLThrottledError(RateLimitedError):
    """The server refused the query for lack of points (still so after our retries)."""


class GraphQLAccessDeniedError(AuthenticationError):
    """The token lacks the scope a field needs (fatal: the app's grants must change)."""


class GraphQLQueryError(ClientError):
    """The query itself is wrong (unknown field, bad argument, too costly): fatal."""


@dataclass(frozen=True)
class FieldError:
    """One entry of the ``errors`` array.

    Attributes:
        message: The server's message.
        code: ``extensions.code`` (None when absent).
        path: Where in ``data`` it failed (names and list indexes).
    """

    message: str
    code: Optional[str]
    path: tuple[Any, ...]

    def where(self) -> str:
        """The path as text (``orders.edges.3.node``), or ``query`` without one."""
        return ".".join(str(p) for p in self.path) or "query"


def field_errors(payload: Mapping[str, Any]) -> list[FieldError]:
    """The answer's ``errors`` as :class:`FieldError` (an empty list when none)."""
    raw = payload.get("errors")
    if isinstance(raw, str):  # some gateways answer one string (Shopify's 401 body)
        return [FieldError(raw, None, ())]
    if not isinstance(raw, Sequence):
        return []
    found = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        ext = item.get("extensions")
        code = ext.get("code") if isinstance(ext, Mapping) else None
        path = item.get("path")
        found.append(
            FieldError(
                str(item.get("message") or "error"),
                str(code) if code else None,
                tuple(path) if isinstance(path, Sequence) and not isinstance(path, str) else (),
            )
        )
    return found


def is_throttled(errors: Sequence[FieldError]) -> bool:
    """Whether the answer is a THROTTLED refusal (the query did not run)."""
    return any(e.code == THROTTLED for e in errors)


def raise_fatal(title: str, errors: Sequence[FieldError], has_data: bool) -> None:
    """Raises for errors no retry or dead letter can fix; returns for partial data.

    Args:
        title: How the message names the provider.
        errors: The answer's errors (THROTTLED handled before).
        has_data: Whether the answer carried ``data`` (partial data is loadable).

    Raises:
        GraphQLAccessDeniedError: A field needs a scope the token lacks.
        GraphQLQueryError: The query is invalid, too costly, or nothing came back.
    """
    for error in errors:
        if error.code == ACCESS_DENIED:
            raise GraphQLAccessDeniedError(
                f"{title} denied access to {error.where()}: {error.message} "
                "(grant the app the access scope this field needs)"
            )
    for error in errors:
        if error.code == MAX_COST_EXCEEDED:
            raise GraphQLQueryError(
                f"{title} query too costly at {error.where()}: {error.message} "
                "(lower the page size)"
            )
    located = [e for e in errors if e.path]
    if errors and (not has_data or len(located) < len(errors)):
        first = errors[0]
        code = f" [{first.code}]" if first.code else ""
        raise GraphQLQueryError(f"{title} query failed at {first.where()}{code}: {first.message}")
