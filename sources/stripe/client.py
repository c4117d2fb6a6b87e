"""HTTP access to the Stripe API: list pages, event feeds and the credential check.

The kit builds the session (rate limits, retries, circuit breaker, redaction) and the
per-resource RESTClient from :data:`~.spec.SPEC`; what stays here is Stripe's own: the
key-mode rate limit, the pinned headers, single pages for the time-sliced listing,
retrieves, the credential check and the account fingerprint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Optional
from urllib.parse import quote

import dlt
import orjson
from dlt.common.configuration.inject import with_config
from requests.auth import AuthBase
from requests.exceptions import JSONDecodeError as RequestsJSONDecodeError

from sources.kit.auth import BearerAuth
from sources.kit.backfill import SliceParams, StreamGovernor, TimeSlicedLister
from sources.kit.connector import (
    ConnectorClient,
    ConnectorSpec,
    build_session,
    check_base_url,
    resolve_connector_http,
)
from sources.kit.errors import (
    AuthenticationError,
    ConfigurationError,
    FatalError,
    error_from_response,
)
from sources.kit.http_config import HttpConfiguration
from sources.kit.redact import global_redactor

from .errors import not_json_error, raise_for_stripe
from .settings import (
    DEFAULT_BASE_URL,
    LIVE_RATE_LIMIT,
    NO_RATE_LIMIT,
    PAGE_SIZE,
    SHOULD_RETRY_HEADER,
    STRIPE_VERSION,
    TEST_RATE_LIMIT,
)
from .spec import SPEC

__all__ = [
    "Page",
    "StripeClient",
    "key_mode",
    "make_auth",
    "make_client",
    "not_json_error",
    "raise_for_stripe",
    "requests_per_second",
]

logger = logging.getLogger("sluice.stripe")

Page = list[dict[str, Any]]


def rate_limit_for_key(api_key: str) -> float:
    """Returns Stripe's read limit for the mode the key belongs to (live or test)."""
    return LIVE_RATE_LIMIT if "_live_" in api_key else TEST_RATE_LIMIT


def key_mode(api_key: str) -> Optional[str]:
    """``live`` or ``test`` from the key's prefix (secret ``sk_`` or restricted ``rk_``).

    Only the mode is kept from the key: the account fingerprint a pipeline stores must
    never hold the key or anything it could be recovered from.
    """
    for prefix in ("sk_", "rk_"):
        for mode in ("live", "test"):
            if api_key.startswith(f"{prefix}{mode}_"):
                return mode
    return None


def requests_per_second(api_key: str, rate_limit: Optional[float]) -> float:
    """The proactive limit: configured, Stripe's default for the key, or none for 0."""
    if rate_limit is None:
        return rate_limit_for_key(api_key)
    return float(rate_limit) if rate_limit > 0 else NO_RATE_LIMIT


def stripe_headers(stripe_version: str, stripe_account: Optional[str]) -> dict[str, str]:
    """Headers every Stripe request carries (no credentials: those go through auth)."""
    headers = {"Stripe-Version": stripe_version}
    if stripe_account:
        headers["Stripe-Account"] = stripe_account
    return headers


