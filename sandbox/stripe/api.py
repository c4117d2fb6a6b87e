"""The Stripe API v1 request pipeline, independent of the HTTP server.

Order per request: injected faults (latency, drop, stall, error) -> authentication ->
rate limit -> idempotency -> routing to list / retrieve / create / update / delete.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from . import errors
from .account import ACCOUNT_PATH, account_object
from .auth import Authenticator
from .embedded import api_view
from .expand import expand, list_paths
from .faults import FaultInjector
from .forms import parse_form, parse_query
from .idempotency import IdempotencyCache, StoredResponse, fingerprint
from .ids import IdFactory
from .listing import Page, page_sublist, paginate, parse_list_query
from .params import (
    CREATE_PARAMS,
    UPDATE_PARAMS,
    check_metadata,
    coerce_create,
    coerce_update,
)
from .ratelimit import RateLimiter
from .resources import API_VERSION, BY_LIST_NAME, Resource
from .stats import SandboxStats
from .store import Store, encode
from .write_rules import WriteRules

logger = logging.getLogger(__name__)

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class ApiRequest:
    """An HTTP request as the API sees it.

    Attributes:
        method: Upper-case HTTP method.
        path: URL path without the query string.
        query: Raw query string.
        headers: Request headers with lower-case names.
        body: Raw body.
    """

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class ApiResponse:
    """What to send back; ``drop`` means reset the connection instead."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass(frozen=True)
class _Call:
    """One authenticated request being routed."""

    request: ApiRequest
    api_key: str
    request_id: str
    spec: Resource
    obj_id: str | None


def error_response(error: errors.StripeError) -> ApiResponse:
    """Return the response carrying ``error``."""
    return ApiResponse(error.status, encode(error.body()), dict(error.headers))


