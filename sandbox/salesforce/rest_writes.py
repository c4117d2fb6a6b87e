"""REST write routes: sObject Collections and single-record create/update/upsert/delete.

Shapes follow the REST API Developer Guide: Collections create/update/upsert/delete
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
resources_composite_sobjects_collections.htm and ..._collections_upsert.htm: "up to 200
records", "each object ... must contain an attributes map" with ``type``, a well-formed
request answers 200 with per-record results, a malformed one 400) and single records
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm:
201 with ``created: true`` for a new record, 200 with ``created: false`` for an update
since API 46.0, 300 when the external id matches several records; update and delete by
Id answer 204 without a body).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Optional
from urllib.parse import parse_qs, unquote

from .schema import OBJECTS
from .writes import Writer, WriteResult

MAX_RECORDS = 200
"""Records per Collections request."""

Reply = tuple[int, Any]
"""Status and JSON body (None: no body)."""


def sf_error(status: int, code: str, message: str) -> Reply:
    """Salesforce's request-level error shape."""
    return status, [{"message": message, "errorCode": code}]


def too_many() -> Reply:
    """More than 200 records: "EXCEEDED_ID_LIMIT: record limit reached. cannot submit
    more than 200 records into this call" (as Salesforce answers it, quoted in
    https://github.com/sorenkrabbe/Chrome-Salesforce-inspector/issues/134)."""
    return sf_error(
        400,
        "EXCEEDED_ID_LIMIT",
        "record limit reached. cannot submit more than 200 records into this call",
    )


