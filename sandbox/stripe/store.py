"""Thread-safe in-memory store of Stripe objects and the events their changes emit.

Stored dicts are never mutated in place: an update builds a new dict (sharing unchanged
branches) and swaps it in, so event snapshots and lists handed to readers stay valid without
locking or deep copies. Per-type lists are kept sorted ascending by ``(created, id)`` and are
replaced, never modified, on writes (copy-on-write), so readers take them without a lock.
"""

from __future__ import annotations

import bisect
import copy
import json
import operator
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

import orjson

from . import errors
from .clock import Clock
from .embedded import api_view
from .factory import Factory, accepted_fields
from .resources import (
    EVENTS_WINDOW_SECONDS,
    OBJECT_TYPES,
    RESOURCES,
    Resource,
    resource,
)
from .templates import template

_ENDED_SUBSCRIPTION_STATUSES = frozenset({"canceled", "incomplete_expired"})
_CHARGE_CREATION_EVENTS = {"succeeded": "succeeded", "failed": "failed", "pending": "pending"}


class Entry:
    """One stored object with its sort key and its JSON encoding, computed once.

    Entries made by ``encoded`` (bulk objects, see ``bulk.py``) hold only the encoding:
    ``obj`` decodes a fresh copy on each access and nothing is cached, so listing them
    never builds dicts.
    """

    __slots__ = ("_json", "_obj", "key")

    def __init__(self, obj: dict[str, Any], time_field: str = "created") -> None:
        """Wrap ``obj`` (which must not be mutated afterwards)."""
        self._obj: dict[str, Any] | None = obj
        self.key: tuple[int, str] = (int(obj[time_field]), str(obj["id"]))
        self._json: bytes | None = None

    @classmethod
    def encoded(cls, key: tuple[int, str], data: bytes) -> Entry:
        """Return an entry held only as its JSON encoding (decoded on access).

        Args:
            key: ``(created, id)`` of the encoded object.
            data: The object as compact UTF-8 JSON (see ``encode``).
        """
        entry = cls.__new__(cls)
        entry._obj = None
        entry.key = key
        entry._json = data
        return entry

    @property
    def obj(self) -> dict[str, Any]:
        """The object; for an entry held only as JSON, a freshly decoded copy."""
        if self._obj is not None:
            return self._obj
        return decode(self.json())

    def snapshot(self) -> dict[str, Any]:
        """Return a deep copy of the object that callers may mutate."""
        if self._obj is None:
            return self.obj
        return copy.deepcopy(self._obj)

    def rekeyed(self, key: tuple[int, str]) -> Entry:
        """Return an entry for the same object (and encoding) under another sort key."""
        entry = Entry.__new__(Entry)
        entry._obj = self._obj
        entry._json = self._json
        entry.key = key
        return entry

    def json(self) -> bytes:
        """Return the object encoded as compact UTF-8 JSON, as the API shows it (embedded
        sub-lists truncated, see ``sublists.py``)."""
        if self._json is None:
            self._json = encode(api_view(self.obj))
        return self._json


