"""List endpoints: parameter validation, filters, ordering and cursor pagination.

Entries are kept sorted ascending by ``(created, id)``; a page walks them from the newest end,
so lists come newest first with ties broken by id descending, as Stripe's do.
"""

from __future__ import annotations

import bisect
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import errors
from .store import Entry

Predicate = Callable[[Mapping[str, Any]], bool]
_FilterFactory = Callable[[str, Any], Predicate]

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_EVENT_TYPES = 20
_RANGE_OPERATORS = ("gt", "gte", "lt", "lte")
_PAGE_PARAMS = frozenset({"limit", "starting_after", "ending_before", "expand"})
_COMMON_PARAMS = _PAGE_PARAMS | {"created"}
_LAST_ID = "\U0010ffff"
_entry_key = operator.attrgetter("key")

SUBSCRIPTION_STATUSES = frozenset(
    {
        "active",
        "all",
        "canceled",
        "ended",
        "incomplete",
        "incomplete_expired",
        "past_due",
        "paused",
        "trialing",
        "unpaid",
    }
)
INVOICE_STATUSES = frozenset({"draft", "open", "paid", "uncollectible", "void"})


@dataclass(frozen=True)
class ListQuery:
    """A validated list request."""

    limit: int = DEFAULT_LIMIT
    starting_after: str | None = None
    ending_before: str | None = None
    created_min: int | None = None
    created_max: int | None = None
    predicates: tuple[Predicate, ...] = ()
    expand: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page:
    """One page of a list, newest first."""

    entries: list[Entry]
    has_more: bool


# ----------------------------------------------------------------- filters


def _equals(field: str) -> _FilterFactory:
    def factory(param: str, value: Any) -> Predicate:
        wanted = _scalar(param, value)
        return lambda obj: obj.get(field) == wanted

    return factory


def _boolean(field: str) -> _FilterFactory:
    def factory(param: str, value: Any) -> Predicate:
        wanted = _bool_value(param, value)
        return lambda obj: obj.get(field) is wanted

    return factory


def _one_of(field: str, allowed: frozenset[str]) -> _FilterFactory:
    def factory(param: str, value: Any) -> Predicate:
        wanted = _scalar(param, value)
        if wanted not in allowed:
            raise errors.invalid_value(
                param, f"Invalid {param}: must be one of {', '.join(sorted(allowed))}"
            )
        return lambda obj: obj.get(field) == wanted

    return factory


def _any_of(field: str) -> _FilterFactory:
    def factory(param: str, value: Any) -> Predicate:
        values = value if isinstance(value, list) else [value]
        wanted = {_scalar(f"{param}[{i}]", item) for i, item in enumerate(values)}
        return lambda obj: obj.get(field) in wanted

    return factory


def _subscription_status(param: str, value: Any) -> Predicate:
    wanted = _scalar(param, value)
    if wanted not in SUBSCRIPTION_STATUSES:
        allowed = ", ".join(sorted(SUBSCRIPTION_STATUSES))
        raise errors.invalid_value(param, f"Invalid status: must be one of {allowed}")
    if wanted == "all":
        return lambda obj: True
    if wanted == "ended":
        return lambda obj: obj.get("status") in ("canceled", "incomplete_expired")
    return lambda obj: obj.get("status") == wanted


def _subscription_price(param: str, value: Any) -> Predicate:
    wanted = _scalar(param, value)
    return lambda obj: any(item["price"]["id"] == wanted for item in obj["items"]["data"])


def _pending(param: str, value: Any) -> Predicate:
    wanted = _bool_value(param, value)
    return lambda obj: (obj.get("invoice") is None) is wanted


def _event_type(param: str, value: Any) -> Predicate:
    pattern = _wildcard(_scalar(param, value))
    return lambda obj: pattern.fullmatch(obj["type"]) is not None


def _event_types(param: str, value: Any) -> Predicate:
    names = value if isinstance(value, list) else [value]
    if len(names) > MAX_EVENT_TYPES:
        raise errors.invalid_value(
            param, f"You may pass at most {MAX_EVENT_TYPES} values for {param}."
        )
    patterns = [_wildcard(_scalar(f"{param}[{i}]", name)) for i, name in enumerate(names)]
    return lambda obj: any(p.fullmatch(obj["type"]) is not None for p in patterns)


def _wildcard(text: str) -> re.Pattern[str]:
    """Compile an event type with ``*`` wildcards (``customer.*``, ``*.deleted``)."""
    return re.compile(".*".join(re.escape(part) for part in text.split("*")))


