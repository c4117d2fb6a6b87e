"""The write side of the org: create, update, upsert and delete with per-record results.

Every write API (sObject Collections, single-record REST, Bulk API 2.0 ingest) goes
through :class:`Writer`, so required fields, unique external ids and switchable
validation rules reject records the same way everywhere. Results are Salesforce's
SaveResult/UpsertResult/DeleteResult shapes: ``{"id", "success", "errors": [{"statusCode",
"message", "fields"}]}`` plus ``created`` for upserts (https://developer.salesforce.com/docs/
atlas.en-us.api.meta/api/sforce_api_calls_upsert_upsertresult.htm).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from .schema import OBJECTS
from .store import Store, record_id

INTEGRATION_USER_ID = record_id("User", 0)
"""``LastModifiedById`` of API writes by the integration user (no seeded user has it)."""

ROLLED_BACK = (
    # allOrNone: "Record rolled back because not all records were valid and the request
    # was using AllOrNone header" (https://developer.salesforce.com/docs/atlas.en-us.
    # api_rest.meta/api_rest/resources_composite_sobjects_collections_create.htm example).
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
)

Rule = Callable[[Mapping[str, Any]], bool]
"""A validation rule's condition: True means the record is invalid (as a rule formula)."""


@dataclass(frozen=True)
class WriteError:
    """One entry of a result's ``errors``."""

    status_code: str
    message: str
    fields: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """The JSON entry of a Collections result."""
        return {
            "statusCode": self.status_code,
            "message": self.message,
            "fields": list(self.fields),
        }


@dataclass
class WriteResult:
    """What happened to one record."""

    id: Optional[str]
    errors: list[WriteError] = field(default_factory=list)
    created: bool = False

    @property
    def success(self) -> bool:
        """Whether the record was written."""
        return not self.errors

    def body(self, upsert: bool = False) -> dict[str, Any]:
        """The record's entry in a Collections answer (``created`` for upserts)."""
        entry: dict[str, Any] = {
            "id": self.id,
            "success": self.success,
            "errors": [e.body() for e in self.errors],
        }
        if upsert:
            entry["created"] = self.created if self.success else False
        return entry


@dataclass(frozen=True)
class ValidationRule:
    """A validation rule: records for which ``when`` is true are rejected.

    Attributes:
        object_name: The object it guards.
        name: The rule's API name.
        when: The error condition, given the record as it would be saved.
        message: The error message shown.
        field: The error display field (``fields`` of the error), if any.
    """

    object_name: str
    name: str
    when: Rule
    message: str
    field: Optional[str] = None


class ValidationRules:
    """The org's active validation rules; add or remove them while the sandbox runs.

    Example:
        >>> sandbox.validation_rules.add(
        ...     "Account", "Revenue_Positive", lambda r: (r["AnnualRevenue"] or 0) < 0,
        ...     "Annual revenue cannot be negative", field="AnnualRevenue")
    """

    def __init__(self) -> None:
        """Starts with no rules (every record passes)."""
        self._rules: list[ValidationRule] = []
        self._lock = threading.Lock()

    def add(
        self,
        object_name: str,
        name: str,
        when: Rule,
        message: str,
        *,
        field: Optional[str] = None,
    ) -> ValidationRule:
        """Activates a rule; returns it.

        Raises:
            KeyError: Unknown object or field.
        """
        names = {f.name for f in OBJECTS[object_name]}
        if field is not None and field not in names:
            raise KeyError(f"no field {field} on {object_name}")
        rule = ValidationRule(object_name, name, when, message, field)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, name: str) -> None:
        """Deactivates every rule named ``name``."""
        with self._lock:
            self._rules = [r for r in self._rules if r.name != name]

    def clear(self) -> None:
        """Deactivates every rule."""
        with self._lock:
            self._rules.clear()

    def check(self, object_name: str, record: Mapping[str, Any]) -> list[WriteError]:
        """Errors of the rules the record breaks."""
        with self._lock:
            rules = [r for r in self._rules if r.object_name == object_name]
        # A rule "Contains a formula or expression that evaluates the data in one or more
        # fields and returns a value of True or False ... displays an error message"
        # (https://help.salesforce.com/s/articleView?id=sf.fields_about_field_validation.htm);
        # the API answers FIELD_CUSTOM_VALIDATION_EXCEPTION.
        return [
            WriteError(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                r.message,
                (r.field,) if r.field else (),
            )
            for r in rules
            if r.when(record)
        ]