class RestWrites:
    """Answers the write routes under ``/services/data/vXX.X/``."""

    def __init__(self, writer: Writer) -> None:
        """Writes through ``writer``."""
        self.writer = writer

    def answer(self, method: str, rest: str, query: str, body: bytes, user: str) -> Optional[Reply]:
        """The answer for a write route, or None when ``rest`` is not one.

        Args:
            method: HTTP method.
            rest: The path after ``/services/data/vXX.X/``.
            query: The query string.
            body: The request body.
            user: The writing user's id (``LastModifiedById``).
        """
        parts = [unquote(p) for p in rest.strip("/").split("/")]
        if parts[:2] == ["composite", "sobjects"]:
            return self._collections(method, parts[2:], query, body, user)
        if (
            parts[:1] == ["sobjects"]
            and len(parts) in (2, 3, 4)
            and method in ("POST", "PATCH", "DELETE")
        ):
            return self._single(method, parts[1:], body, user)
        return None

    # ------------------------------------------------------------- collections

    def _collections(
        self, method: str, tail: Sequence[str], query: str, body: bytes, user: str
    ) -> Reply:
        if method == "DELETE" and not tail:
            params = parse_qs(query)
            ids = [i for i in ",".join(params.get("ids", [])).split(",") if i]
            if len(ids) > MAX_RECORDS:
                return too_many()
            all_or_none = (params.get("allOrNone") or ["false"])[0].lower() == "true"
            return 200, [r.body() for r in self.writer.delete(ids, all_or_none)]
        if (
            method not in ("POST", "PATCH")
            or len(tail) not in (0, 2)
            or (tail and tail[0] not in OBJECTS)
        ):
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if tail and method != "PATCH":
            return sf_error(405, "METHOD_NOT_ALLOWED", f"HTTP method '{method}' not allowed")
        try:
            records, all_or_none = _collection_body(body)
            if len(records) > MAX_RECORDS:
                return too_many()
            pairs = _typed(records, tail[0] if tail else None)
        except _BadRequest as bad:
            return bad.reply
        if tail:
            object_name, key_field = tail
            if not is_external_id(object_name, key_field):
                return not_an_external_id(key_field)
            results = self.writer.upsert(
                object_name, key_field, [f for _, f in pairs], all_or_none, user
            )
            return 200, [r.body(upsert=True) for r in results]
        if method == "POST":
            return 200, [r.body() for r in self.writer.create(pairs, all_or_none, user)]
        return 200, [r.body() for r in self.writer.update(pairs, all_or_none, user)]

    # ----------------------------------------------------------- single record

    def _single(self, method: str, tail: Sequence[str], body: bytes, user: str) -> Reply:
        object_name = tail[0]
        if object_name not in OBJECTS:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if method == "DELETE" and len(tail) == 2:
            return _single_reply(self.writer.delete([tail[1]], False)[0], 204)
        fields = _json_object(body) if method != "DELETE" else None
        if fields is None:
            return sf_error(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
        fields.pop("attributes", None)
        if method == "POST" and len(tail) == 1:
            result = self.writer.create([(object_name, fields)], False, user)[0]
            return _single_reply(result, 201, {"id": result.id, "success": True, "errors": []})
        if method == "PATCH" and len(tail) == 2:
            result = self.writer.update([(object_name, {**fields, "Id": tail[1]})], False, user)[0]
            return _single_reply(result, 204)
        if method == "PATCH" and len(tail) == 3:
            return self._upsert_one(object_name, tail[1], tail[2], fields, user)
        return sf_error(405, "METHOD_NOT_ALLOWED", f"HTTP method '{method}' not allowed")

    def _upsert_one(
        self, object_name: str, key_field: str, value: str, fields: dict[str, Any], user: str
    ) -> Reply:
        if not is_external_id(object_name, key_field):
            return not_an_external_id(key_field)
        found = self.writer.matches(object_name, key_field, value)
        if len(found) > 1:
            # 300 Multiple Choices with the matching records' URLs (dome_upsert.htm).
            return 300, [f"/services/data/v59.0/sobjects/{object_name}/{i}" for i in found]
        result = self.writer.upsert(
            object_name, key_field, [{**fields, key_field: value}], False, user
        )[0]
        status = 201 if result.created else 200
        return _single_reply(result, status, result.body(upsert=True))


def is_external_id(object_name: str, field_name: str) -> bool:
    """Whether upserts may match on the field ("Only external ids are supported. Don't
    use record ids", collections upsert docs)."""
    return any(f.name == field_name and f.external_id for f in OBJECTS[object_name])


def not_an_external_id(field_name: str) -> Reply:
    """The answer to an upsert on a field that is no external id (Salesforce's wording)."""
    return sf_error(
        404,
        "NOT_FOUND",
        f"Provided external ID field does not exist or is not accessible: {field_name}",
    )


def _single_reply(result: WriteResult, status: int, body: Any = None) -> Reply:
    """A single-record answer: ``status`` on success, 400 (404 for a missing record)
    with the errors otherwise."""
    if result.success:
        return status, body
    first = result.errors[0]
    code = 404 if first.status_code in ("INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED") else 400
    return code, [
        {"message": e.message, "errorCode": e.status_code, "fields": list(e.fields)}
        for e in result.errors
    ]


def _json_object(body: bytes) -> Optional[dict[str, Any]]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _BadRequest(Exception):
    """A malformed request: its 400 answer."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply[1])
        self.reply = reply


def _collection_body(body: bytes) -> tuple[list[Any], bool]:
    """``(records, allOrNone)`` of a Collections body.

    Raises:
        _BadRequest: Not a JSON object with a records list.
    """
    value = _json_object(body)
    if value is None or not isinstance(value.get("records"), list):
        raise _BadRequest(
            sf_error(400, "JSON_PARSER_ERROR", "The request body needs a records list")
        )
    return value["records"], bool(value.get("allOrNone", False))


def _typed(records: Sequence[Any], expected: Optional[str]) -> list[tuple[str, dict[str, Any]]]:
    """``(type, fields)`` per record.

    Raises:
        _BadRequest: A record without a known type (or another than the URI's).
    """
    pairs = []
    for record in records:
        attributes = record.get("attributes") if isinstance(record, Mapping) else None
        kind = attributes.get("type") if isinstance(attributes, Mapping) else None
        if kind not in OBJECTS or (expected is not None and kind != expected):
            # Salesforce's answer for a record without a concrete type (not in the docs).
            raise _BadRequest(sf_error(400, "INVALID_TYPE", "Must send a concrete entity type."))
        fields = {k: v for k, v in record.items() if k != "attributes"}
        pairs.append((str(kind), fields))
    return pairs
