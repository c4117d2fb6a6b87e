"""``GET /api/now/table/<table>/<sys_id>`` and table read ACLs, as status and JSON payload.

Single record: ServiceNow docs "Table API", "Table - GET /now/table/{tableName}/{sys_id}"
(https://www.servicenow.com/docs/r/xanadu/api-reference/rest-apis/c_TableAPI.html): the record
comes back as ``{"result": {...}}``; an unknown sys_id is a 404. The 404 body ("No Record
found" / "Record doesn't exist or ACL restricts the record retrieval") is not in the stored
docs; it is the body Talend's ServiceNow component asserts against a recorded instance reply
(org/talend/components/servicenow/output/ServiceNowOutputTest.java, deleteNonExistingRecord).

Read ACL refusal: a 403 with ``"User Not Authorized"`` / ``"Failed API level ACL
Validation"`` (ServiceNow KB2466644,
https://support.servicenow.com/kb?id=kb_article_view&sysparm_article=KB2466644).
Which role reads ``sys_audit_delete`` is an instance's ACL; ``admin`` is the sandbox's
assumption (no stored source names the default ACL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .store import Store

Payload = tuple[int, dict[str, Any]]

READ_ROLES: Mapping[str, str] = {"sys_audit_delete": "admin", "sys_audit": "admin"}
"""Tables whose read ACL needs a role (other tables: any authenticated user)."""


def failure(status: int, message: str, detail: str) -> Payload:
    """ServiceNow's error body."""
    return status, {"error": {"message": message, "detail": detail}, "status": "failure"}


def forbidden() -> Payload:
    """The 403 of a failed read ACL."""
    return failure(403, "User Not Authorized", "Failed API level ACL Validation")


def split_path(rest: str) -> tuple[str, str]:
    """``incident/<sys_id>`` -> ``(incident, <sys_id>)``; ``incident`` -> ``(incident, "")``."""
    table, _, sys_id = rest.strip("/").partition("/")
    return table, sys_id.strip("/")


def get_record(
    store: Store,
    table: str,
    sys_id: str,
    shape: Callable[[dict[str, str]], dict[str, Any]],
) -> Payload:
    """One record by sys_id, shaped by the request's ``sysparm_*`` parameters."""
    if table not in store.table_names:
        return failure(400, "Invalid table", f"Invalid table {table}")
    try:
        record = store.get(table, sys_id)
    except KeyError:
        return failure(
            404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        )
    return 200, {"result": shape(record)}