class StripeApi:
    """Answers ``/v1`` requests from a store, with auth, rate limits and faults."""

    def __init__(
        self,
        *,
        store: Store,
        authenticator: Authenticator,
        limiter: RateLimiter,
        limit_for: Callable[[str], int | None],
        injector: FaultInjector,
        stats: SandboxStats,
        request_ids: IdFactory,
        sleep: Sleep,
    ) -> None:
        """Wire the pipeline.

        Args:
            store: The objects served.
            authenticator: Checks API keys.
            limiter: Per-key token buckets.
            limit_for: Requests per second allowed for a key (``None``/``0``: unlimited).
            injector: Fault decisions.
            stats: Counters to update.
            request_ids: Source of ``req_`` ids.
            sleep: Waits for latency and stalls (interruptible by the server's shutdown).
        """
        self.store = store
        self._auth = authenticator
        self._limiter = limiter
        self._limit_for = limit_for
        self._injector = injector
        self._stats = stats
        self._request_ids = request_ids
        self._sleep = sleep
        self._idempotency = IdempotencyCache(store.now)
        self.write_rules = WriteRules()

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request (never raises for client errors)."""
        request_id = self._request_ids.short("req")
        self._stats.record_request(request.path)
        try:
            response = self._respond(request, request_id)
        except Exception:
            logger.exception("sandbox failed on %s %s", request.method, request.path)
            response = error_response(errors.api_error(500))
        if response.drop:
            self._stats.record_dropped()
            return response
        self._stats.record_status(response.status)
        response.headers["Request-Id"] = request_id
        response.headers["Stripe-Version"] = request.headers.get("stripe-version", API_VERSION)
        return response

    # --------------------------------------------------------------- pipeline

    def _respond(self, request: ApiRequest, request_id: str) -> ApiResponse:
        latency = self._injector.faults.latency_ms
        if latency:
            self._sleep(latency / 1000.0)
        decision = self._injector.decide()
        if decision.drop:
            return ApiResponse(drop=True)
        if decision.stall_seconds:
            self._stats.record_stalled()
            self._sleep(decision.stall_seconds)
        if decision.error is not None:
            self._stats.record_injected_error()
            return error_response(decision.error)
        try:
            api_key = self._auth.authenticate(
                request.headers.get("authorization"), self._injector.faults.expire_keys
            )
            if not self._limiter.allow(api_key, self._limit_for(api_key)):
                raise errors.rate_limited()
            return self._route(request, api_key, request_id)
        except errors.StripeError as error:
            return error_response(error)

    def _route(self, request: ApiRequest, api_key: str, request_id: str) -> ApiResponse:
        if request.method == "GET" and request.path.rstrip("/") == ACCOUNT_PATH:
            # The key's own account, or the connected one in Stripe-Account (see account.py).
            account = account_object(
                self.store.factory.account, request.headers.get("stripe-account")
            )
            return ApiResponse(body=encode(account))
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and parts[:1] == ["v1"]:
            sublist = self._sublist(parts, request.query)
            if sublist is not None:
                return sublist
        spec = BY_LIST_NAME.get(parts[1]) if len(parts) in (2, 3) and parts[0] == "v1" else None
        if spec is None:
            raise errors.unrecognized_url(request.method, request.path)
        obj_id = unquote(parts[2]) if len(parts) == 3 else None
        call = _Call(request, api_key, request_id, spec, obj_id)
        handler = self._handler_for(call)
        if handler is None:
            raise errors.unrecognized_url(request.method, request.path)
        if request.method == "POST" and "idempotency-key" in request.headers:
            response = self._idempotent(call, handler)
        else:
            response = handler(call)
        return self._lost_after_write(request, response)

    def _lost_after_write(self, request: ApiRequest, response: ApiResponse) -> ApiResponse:
        """The write applied (and its idempotent result saved), yet the client gets a
        5xx: a failure between Stripe and the client, after which "you can safely repeat
        the request without risk of ... performing the update twice" when it carried an
        idempotency key (https://docs.stripe.com/api/idempotent_requests)."""
        if request.method == "GET" or response.status >= 300:
            return response
        status = self._injector.take_after_write()
        if status is None:
            return response
        self._stats.record_injected_error()
        return error_response(errors.api_error(status))

    def _handler_for(self, call: _Call) -> Callable[[_Call], ApiResponse] | None:
        method, name, single = call.request.method, call.spec.name, call.obj_id is not None
        if method == "GET":
            return self._retrieve if single else self._list
        if method == "POST" and not single and name in CREATE_PARAMS:
            return self._create
        if method == "POST" and single and name in UPDATE_PARAMS:
            return self._update
        if method == "DELETE" and single and (call.spec.deletable or call.spec.cancels_on_delete):
            return self._delete
        return None

    def _idempotent(self, call: _Call, handler: Callable[[_Call], ApiResponse]) -> ApiResponse:
        request = call.request
        key = request.headers["idempotency-key"]
        request_print = fingerprint(request.method, request.path, request.body)
        stored = self._idempotency.begin(call.api_key, key, request_print)
        if stored is not None:
            headers = {"Idempotent-Replayed": "true", "Original-Request": stored.request_id}
            return ApiResponse(stored.status, stored.body, headers)
        try:
            response = handler(call)
        except BaseException:
            self._idempotency.finish(call.api_key, key, None)
            raise
        keep = response.status < 300
        saved = StoredResponse(response.status, response.body, call.request_id) if keep else None
        self._idempotency.finish(call.api_key, key, saved)
        return response

    # --------------------------------------------------------------- handlers

    def _list(self, call: _Call) -> ApiResponse:
        spec = call.spec
        query = parse_list_query(spec.list_name, parse_query(call.request.query))
        paths = list_paths(query.expand)
        entries = self.store.sorted_entries(spec.list_name)
        cursor_key: Callable[[str], tuple[int, str] | None] = functools.partial(
            self.store.cursor_key, spec.list_name
        )
        if spec.name == "event" and self._injector.faults.reverse_same_second_events:
            entries, cursor_key = self.store.same_second_reversed(spec.list_name)
        page = paginate(
            entries,
            query,
            cursor_key,
            object_name=spec.name,
            since=self.store.visible_since(spec.list_name),
        )
        return ApiResponse(body=self._list_body(spec, page, paths))

    def _list_body(self, spec: Resource, page: Page, paths: list[str]) -> bytes:
        records = []
        for entry in page.entries:
            if self._injector.corrupt_index():
                self._stats.record_malformed(entry.key[1])
                records.append(encode(self._injector.malformed(entry.obj, spec.time_field)))
            elif paths:
                records.append(encode(api_view(expand(entry.obj, paths, self._fetch))))
            else:
                records.append(entry.json())
        has_more = b"true" if page.has_more else b"false"
        return b"".join(
            (
                b'{"object":"list","data":[',
                b",".join(records),
                b'],"has_more":',
                has_more,
                b',"url":"/v1/',
                spec.list_name.encode(),
                b'"}',
            )
        )

    def _sublist(self, parts: list[str], query: str) -> ApiResponse | None:
        """``GET /v1/invoices/<id>/lines`` and ``GET /v1/subscription_items``: a parent's
        whole sub-list, paged (see ``sublists.py``); ``None`` for any other path."""
        params = parse_query(query)
        if len(parts) == 4 and parts[1] == "invoices" and parts[3] == "lines":
            invoice_id = unquote(parts[2])
            parent = self._visible("invoice", invoice_id)
            url = f"/v1/invoices/{invoice_id}/lines"
            page = page_sublist(parent["lines"]["data"], params, url, "line_item")
        elif len(parts) == 2 and parts[1] == "subscription_items":
            if "subscription" not in params:
                raise errors.missing_parameter("subscription")
            subscription_id = str(params["subscription"])
            parent = self._visible("subscription", subscription_id, param="subscription")
            # Stripe echoes the bare list path, not the query (stripe-python's ListObject).
            page = page_sublist(
                parent["items"]["data"],
                params,
                "/v1/subscription_items",
                "subscription_item",
                accepted=frozenset({"subscription"}),
            )
        else:
            return None
        body = {
            "object": "list",
            "data": page.entries,
            "has_more": page.has_more,
            "url": page.url,
        }
        return ApiResponse(body=encode(body))

    def _visible(self, type_name: str, obj_id: str, param: str | None = None) -> dict[str, Any]:
        """The stored object; 404 for the URL's id, 400 for a referenced one (``param``)."""
        entry = self.store.entry(type_name, obj_id)
        if entry is None:
            if param is None:
                raise errors.resource_missing(type_name, obj_id)
            raise errors.resource_missing(type_name, obj_id, param=param, status=400)
        return entry.obj

    def _retrieve(self, call: _Call) -> ApiResponse:
        spec, obj_id = call.spec, str(call.obj_id)
        params = parse_query(call.request.query)
        for name in params:
            if name != "expand":
                raise errors.unknown_parameter(name)
        entry = self.store.entry(spec.name, obj_id)
        since = self.store.visible_since(spec.list_name)
        if entry is None or (since is not None and entry.key[0] < since):
            stub = self.store.deleted_stub(spec.name, obj_id) if spec.deleted_stub_on_get else None
            if stub is None:
                raise errors.resource_missing(spec.name, obj_id)
            return ApiResponse(body=encode(stub))
        paths = params.get("expand")
        if not paths:
            return ApiResponse(body=entry.json())
        paths = paths if isinstance(paths, list) else [paths]
        return ApiResponse(body=encode(api_view(expand(entry.obj, paths, self._fetch))))

    def _create(self, call: _Call) -> ApiResponse:
        fields = coerce_create(call.spec.name, self._form(call))
        created = self.store.create(call.spec.name, request=self._event_request(call), **fields)
        return ApiResponse(body=encode(api_view(created)))

    def _update(self, call: _Call) -> ApiResponse:
        fields = coerce_update(call.spec.name, self._form(call))
        if isinstance(fields.get("metadata"), dict):
            self._check_total_metadata(call, fields["metadata"])
        self.write_rules.check(call.spec.name, str(call.obj_id), fields)
        updated = self.store.update(
            call.spec.name, str(call.obj_id), request=self._event_request(call), **fields
        )
        return ApiResponse(body=encode(api_view(updated)))

    def _delete(self, call: _Call) -> ApiResponse:
        result = self.store.delete(
            call.spec.name, str(call.obj_id), request=self._event_request(call)
        )
        return ApiResponse(body=encode(api_view(result)))

    # ---------------------------------------------------------------- helpers

    def _check_total_metadata(self, call: _Call, changes: Mapping[str, str]) -> None:
        """The 50-key limit counts the object's keys after the update ("You can add 50
        total key-value pairs", https://docs.stripe.com/metadata); "" unsets a key."""
        current = self._fetch(call.spec.name, str(call.obj_id)) or {}
        merged = dict(current.get("metadata") or {})
        for key, value in changes.items():
            if value in ("", None):
                merged.pop(key, None)
            else:
                merged[key] = value
        check_metadata("metadata", merged)

    def _form(self, call: _Call) -> dict[str, Any]:
        form = parse_form(call.request.body)
        form.pop("expand", None)
        return form

    def _event_request(self, call: _Call) -> dict[str, Any]:
        return {
            "id": call.request_id,
            "idempotency_key": call.request.headers.get("idempotency-key"),
        }

    def _fetch(self, type_name: str, obj_id: str) -> Mapping[str, Any] | None:
        entry = self.store.entry(type_name, obj_id)
        if entry is not None:
            return entry.obj
        return self.store.deleted_stub(type_name, obj_id)