@dataclass
class StripeClient(ConnectorClient):
    """Lists Stripe objects through the kit's per-resource RESTClient.

    Attributes:
        base_url: API root without ``/v1``.
        session: Root resilient session (shared limiter, breaker, budget, stats).
        auth: How the secret key is sent (Bearer by default).
        stripe_version: Pinned ``Stripe-Version``.
        stripe_account: Optional connected account (``Stripe-Account``).
        mode: ``live`` or ``test`` from the key's prefix (see :func:`key_mode`).
    """

    spec: ClassVar[ConnectorSpec] = SPEC
    stripe_version: str = STRIPE_VERSION
    stripe_account: Optional[str] = None
    mode: Optional[str] = None

    def headers(self) -> Mapping[str, str]:
        """The pinned ``Stripe-Version`` and the connected account, if any."""
        return stripe_headers(self.stripe_version, self.stripe_account)

    def list_pages(
        self,
        path: str,
        *,
        label: str,
        params: Optional[Mapping[str, Any]] = None,
    ) -> Iterator[Page]:
        """Pages through a Stripe list endpoint, newest first, 100 objects a page.

        Args:
            path: List path such as ``/v1/customers``.
            label: Name the requests are counted under (the resource name).
            params: Filters (``created[gte]``, ``status``, ``type``...).

        Yields:
            Each page's ``data`` list.
        """
        query: dict[str, Any] = {"limit": PAGE_SIZE, **(params or {})}
        pages = self.paginate(path, label=label, params=query)
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except RequestsJSONDecodeError as exc:
                raise not_json_error(path, None) from exc
            logger.info(
                "stripe %s: page of %d object(s)", label, len(page), extra={"resource": label}
            )
            yield list(page)

    def fetch_page(self, path: str, *, label: str, params: Mapping[str, Any]) -> tuple[Page, bool]:
        """Fetches one list page; returns its objects and Stripe's ``has_more``."""
        response = self.get(path, label=label, params=params)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise not_json_error(path, response) from exc
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise FatalError(
                f"Stripe answered {path} without a list in 'data': not a Stripe list "
                "endpoint, or sources.stripe.base_url points at something else",
                response=response,
                request_id=response.headers.get("Request-Id"),
            )
        logger.info("stripe %s: page of %d object(s)", label, len(data), extra={"resource": label})
        return data, bool(body.get("has_more"))

    def retrieve(self, path: str, obj_id: str, *, label: str) -> Optional[dict[str, Any]]:
        """Retrieves one object: ``GET <path>/<id>`` (``/v1/customers/cus_123``).

        Stripe answers a deleted customer, product, coupon, plan, invoice or invoice item
        with the stub ``{"id", "object", "deleted": true}``, which is returned as is.

        Args:
            path: The resource's list path (``/v1/customers``).
            obj_id: The object's id.
            label: Name the request is counted under (the resource name).

        Returns:
            The object (or deleted stub); ``None`` when Stripe answers 404.

        Raises:
            SluiceError: Any other error answer (after the session's retries).
        """
        response = self.rest_client(label).get(f"{path}/{quote(obj_id, safe='')}")
        if response.status_code == 404:
            logger.warning(
                "stripe %s: %s answered 404 (no such object)",
                label,
                f"{path}/{obj_id}",
                extra={"resource": label},
            )
            return None
        raise_for_stripe(response)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise not_json_error(path, response) from exc
        if not isinstance(body, dict):
            raise FatalError(
                f"Stripe answered {path}/{obj_id} with something that is not an object: "
                "sources.stripe.base_url points at something else",
                response=response,
                request_id=response.headers.get("Request-Id"),
            )
        return body

    def list_sliced(
        self,
        path: str,
        *,
        label: str,
        params: Optional[Mapping[str, Any]] = None,
        gte: int,
        workers: int,
        time_field: str = "created",
        governor: Optional[StreamGovernor] = None,
    ) -> Iterator[Page]:
        """Lists objects created at or after ``gte`` with ``workers`` requests in flight.

        The creation-time range is cut into slices paged in parallel (see
        ``sources.kit.backfill``), so one large resource is not capped by latency.
        """
        query: dict[str, Any] = {"limit": PAGE_SIZE, **(params or {})}
        lister = TimeSlicedLister(
            lambda p: self.fetch_page(path, label=label, params=p),
            base_params=query,
            gte=gte,
            workers=workers,
            page_size=PAGE_SIZE,
            names=SliceParams(time_field=time_field),
            governor=governor,
        )
        yield from lister.pages()

    def check_credentials(self) -> None:
        """Makes one cheap authenticated request so a bad key fails before any work.

        Raises:
            AuthenticationError: The key was rejected.
            ConfigurationError: The base URL does not answer like Stripe.
        """
        client = self.rest_client("_credentials")
        response = client.get("/v1/customers", params={"limit": 1})
        if response.status_code in (401, 403):
            raise AuthenticationError(
                "Stripe rejected the API key "
                f"({response.status_code}): set a valid secret key in sources.stripe.api_key "
                "(or SOURCES__STRIPE__API_KEY)",
                response=response,
                request_id=response.headers.get("Request-Id"),
            )
        if response.status_code >= 400:
            raise error_from_response(response, self.session.redactor)
        if "json" not in response.headers.get("Content-Type", ""):
            raise ConfigurationError(
                f"{self.base_url} does not answer like the Stripe API: "
                "check sources.stripe.base_url",
                response=response,
            )

    def account_fingerprint(self) -> dict[str, Optional[str]]:
        """What identifies the account this client reads, without the key.

        ``GET /v1/account`` answers the Account object of the key's account (or of the
        ``Stripe-Account`` connected account); the official SDK calls it in
        ``Account.retrieve()`` without an id (``stripe/_account.py``). A restricted key
        without the permission (403) or a Stripe-compatible server without the endpoint
        (404) leaves ``account_id`` unknown rather than failing the run.

        Returns:
            ``base_url``, ``mode`` (``live``/``test``), ``stripe_account`` (the
            connected account header) and ``account_id`` (``acct_...`` or None).

        Raises:
            SluiceError: Any other error answer (after the kit's retries).
        """
        response = self.rest_client("_credentials").get("/v1/account")
        account_id: Optional[str] = None
        if response.status_code < 400:
            try:
                body: Any = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                body = None  # a compatible server answering something else: id unknown
            found = body.get("id") if isinstance(body, dict) else None
            account_id = found if isinstance(found, str) and found.startswith("acct_") else None
        elif response.status_code not in (403, 404):
            raise error_from_response(response, self.session.redactor)
        return {
            "base_url": self.base_url.rstrip("/"),
            "mode": self.mode,
            "stripe_account": self.stripe_account or None,
            "account_id": account_id,
        }