_FILTERS: dict[str, dict[str, _FilterFactory]] = {
    "customers": {"email": _equals("email"), "test_clock": _equals("test_clock")},
    "products": {"active": _boolean("active"), "shippable": _boolean("shippable")},
    "prices": {
        "active": _boolean("active"),
        "currency": _equals("currency"),
        "lookup_keys": _any_of("lookup_key"),
        "product": _equals("product"),
        "type": _one_of("type", frozenset({"one_time", "recurring"})),
    },
    "coupons": {},
    "plans": {"active": _boolean("active"), "product": _equals("product")},
    "charges": {
        "customer": _equals("customer"),
        "payment_intent": _equals("payment_intent"),
        "transfer_group": _equals("transfer_group"),
    },
    "refunds": {"charge": _equals("charge"), "payment_intent": _equals("payment_intent")},
    "disputes": {"charge": _equals("charge"), "payment_intent": _equals("payment_intent")},
    "payment_intents": {"customer": _equals("customer")},
    "setup_intents": {
        "customer": _equals("customer"),
        "payment_method": _equals("payment_method"),
    },
    "invoices": {
        "collection_method": _equals("collection_method"),
        "customer": _equals("customer"),
        "status": _one_of("status", INVOICE_STATUSES),
        "subscription": _equals("subscription"),
    },
    "invoiceitems": {
        "customer": _equals("customer"),
        "invoice": _equals("invoice"),
        "pending": _pending,
    },
    "subscriptions": {
        "collection_method": _equals("collection_method"),
        "customer": _equals("customer"),
        "price": _subscription_price,
        "status": _subscription_status,
    },
    "balance_transactions": {
        "currency": _equals("currency"),
        "source": _equals("source"),
        "type": _equals("type"),
    },
    "payouts": {"destination": _equals("destination"), "status": _equals("status")},
    "transfers": {
        "destination": _equals("destination"),
        "transfer_group": _equals("transfer_group"),
    },
    "events": {"type": _event_type, "types": _event_types},
}


def _hides_canceled(obj: Mapping[str, Any]) -> bool:
    return obj.get("status") not in ("canceled", "incomplete_expired")


# ---------------------------------------------------------- parameter parsing


def _scalar(param: str, value: Any) -> str:
    if not isinstance(value, str):
        raise errors.invalid_value(param, f"Invalid {param}: must be a string")
    return value


def _bool_value(param: str, value: Any) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise errors.invalid_value(param, f"Invalid boolean: {value}")


def _integer(param: str, value: Any) -> int:
    try:
        return int(_scalar(param, value))
    except ValueError:
        raise errors.invalid_value(param, f"Invalid integer: {value}") from None


def _limit(params: Mapping[str, Any]) -> int:
    if "limit" not in params:
        return DEFAULT_LIMIT
    limit = _integer("limit", params["limit"])
    if limit < 1:
        raise errors.invalid_value("limit", "This value must be greater than or equal to 1.")
    if limit > MAX_LIMIT:
        raise errors.invalid_value(
            "limit", f"This value must be less than or equal to {MAX_LIMIT}."
        )
    return limit


def _created_bounds(value: Any) -> tuple[int | None, int | None]:
    if not isinstance(value, Mapping):
        exact = _integer("created", value)
        return exact, exact
    low: int | None = None
    high: int | None = None
    for operator_name, raw in value.items():
        if operator_name not in _RANGE_OPERATORS:
            raise errors.unknown_parameter(f"created[{operator_name}]")
        bound = _integer(f"created[{operator_name}]", raw)
        if operator_name in ("gt", "gte"):
            bound += operator_name == "gt"
            low = bound if low is None else max(low, bound)
        else:
            bound -= operator_name == "lt"
            high = bound if high is None else min(high, bound)
    return low, high


def _expand(value: Any) -> tuple[str, ...]:
    paths = value if isinstance(value, list) else [value]
    return tuple(_scalar("expand", path) for path in paths)


def _cursor(params: Mapping[str, Any], name: str) -> str | None:
    if name not in params:
        return None
    return _scalar(name, params[name]) or None