def encode(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON.

    orjson writes the same bytes as ``json.dumps(value, separators=(",", ":"),
    ensure_ascii=False)`` several times faster; values it refuses (non-string keys, integers
    beyond 64 bits, ``Decimal``...) fall back to the standard library.

    orjson's result sits in an over-allocated buffer that was shrunk in place, which leaves
    an unusable hole behind every long-lived result (8 KB for a 0.8 KB customer); an exact
    copy lets the buffer be reused, so stored encodings cost their size.
    """
    try:
        return memoryview(orjson.dumps(value)).tobytes()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(data: bytes) -> dict[str, Any]:
    """Decode a JSON object encoded by ``encode``."""
    decoded: dict[str, Any] = orjson.loads(data)
    return decoded


_entry_key = operator.attrgetter("key")


@dataclass(frozen=True)
class Op:
    """One step of a seeded account history, applied in time order by ``Store.load``.

    Attributes:
        at: Unix seconds the step happens at (its event's ``created``).
        action: ``create`` (``fields`` is the whole object), ``update`` (``fields`` are the
            changes) or ``delete``.
        type_name: Object type.
        obj_id: The object's id.
        fields: See ``action``.
        event_type: Event type to emit instead of the default one.
        via_api: Whether the event carries a request id (an API call) or not (Stripe's own
            automation, e.g. ``invoice.finalized``).
    """

    at: int
    action: Literal["create", "update", "delete"]
    type_name: str
    obj_id: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    event_type: str | None = None
    via_api: bool = True


class Store:
    """Objects of the 16 types, their deletions and their events."""

    def __init__(self, factory: Factory, clock: Clock) -> None:
        """Create an empty store.

        Args:
            factory: Builds objects created through ``create``.
            clock: Current unix time, for the time of changes and the events window.
        """
        self.factory = factory
        self._clock = clock
        self._lock = threading.RLock()
        self._objects: dict[str, dict[str, Entry]] = {name: {} for name in OBJECT_TYPES}
        self._deleted: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECT_TYPES}
        self._events: dict[str, Entry] = {}
        self._sorted: dict[str, list[Entry]] = {spec.list_name: [] for spec in RESOURCES.values()}
        self._reversed: dict[str, tuple[list[Entry], list[Entry], dict[str, tuple[int, str]]]] = {}

    # ------------------------------------------------------------------ public

    def now(self) -> int:
        """Return the current time as whole unix seconds."""
        return int(self._clock())

    def create(
        self,
        type_name: str,
        /,
        *,
        at: int | None = None,
        event_type: str | None = None,
        request: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create an object and emit its creation event (``customer.created``, ``charge.failed``).

        Args:
            type_name: Object type (``customer``) or list name (``customers``).
            at: Creation time; now by default.
            event_type: Event type to emit instead of the default.
            request: The event's ``request`` (``{"id", "idempotency_key"}``); made up if absent.
            **fields: Field values; request-style values are accepted where Stripe takes them
                (subscription ``items=[{"price": id, "quantity": 2}]``, invoice item ``price``).

        Returns:
            A copy of the created object.

        Raises:
            StripeError: For an unknown field or a reference to a missing object.
        """
        spec = self._writable_spec(type_name)
        self._check_fields(spec, fields)
        fields = copy.deepcopy(fields)
        with self._lock:
            created = self.now() if at is None else int(at)
            obj = self.factory.new(spec.name, fields, created=created, lookup=self._lookup)
            if obj["id"] in self._objects[spec.name]:
                raise errors.invalid_request(
                    f"{spec.name.capitalize()} already exists.", param="id"
                )
            self._insert(spec, obj, created, event_type, self._request(request), bulk=False)
            return copy.deepcopy(obj)

    def update(
        self,
        type_name: str,
        obj_id: str,
        /,
        *,
        at: int | None = None,
        event_type: str | None = None,
        request: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Change fields of an object and emit ``<type>.updated`` with ``previous_attributes``.

        Nested hashes are merged; ``metadata`` keys set to ``None`` or ``""`` are removed. No
        event is emitted when nothing changes.

        Args:
            type_name: Object type or list name.
            obj_id: The object's id.
            at: Time of the change; now by default.
            event_type: Event type to emit instead of ``<type>.updated``
                (e.g. ``invoice.paid``, ``charge.refunded``).
            request: The event's ``request``; made up if absent.
            **fields: The changes.

        Returns:
            A copy of the updated object.

        Raises:
            StripeError: 404 for an unknown or deleted object, 400 for an unknown field.
        """
        spec = self._writable_spec(type_name)
        self._check_fields(spec, fields)
        for name in ("id", "object", spec.time_field):
            if name in fields:
                raise errors.invalid_request(f"{name} cannot be updated.", param=name)
        fields = copy.deepcopy(fields)
        with self._lock:
            current = self._current(spec, obj_id)
            changes = self.factory.prepare(spec.name, current.obj, fields, self._lookup)
            when = self.now() if at is None else int(at)
            obj = self._replace(spec, obj_id, changes, when, event_type, self._request(request))
            return copy.deepcopy(obj)

    def delete(
        self,
        type_name: str,
        obj_id: str,
        /,
        *,
        at: int | None = None,
        request: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Delete an object (or cancel a subscription) and emit ``<type>.deleted``.

        Deleted objects vanish from lists; the event's ``data.object`` is their last state,
        without a ``deleted`` field (as Stripe sends it); ``GET`` answers the deleted stub.
        Deleting a customer cancels its subscriptions first (``customer.subscription.deleted``
        carries the canceled subscription, which stays listed). Only draft invoices can be
        deleted.

        Returns:
            What Stripe answers: ``{"deleted": true, "id": ..., "object": ...}``, or the
            canceled subscription.

        Raises:
            StripeError: 404 for an unknown object; 400 if the type cannot be deleted.
        """
        spec = self._writable_spec(type_name)
        with self._lock:
            when = self.now() if at is None else int(at)
            result = self._remove(spec, obj_id, when, self._request(request), bulk=False)
            return copy.deepcopy(result)

    def get(self, type_name: str, obj_id: str) -> dict[str, Any] | None:
        """Return a copy of an object, deleted ones included (with ``"deleted": true``).

        Events are found by id whatever their age. ``None`` when the id is unknown.
        """
        spec = self._spec(type_name)
        if spec.name == "event":
            event = self._events.get(obj_id)
            return None if event is None else event.snapshot()
        entry = self._objects[spec.name].get(obj_id)
        if entry is not None:
            return entry.snapshot()
        deleted = self._deleted[spec.name].get(obj_id)
        return None if deleted is None else copy.deepcopy(deleted)

    def listable(self, list_name: str) -> list[dict[str, Any]]:
        """Return copies of everything ``GET /v1/<list_name>`` lists over all its pages.

        Newest first; subscriptions include canceled ones (as with ``status=all``); events only
        from the last 30 days.
        """
        since = self.visible_since(list_name)
        entries = self.sorted_entries(list_name)
        return [
            entry.snapshot()
            for entry in reversed(entries)
            if since is None or entry.key[0] >= since
        ]

    # ------------------------------------------------------- read side for HTTP

    def sorted_entries(self, list_name: str) -> list[Entry]:
        """Return the listed entries of ``list_name`` sorted ascending by ``(created, id)``.

        The returned list is a snapshot: never modify it.
        """
        return self._sorted[self._spec(list_name).list_name]

    def entry(self, type_name: str, obj_id: str) -> Entry | None:
        """Return the entry of a live object or event (any age), or ``None``."""
        spec = self._spec(type_name)
        if spec.name == "event":
            return self._events.get(obj_id)
        return self._objects[spec.name].get(obj_id)

    def deleted_stub(self, type_name: str, obj_id: str) -> dict[str, Any] | None:
        """Return ``{"deleted": true, "id", "object"}`` for a deleted object, else ``None``."""
        spec = self._spec(type_name)
        if spec.name == "event" or obj_id not in self._deleted[spec.name]:
            return None
        return _deleted_stub(spec, obj_id)

    def same_second_reversed(
        self, list_name: str
    ) -> tuple[list[Entry], Callable[[str], tuple[int, str] | None]]:
        """Return ``list_name``'s entries with the order within each second reversed.

        Stripe lists newest first, but the order of objects that share one ``created``
        second is not a documented contract (../shared/stripe/README.md: an invoice's
        ``invoice.created``, ``invoice.finalized`` and ``invoice.paid`` often share one).
        This ordering lets a client be tested against the other order: within a second
        the oldest comes first. Returns the entries (ascending by their new key, as
        ``paginate`` wants them) and the cursor key function matching them.
        """
        spec = self._spec(list_name)
        current = self._sorted[spec.list_name]
        cached = self._reversed.get(spec.list_name)
        if cached is None or cached[0] is not current:
            reordered: list[Entry] = []
            keys: dict[str, tuple[int, str]] = {}
            start = 0
            while start < len(current):
                second = current[start].key[0]
                end = start
                while end < len(current) and current[end].key[0] == second:
                    end += 1
                # Rank 0 for the greatest id: walking newest first then yields the
                # smallest (first generated) id of the second first.
                for rank, entry in enumerate(reversed(current[start:end])):
                    moved = entry.rekeyed((second, f"{rank:09d}"))
                    reordered.append(moved)
                    keys[entry.key[1]] = moved.key
                start = end
            cached = (current, reordered, keys)
            self._reversed[spec.list_name] = cached
        _, entries, keys = cached

        def cursor_key(obj_id: str) -> tuple[int, str] | None:
            return keys.get(obj_id)

        return entries, cursor_key

    def cursor_key(self, list_name: str, obj_id: str) -> tuple[int, str] | None:
        """Return the sort key of ``obj_id`` for pagination (deleted objects included)."""
        spec = self._spec(list_name)
        found = self.entry(spec.name, obj_id)
        if found is not None:
            return found.key
        deleted = None if spec.name == "event" else self._deleted[spec.name].get(obj_id)
        return None if deleted is None else (int(deleted[spec.time_field]), obj_id)

    def visible_since(self, list_name: str) -> int | None:
        """Return the oldest ``created`` listed for ``list_name`` (events only), else ``None``."""
        if self._spec(list_name).name != "event":
            return None
        return self.now() - EVENTS_WINDOW_SECONDS

    # ------------------------------------------------------------- bulk load

    def load(self, ops: Iterable[Op]) -> None:
        """Apply a history in time order (stable for equal times), then index it once.

        Args:
            ops: Steps of the history; ``create`` steps carry the whole object.
        """
        with self._lock:
            for op in sorted(ops, key=operator.attrgetter("at")):
                self._apply(op)
            self._reindex()

    def _apply(self, op: Op) -> None:
        spec = self._spec(op.type_name)
        request = self._request(None) if op.via_api else {"id": None, "idempotency_key": None}
        if op.action == "create":
            self._insert(spec, dict(op.fields), op.at, op.event_type, request, bulk=True)
        elif op.action == "update":
            self._replace(spec, op.obj_id, op.fields, op.at, op.event_type, request, bulk=True)
        else:
            self._remove(spec, op.obj_id, op.at, request, bulk=True)

    def add_historical(self, type_name: str, entries: Iterable[Entry]) -> int:
        """Add objects that existed before the sandbox started, without emitting events.

        Meant for ``Entry.encoded`` entries (see ``bulk.py``); later updates and deletions
        of these objects go through the usual paths and emit events.

        Args:
            type_name: Object type or list name.
            entries: The objects to add, with ids not in the store yet.

        Returns:
            How many entries were added.

        Raises:
            ValueError: If an id is already taken (live or deleted).
        """
        spec = self._writable_spec(type_name)
        with self._lock:
            objects, deleted = self._objects[spec.name], self._deleted[spec.name]
            added = 0
            for entry in entries:
                obj_id = entry.key[1]
                if obj_id in objects or obj_id in deleted:
                    raise ValueError(f"{spec.name} {obj_id} already exists")
                objects[obj_id] = entry
                added += 1
            self._sorted[spec.list_name] = sorted(objects.values(), key=_entry_key)
            return added

    def _reindex(self) -> None:
        for name in OBJECT_TYPES:
            spec = RESOURCES[name]
            self._sorted[spec.list_name] = sorted(self._objects[name].values(), key=_entry_key)
        self._sorted["events"] = sorted(self._events.values(), key=_entry_key)

    # --------------------------------------------------------------- writes

    def _insert(
        self,
        spec: Resource,
        obj: dict[str, Any],
        at: int,
        event_type: str | None,
        request: Mapping[str, Any],
        *,
        bulk: bool,
    ) -> None:
        entry = Entry(obj, spec.time_field)
        self._objects[spec.name][entry.key[1]] = entry
        if not bulk:
            self._sorted_insert(spec.list_name, entry)
        if spec.has_events:
            event = event_type or spec.event_type(_creation_action(spec, obj))
            self._emit(event, obj, at, None, request, bulk=bulk)

    def _replace(
        self,
        spec: Resource,
        obj_id: str,
        changes: Mapping[str, Any],
        at: int,
        event_type: str | None,
        request: Mapping[str, Any],
        *,
        bulk: bool = False,
    ) -> dict[str, Any]:
        old = self._current(spec, obj_id)
        old_obj = old.obj  # decoded once for entries held only as JSON
        new_obj = merge(old_obj, changes)
        if new_obj == old_obj:
            return old_obj
        if spec.name == "product":
            new_obj["updated"] = at
        previous = previous_attributes(old_obj, new_obj)
        entry = Entry(new_obj, spec.time_field)
        self._objects[spec.name][obj_id] = entry
        if not bulk:
            self._sorted_swap(spec.list_name, old, entry)
        if spec.has_events:
            event = event_type or spec.event_type("updated")
            self._emit(event, new_obj, at, previous, request, bulk=bulk)
        return new_obj

    def _remove(
        self, spec: Resource, obj_id: str, at: int, request: Mapping[str, Any], *, bulk: bool
    ) -> dict[str, Any]:
        if spec.cancels_on_delete:
            return self._cancel_subscription(obj_id, at, request, bulk=bulk)
        if not spec.deletable:
            raise errors.invalid_request(f"{spec.name} objects cannot be deleted.")
        current = self._current(spec, obj_id)
        current_obj = current.obj
        if spec.name == "invoice" and current_obj["status"] != "draft":
            raise errors.invalid_request("You can only delete draft invoices.", param="invoice")
        if spec.name == "customer":
            self._cancel_subscriptions_of(obj_id, at, request, bulk=bulk)
        del self._objects[spec.name][obj_id]
        if not bulk:
            self._sorted_remove(spec.list_name, current)
        self._deleted[spec.name][obj_id] = {**current_obj, "deleted": True}
        # Stripe's ``<object>.deleted`` event carries the object as it was before the
        # delete, without a ``deleted`` field: only the event type says it was deleted
        # (a Stripe engineer in stripe/stripe-dotnet#1870; ../shared/stripe/README.md).
        self._emit(spec.event_type("deleted"), current_obj, at, None, request, bulk=bulk)
        return _deleted_stub(spec, obj_id)

    def _cancel_subscription(
        self, obj_id: str, at: int, request: Mapping[str, Any], *, bulk: bool
    ) -> dict[str, Any]:
        spec = RESOURCES["subscription"]
        current = self._current(spec, obj_id)
        if current.obj["status"] in _ENDED_SUBSCRIPTION_STATUSES:
            raise errors.invalid_request(
                f"A canceled subscription can only update its cancellation_details and "
                f"metadata. Subscription: '{obj_id}'",
            )
        changes: dict[str, Any] = {
            "canceled_at": at,
            "ended_at": at,
            "status": "canceled",
        }
        if current.obj["cancellation_details"]["reason"] is None:
            changes["cancellation_details"] = {"reason": "cancellation_requested"}
        new_obj = merge(current.obj, changes)
        entry = Entry(new_obj, spec.time_field)
        self._objects[spec.name][obj_id] = entry
        if not bulk:
            self._sorted_swap(spec.list_name, current, entry)
        self._emit(spec.event_type("deleted"), new_obj, at, None, request, bulk=bulk)
        return new_obj

    def _cancel_subscriptions_of(
        self, customer_id: str, at: int, request: Mapping[str, Any], *, bulk: bool
    ) -> None:
        for entry in list(self._objects["subscription"].values()):
            obj = entry.obj
            if obj["customer"] == customer_id and obj["status"] not in _ENDED_SUBSCRIPTION_STATUSES:
                self._cancel_subscription(obj["id"], at, request, bulk=bulk)

    def _emit(
        self,
        event_type: str,
        obj: dict[str, Any],
        at: int,
        previous: dict[str, Any] | None,
        request: Mapping[str, Any],
        *,
        bulk: bool,
    ) -> None:
        event = self.factory.event(
            event_type, obj, created=at, previous_attributes=previous, request=request
        )
        entry = Entry(event)
        self._events[event["id"]] = entry
        if not bulk:
            self._sorted_insert("events", entry)

    # ------------------------------------------------------- sorted lists

    def _sorted_insert(self, list_name: str, entry: Entry) -> None:
        current = self._sorted[list_name]
        index = bisect.bisect_left(current, entry.key, key=_entry_key)
        self._sorted[list_name] = [*current[:index], entry, *current[index:]]

    def _sorted_swap(self, list_name: str, old: Entry, new: Entry) -> None:
        current = self._sorted[list_name]
        index = bisect.bisect_left(current, old.key, key=_entry_key)
        self._sorted[list_name] = [*current[:index], new, *current[index + 1 :]]

    def _sorted_remove(self, list_name: str, old: Entry) -> None:
        current = self._sorted[list_name]
        index = bisect.bisect_left(current, old.key, key=_entry_key)
        self._sorted[list_name] = [*current[:index], *current[index + 1 :]]

    # ------------------------------------------------------------- helpers

    def _spec(self, type_name: str) -> Resource:
        try:
            return resource(type_name)
        except KeyError:
            raise errors.invalid_request(f"Unknown object type: {type_name}") from None

    def _writable_spec(self, type_name: str) -> Resource:
        spec = self._spec(type_name)
        if spec.name == "event":
            raise errors.invalid_request("Events are created by changes, not directly.")
        return spec

    def _current(self, spec: Resource, obj_id: str) -> Entry:
        found = self._objects[spec.name].get(obj_id)
        if found is None:
            raise errors.resource_missing(spec.name, obj_id)
        return found

    def _lookup(self, type_name: str, obj_id: str) -> dict[str, Any] | None:
        found = self._objects[type_name].get(obj_id)
        return None if found is None else found.obj

    def _request(self, request: Mapping[str, Any] | None) -> dict[str, Any]:
        if request is not None:
            return dict(request)
        ids = self.factory.ids
        return {"id": ids.short("req"), "idempotency_key": ids.uuid4()}

    @staticmethod
    def _check_fields(spec: Resource, fields: Mapping[str, Any]) -> None:
        allowed = accepted_fields(spec.name)
        for name in fields:
            if name not in allowed:
                raise errors.unknown_parameter(name)


def _creation_action(spec: Resource, obj: Mapping[str, Any]) -> str:
    if spec.name == "charge":
        return _CHARGE_CREATION_EVENTS.get(str(obj.get("status")), "succeeded")
    return "created"


def _deleted_stub(spec: Resource, obj_id: str) -> dict[str, Any]:
    stub = template(f"deleted_{spec.name}")
    stub["id"] = obj_id
    return stub


def merge(old: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``old`` with ``changes`` applied as Stripe applies an update.

    Plain nested hashes merge key by key; Stripe objects (dicts with an ``object`` key) and
    lists are replaced; ``metadata`` keys set to ``None``/``""`` are removed and
    ``metadata=None`` clears it. ``old`` is not modified.
    """
    new = dict(old)
    for key, value in changes.items():
        before = old.get(key)
        if key == "metadata":
            new[key] = _merge_metadata(before, value)
        elif _is_plain_hash(value) and _is_plain_hash(before):
            new[key] = merge(before, value)
        else:
            new[key] = value
    return new


def _merge_metadata(before: Any, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    merged = {**(before or {}), **value}
    return {key: item for key, item in merged.items() if item not in (None, "")}


def _is_plain_hash(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping) and "object" not in value


def previous_attributes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Return what ``data.previous_attributes`` of an update event holds.

    For each changed key its old value; for changed nested hashes only their changed keys
    (keys that did not exist before are ``None``).
    """
    previous: dict[str, Any] = {}
    for key in new.keys() | old.keys():
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            previous[key] = previous_attributes(before, after)
        else:
            previous[key] = before
    return dict(sorted(previous.items()))