@dataclass
class _Plan:
    """One record's intended write (before it is applied)."""

    object_name: str
    fields: dict[str, Any]
    existing: Optional[str] = None
    result: WriteResult = field(default_factory=lambda: WriteResult(None))


class Writer:
    """Applies writes to a :class:`Store`, rejecting records as the org would."""

    def __init__(self, store: Store, rules: ValidationRules) -> None:
        """Writes into ``store``, checking ``rules``."""
        self.store = store
        self.rules = rules
        self.writes = 0
        """Records written (created, updated or deleted) through the API."""
        self.received: Counter[str] = Counter()
        """Records sent per operation (``create``, ``update``, ``upsert``, ``delete``),
        rejected ones included: what a client sent, whatever became of it."""
        self._lock = threading.RLock()
        self._index: Optional[dict[tuple[str, str], dict[str, list[str]]]] = None
        """While a batch is planned: live ids by normalised value, per (object, field),
        built once per batch (planning sees the store as it was before the batch)."""

    # ------------------------------------------------------------------ public

    def create(
        self, records: Sequence[tuple[str, Mapping[str, Any]]], all_or_none: bool, user: str
    ) -> list[WriteResult]:
        """Creates ``(object, fields)`` records."""
        with self._lock:
            self.received["create"] += len(records)
            plans = self._planned(lambda: [self._plan_create(n, f) for n, f in records])
            return self._apply(plans, all_or_none, user)

    def update(
        self, records: Sequence[tuple[str, Mapping[str, Any]]], all_or_none: bool, user: str
    ) -> list[WriteResult]:
        """Updates ``(object, fields)`` records, each naming its ``Id``."""
        with self._lock:
            self.received["update"] += len(records)
            plans = self._planned(lambda: [self._plan_update(n, f) for n, f in records])
            return self._apply(plans, all_or_none, user)

    def upsert(
        self,
        object_name: str,
        key_field: str,
        records: Sequence[Mapping[str, Any]],
        all_or_none: bool,
        user: str,
    ) -> list[WriteResult]:
        """Creates or updates records matched on ``key_field`` (an external id, or Id)."""
        with self._lock:
            self.received["upsert"] += len(records)
            seen: set[Any] = set()
            plans = self._planned(
                lambda: [self._plan_upsert(object_name, key_field, f, seen) for f in records]
            )
            return self._apply(plans, all_or_none, user)

    def delete(
        self, ids: Sequence[str], all_or_none: bool, *, hard: bool = False
    ) -> list[WriteResult]:
        """Deletes records by id (any object; children cascade)."""
        with self._lock:
            self.received["delete"] += len(ids)
            results = [self._check_delete(rid) for rid in ids]
            if all_or_none and any(not r.success for r in results):
                return [r if not r.success else _rolled_back() for r in results]
            for result in results:
                if result.success and result.id is not None:
                    self.store.delete(self._object_of(result.id) or "", result.id, hard=hard)
                    self.writes += 1
            return results

    def matches(self, object_name: str, key_field: str, value: Any) -> list[str]:
        """Ids of live records whose ``key_field`` equals ``value``."""
        if value is None or value == "":
            return []
        if self._index is None:
            return self.store.find(object_name, lambda r: _same(r.get(key_field), value))
        key = (object_name, key_field)
        if key not in self._index:
            by_value: dict[str, list[str]] = {}
            for rid, stored in self.store.column(object_name, key_field):
                if stored not in (None, ""):
                    by_value.setdefault(_norm(stored), []).append(rid)
            self._index[key] = by_value
        return list(self._index[key].get(_norm(value), []))

    # ---------------------------------------------------------------- planning

    def _planned(self, plan: Callable[[], list[_Plan]]) -> list[_Plan]:
        """Runs ``plan`` with the batch index on (off again whatever happens)."""
        self._index = {}
        try:
            return plan()
        finally:
            self._index = None

    def _plan_create(self, object_name: str, fields: Mapping[str, Any]) -> _Plan:
        plan = _Plan(object_name, dict(fields))
        plan.result.errors = self._field_errors(object_name, plan.fields, creating=True)
        return plan

    def _plan_update(self, object_name: str, fields: Mapping[str, Any]) -> _Plan:
        values = dict(fields)
        rid = values.pop("Id", None)
        plan = _Plan(object_name, values, existing=str(rid) if rid else None)
        if not rid:
            # SOAP update(): "MISSING_ARGUMENT ... Id not specified in an update call"
            # (wording as Salesforce answers it; not in the REST docs).
            plan.result.errors = [
                WriteError("MISSING_ARGUMENT", "Id not specified in an update call")
            ]
            return plan
        plan.result.errors = self._existing_errors(object_name, str(rid)) or self._field_errors(
            object_name, values, creating=False, current=str(rid)
        )
        plan.result.id = str(rid)
        return plan

    def _plan_upsert(
        self, object_name: str, key_field: str, fields: Mapping[str, Any], seen: set[Any]
    ) -> _Plan:
        values = dict(fields)
        key = values.get(key_field)
        plan = _Plan(object_name, values)
        if key is None or key == "":
            plan.result.errors = [
                WriteError("MISSING_ARGUMENT", f"{key_field} not specified", (key_field,))
            ]
            return plan
        if _norm(key) in seen:
            # "Duplicate external id specified" (SOAP upsert(), a key twice in one call).
            plan.result.errors = [
                WriteError(
                    "DUPLICATE_VALUE", f"Duplicate external id specified: {key}", (key_field,)
                )
            ]
            return plan
        seen.add(_norm(key))
        found = self.matches(object_name, key_field, key)
        if len(found) > 1:
            # Several matches: "If the external ID matches multiple records, a 300 error is
            # reported" (REST upsert, https://developer.salesforce.com/docs/atlas.en-us.
            # api_rest.meta/api_rest/dome_upsert.htm); per record in a collection as
            # DUPLICATE_EXTERNAL_ID (a StatusCode of the SOAP API; the message is the one
            # https://github.com/restforce/restforce/issues/243 quotes, ids appended).
            message = f"The external ID provided matches more than one record: {found}"
            plan.result.errors = [WriteError("DUPLICATE_EXTERNAL_ID", message, (key_field,))]
            return plan
        if found:
            plan.existing = found[0]
            plan.result.id = found[0]
            if key_field == "Id":
                values.pop("Id")
            plan.result.errors = self._field_errors(
                object_name, values, creating=False, current=found[0]
            )
        else:
            plan.result.errors = self._field_errors(object_name, values, creating=True)
        return plan

    def _field_errors(
        self,
        object_name: str,
        values: Mapping[str, Any],
        *,
        creating: bool,
        current: Optional[str] = None,
    ) -> list[WriteError]:
        fields = {f.name: f for f in OBJECTS[object_name]}
        unknown = [name for name in values if name not in fields]
        if unknown:
            message = f"No such column '{unknown[0]}' on sobject of type {object_name}"
            return [WriteError("INVALID_FIELD", message, tuple(unknown))]
        locked = [name for name in values if not fields[name].writable]
        if locked:
            # The REST answer for a read-only field ("Unable to create/update fields: ...").
            message = (
                f"Unable to create/update fields: {', '.join(locked)}. Please check the "
                "security settings of this field and verify that it is read/write for your "
                "profile or permission set."
            )
            return [WriteError("INVALID_FIELD_FOR_INSERT_UPDATE", message, tuple(locked))]
        base = dict(self.store.get(object_name, current) or {}) if current else {}
        merged = {**{n: None for n in fields}, **base, **values}
        missing = _missing_required(fields.values(), merged, values, creating)
        if missing:
            message = f"Required fields are missing: [{', '.join(missing)}]"
            return [WriteError("REQUIRED_FIELD_MISSING", message, tuple(missing))]
        duplicate = self._duplicate(object_name, fields.values(), values, current)
        if duplicate is not None:
            return [duplicate]
        return self.rules.check(object_name, merged)

    def _duplicate(
        self,
        object_name: str,
        fields: Any,
        values: Mapping[str, Any],
        current: Optional[str],
    ) -> Optional[WriteError]:
        for spec in fields:
            if not spec.unique or values.get(spec.name) in (None, ""):
                continue
            others = [
                i for i in self.matches(object_name, spec.name, values[spec.name]) if i != current
            ]
            if others:
                # As Salesforce answers it, with empty fields: "duplicate value found:
                # NozzleAccountId__c duplicates value on record with id: 001Vr00000m4eGCIAY"
                # (https://github.com/k-capehart/go-salesforce/issues/133).
                message = (
                    f"duplicate value found: {spec.name} duplicates value on record with id: "
                    f"{others[0]}"
                )
                return WriteError("DUPLICATE_VALUE", message)
        return None

    def _existing_errors(self, object_name: str, rid: str) -> list[WriteError]:
        record = self.store.get(object_name, rid)
        if record is None:
            return [WriteError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")]
        if record.get("IsDeleted"):
            return [WriteError("ENTITY_IS_DELETED", "entity is deleted")]
        return []

    def _check_delete(self, rid: str) -> WriteResult:
        name = self._object_of(rid)
        if name is None or "IsDeleted" not in {f.name for f in OBJECTS[name]}:
            return WriteResult(
                None, [WriteError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")]
            )
        errors = self._existing_errors(name, rid)
        # "id: ... If there was an error, the field is null" (SaveResult/DeleteResult).
        return WriteResult(None if errors else rid, errors)

    def _object_of(self, rid: str) -> Optional[str]:
        for name in OBJECTS:
            if self.store.get(name, rid) is not None:
                return name
        return None

    # ---------------------------------------------------------------- applying

    def _apply(self, plans: list[_Plan], all_or_none: bool, user: str) -> list[WriteResult]:
        for plan in plans:
            if not plan.result.success:
                plan.result.id = None  # null on error, as SaveResult documents
        if all_or_none and any(not p.result.success for p in plans):
            return [p.result if not p.result.success else _rolled_back() for p in plans]
        for plan in plans:
            if not plan.result.success:
                continue
            audit = {"LastModifiedById": user}
            if plan.existing is None:
                created = self.store.create(plan.object_name, **plan.fields, **audit)
                plan.result.id, plan.result.created = str(created["Id"]), True
            else:
                self.store.update(plan.object_name, plan.existing, **plan.fields, **audit)
            self.writes += 1
        return [p.result for p in plans]


def _rolled_back() -> WriteResult:
    return WriteResult(None, [WriteError(*ROLLED_BACK)])


def _missing_required(
    fields: Any, merged: Mapping[str, Any], values: Mapping[str, Any], creating: bool
) -> list[str]:
    """Required (non-nillable, writable, non-boolean) fields left empty by the write."""
    missing = []
    for spec in fields:
        if spec.nillable or not spec.writable or spec.type == "boolean":
            continue
        if not creating and spec.name not in values:
            continue
        if merged.get(spec.name) in (None, ""):
            missing.append(spec.name)
    return missing


def _norm(value: Any) -> str:
    # External ids match case-insensitively unless the field is case sensitive
    # ("External ID fields ... are case insensitive by default", Salesforce Help
    # https://help.salesforce.com/s/articleView?id=sf.custom_field_attributes.htm).
    return str(value).casefold()


def _same(stored: Any, value: Any) -> bool:
    return stored is not None and _norm(stored) == _norm(value)


__all__ = [
    "INTEGRATION_USER_ID",
    "ValidationRule",
    "ValidationRules",
    "WriteError",
    "WriteResult",
    "Writer",
]