def _cursors(params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    starting_after = _cursor(params, "starting_after")
    ending_before = _cursor(params, "ending_before")
    if starting_after and ending_before:
        raise errors.invalid_request(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    return starting_after, ending_before


def parse_list_query(list_name: str, params: Mapping[str, Any]) -> ListQuery:
    """Validate the query of ``GET /v1/<list_name>``.

    Args:
        list_name: The list (``customers``).
        params: Nested query parameters (see ``forms.parse_pairs``).

    Raises:
        StripeError: 400 for an unknown parameter or an invalid value.
    """
    filters = _FILTERS[list_name]
    for name in params:
        if name not in _COMMON_PARAMS and name not in filters:
            raise errors.unknown_parameter(name)
    if list_name == "events" and "type" in params and "types" in params:
        raise errors.invalid_request(
            "You may only specify one of these parameters: type, types.", param="types"
        )
    starting_after, ending_before = _cursors(params)
    low, high = _created_bounds(params["created"]) if "created" in params else (None, None)
    predicates = [filters[name](name, value) for name, value in params.items() if name in filters]
    if list_name == "subscriptions" and "status" not in params:
        predicates.append(_hides_canceled)
    return ListQuery(
        limit=_limit(params),
        starting_after=starting_after,
        ending_before=ending_before,
        created_min=low,
        created_max=high,
        predicates=tuple(predicates),
        expand=_expand(params["expand"]) if "expand" in params else (),
    )


def parse_page_query(
    params: Mapping[str, Any], accepted: frozenset[str] = frozenset()
) -> ListQuery:
    """Validate the paging parameters of a list without filters (a parent's sub-list).

    Args:
        params: Nested query parameters.
        accepted: Further parameter names the endpoint takes (``subscription``).

    Raises:
        StripeError: 400 for an unknown parameter or an invalid value.
    """
    for name in params:
        if name not in _PAGE_PARAMS and name not in accepted:
            raise errors.unknown_parameter(name)
    starting_after, ending_before = _cursors(params)
    return ListQuery(
        limit=_limit(params),
        starting_after=starting_after,
        ending_before=ending_before,
        expand=_expand(params["expand"]) if "expand" in params else (),
    )


# ----------------------------------------------------------------- paging


def _matches(entry: Entry, predicates: Sequence[Predicate]) -> bool:
    obj = entry.obj  # decoded once for entries held only as JSON
    return all(predicate(obj) for predicate in predicates)


def _window(entries: Sequence[Entry], query: ListQuery, since: int | None) -> tuple[int, int]:
    """Return the ascending index range ``[low, high)`` allowed by the created bounds."""
    low_time = query.created_min
    if since is not None:
        low_time = since if low_time is None else max(low_time, since)
    low = 0 if low_time is None else bisect.bisect_left(entries, (low_time, ""), key=_entry_key)
    high = len(entries)
    if query.created_max is not None:
        high = bisect.bisect_right(entries, (query.created_max, _LAST_ID), key=_entry_key)
    return low, max(low, high)


def _walk(entries: Sequence[Entry], indexes: range, query: ListQuery) -> tuple[list[Entry], bool]:
    if not query.predicates:  # no filter: the page is the first ``limit`` indexes
        return [entries[index] for index in indexes[: query.limit]], len(indexes) > query.limit
    found: list[Entry] = []
    for index in indexes:
        entry = entries[index]
        if _matches(entry, query.predicates):
            if len(found) == query.limit:
                return found, True
            found.append(entry)
    return found, False


def paginate(
    entries: Sequence[Entry],
    query: ListQuery,
    cursor_key: Callable[[str], tuple[int, str] | None],
    *,
    object_name: str = "object",
    since: int | None = None,
) -> Page:
    """Return the page ``query`` asks for.

    Args:
        entries: All listed entries, ascending by ``(created, id)``.
        query: The validated request.
        cursor_key: Sort key of a cursor id, ``None`` if unknown.
        object_name: The listed object's name, for error messages.
        since: Oldest ``created`` that may be listed (the events window).

    Raises:
        StripeError: 400 ``resource_missing`` for an unknown cursor id.
    """
    low, high = _window(entries, query, since)
    if query.ending_before:
        key = _resolve_cursor(cursor_key, query.ending_before, "ending_before", object_name)
        low = max(low, bisect.bisect_right(entries, key, lo=low, hi=high, key=_entry_key))
        found, has_more = _walk(entries, range(low, high), query)
        return Page(found[::-1], has_more)
    if query.starting_after:
        key = _resolve_cursor(cursor_key, query.starting_after, "starting_after", object_name)
        high = min(high, bisect.bisect_left(entries, key, lo=low, hi=high, key=_entry_key))
    found, has_more = _walk(entries, range(high - 1, low - 1, -1), query)
    return Page(found, has_more)


def _resolve_cursor(
    cursor_key: Callable[[str], tuple[int, str] | None],
    obj_id: str,
    param: str,
    object_name: str,
) -> tuple[int, str]:
    key = cursor_key(obj_id)
    if key is None:
        raise errors.resource_missing(object_name, obj_id, param=param, status=400)
    return key


# ------------------------------------------------------------- sub-lists


@dataclass(frozen=True)
class SublistPage:
    """One page of a parent's sub-list."""

    entries: list[Mapping[str, Any]]
    has_more: bool
    url: str


def page_sublist(
    entries: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    url: str,
    object_name: str,
    accepted: frozenset[str] = frozenset(),
) -> SublistPage:
    """The page of ``entries`` (in the parent's order) that the list parameters ask for.

    Args:
        entries: The whole sub-list, as the parent holds it.
        params: Parsed query parameters (``limit``, ``starting_after``, ``ending_before``).
        url: The list's own path, echoed as ``url``.
        object_name: The listed object's name, for error messages.
        accepted: Further parameters the endpoint takes (``subscription``).

    Raises:
        StripeError: 400 for a bad parameter or an unknown cursor id.
    """
    query = parse_page_query(params, accepted)
    ids = [str(entry.get("id")) for entry in entries]
    low, high = 0, len(entries)
    if query.starting_after:
        low = _position(ids, query.starting_after, "starting_after", object_name) + 1
        page = list(entries[low : low + query.limit])
        return SublistPage(page, low + query.limit < high, url)
    if query.ending_before:
        high = _position(ids, query.ending_before, "ending_before", object_name)
        start = max(0, high - query.limit)
        return SublistPage(list(entries[start:high]), start > 0, url)
    return SublistPage(list(entries[: query.limit]), query.limit < high, url)


def _position(ids: list[str], obj_id: str, param: str, object_name: str) -> int:
    try:
        return ids.index(obj_id)
    except ValueError:
        raise errors.resource_missing(object_name, obj_id, param=param, status=400) from None