def make_auth(api_key: str) -> AuthBase:
    """Stripe accepts the secret key as a Bearer token."""
    return BearerAuth(api_key)


def make_client(**given: Any) -> StripeClient:
    """Builds a Stripe client on the shared resilience kit from ``sources.stripe.*``.

    Every argument resolves from dlt config, secrets or the environment
    (``SOURCES__STRIPE__API_KEY``, ``SOURCES__STRIPE__RATE_LIMIT``...) unless passed:
    ``api_key``, ``base_url``, ``stripe_account``, ``stripe_version`` (see
    :func:`client_from_config`) and the HTTP keys of
    :class:`~sources.kit.http_config.HttpConfiguration` (``rate_limit``: Stripe's limit
    for the key's mode by default, 0 for no proactive limit).

    Args:
        **given: Values passed in code; they win over configuration.

    Returns:
        A client whose session carries the shared limiter, breaker, budget and stats.

    Raises:
        ConfigurationError: The key, base URL or an HTTP setting is unusable.
    """
    http = resolve_connector_http(SPEC, given)
    return client_from_config(http=http, **given)


@with_config(sections=("sources", "stripe"))
def client_from_config(
    api_key: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    stripe_account: Optional[str] = None,
    stripe_version: str = STRIPE_VERSION,
    *,
    http: HttpConfiguration,
) -> StripeClient:
    """Builds the client from the connection settings and resolved HTTP settings.

    Args:
        api_key: Secret or restricted key (``sources.stripe.api_key``).
        base_url: API root; any Stripe-compatible server.
        stripe_account: Connected account to act on (``Stripe-Account`` header).
        stripe_version: Pinned API version (``Stripe-Version`` header).
        http: Timeouts, retries, breaker and rate limit (``sources.stripe.*``).

    Returns:
        The client.

    Raises:
        ConfigurationError: The key or base URL is unusable.
    """
    if not api_key or not api_key.strip():
        raise ConfigurationError(
            "Stripe API key is empty: set sources.stripe.api_key (or SOURCES__STRIPE__API_KEY)"
        )
    base_url = check_base_url(SPEC, base_url)
    global_redactor().add_secret(api_key)
    session = build_session(
        SPEC,
        base_url=base_url,
        settings=http.to_settings(should_retry_header=SHOULD_RETRY_HEADER),
        rate_limit=requests_per_second(api_key, http.rate_limit),
    )
    return StripeClient(
        base_url=base_url,
        session=session,
        auth=make_auth(api_key),
        stripe_version=stripe_version,
        stripe_account=stripe_account,
        mode=key_mode(api_key.strip()),
    )
