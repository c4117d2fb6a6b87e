"""The ServiceNow sandbox's documented rules: delete auditing, CMDB classes, single-record
GET, read ACLs and OAuth refresh tokens, over HTTP."""

from __future__ import annotations

from typing import Any, Optional

import pytest
import requests

from sandbox.servicenow import ServiceNowSandbox
from sandbox.servicenow.audit import AuditPolicy, DeleteVia
from sandbox.servicenow.clock import glide_time

TIMEOUT = 5


def get(
    sb: ServiceNowSandbox, path: str, auth: Optional[tuple[str, str]] = None, **params: Any
) -> requests.Response:
    return requests.get(
        f"{sb.base_url}/api/now/table/{path}",
        params=params,
        auth=auth or (sb.username, sb.password),
        timeout=TIMEOUT,
    )


def audited(sb: ServiceNowSandbox, sys_id: str) -> list[dict[str, str]]:
    reply = get(sb, "sys_audit_delete", sysparm_query=f"documentkey={sys_id}")
    return list(reply.json()["result"])


@pytest.mark.parametrize(
    ("table", "via", "policy", "expected"),
    [
        ("incident", DeleteVia.SCRIPT, AuditPolicy(), True),
        ("incident", DeleteVia.FORM, AuditPolicy(), True),
        ("incident", DeleteVia.TABLE_CLEANER, AuditPolicy(), False),
        ("incident", DeleteVia.SCRIPT, AuditPolicy(no_audit_delete={"incident"}), False),
        ("sys_user", DeleteVia.SCRIPT, AuditPolicy(), False),
        ("sys_user", DeleteVia.SCRIPT, AuditPolicy(audit_deleted_tables={"sys_user"}), True),
        ("cmdb_ci_windows_service", DeleteVia.LIST, AuditPolicy(), False),
        ("cmdb_ci_windows_service", DeleteVia.FORM, AuditPolicy(), True),
        ("cmdb_ci_linux_server", DeleteVia.LIST, AuditPolicy(), True),
    ],
    ids=[
        "script", "form", "table-cleaner", "no_audit_delete", "sys-table",
        "sys-table-listed", "ignore-delete-list", "ignore-delete-form", "cmdb-class",
    ],
)  # fmt: skip
def test_audit_policy_follows_the_documented_rules(
    table: str, via: DeleteVia, policy: AuditPolicy, expected: bool
) -> None:
    assert policy.audits(table, via) is expected


def test_unaudited_deletes_leave_no_sys_audit_delete_row(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    store = servicenow_sandbox.store
    user = store.records("sys_user")[0]["sys_id"]
    incident = store.records("incident")[0]["sys_id"]
    kept = store.records("incident")[1]["sys_id"]

    store.delete("sys_user", user)
    store.delete("incident", incident, via=DeleteVia.TABLE_CLEANER)
    store.delete("incident", kept)

    assert audited(servicenow_sandbox, user) == []
    assert audited(servicenow_sandbox, incident) == []
    assert [a["tablename"] for a in audited(servicenow_sandbox, kept)] == ["incident"]
    # sys_audit logs every delete but Table Cleaner's as fieldname = DELETED (KB0634666)
    logged = get(servicenow_sandbox, "sys_audit", sysparm_query="fieldname=DELETED")
    by_key = {r["documentkey"]: r for r in logged.json()["result"]}
    assert set(by_key) == {user, kept}
    assert by_key[user]["tablename"] == "sys_user" and by_key[user]["newvalue"] == "DELETED"


def test_cmdb_delete_is_filed_under_its_class_and_in_queries_find_it(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    store = servicenow_sandbox.store
    linux = store.create("cmdb_ci", name="srv-linux", sys_class_name="cmdb_ci_linux_server")
    store.delete("cmdb_ci", linux["sys_id"])

    rows = audited(servicenow_sandbox, linux["sys_id"])
    assert [r["tablename"] for r in rows] == ["cmdb_ci_linux_server"]
    assert '<cmdb_ci_linux_server action="DELETE">' in rows[0]["payload"]
    assert get(servicenow_sandbox, "sys_audit_delete",
               sysparm_query="tablename=cmdb_ci").json()["result"] == []  # fmt: skip
    found = get(
        servicenow_sandbox,
        "sys_audit_delete",
        sysparm_query="tablenameINcmdb_ci,cmdb_ci_server,cmdb_ci_linux_server",
    ).json()["result"]
    assert [r["documentkey"] for r in found] == [linux["sys_id"]]


def test_sys_db_object_holds_the_class_tree(servicenow_sandbox: ServiceNowSandbox) -> None:
    rows = get(servicenow_sandbox, "sys_db_object", sysparm_fields="sys_id,name,super_class")
    by_name = {r["name"]: r for r in rows.json()["result"]}
    by_id = {r["sys_id"]: r["name"] for r in by_name.values()}
    assert by_id[by_name["cmdb_ci_linux_server"]["super_class"]] == "cmdb_ci_server"
    assert by_id[by_name["cmdb_ci_server"]["super_class"]] == "cmdb_ci_computer"
    assert by_name["cmdb_ci"]["super_class"] != "" and by_name["task"]["super_class"] == ""


def test_instance_purge_drops_old_audit_rows(servicenow_sandbox: ServiceNowSandbox) -> None:
    store = servicenow_sandbox.store
    first, second = (r["sys_id"] for r in store.records("incident")[:2])
    store.delete("incident", first)
    servicenow_sandbox.advance(3600)
    store.delete("incident", second)

    purged = store.purge_audit(before=glide_time(servicenow_sandbox.clock() - 60))

    assert purged == 1
    assert audited(servicenow_sandbox, first) == []
    assert len(audited(servicenow_sandbox, second)) == 1


def test_get_one_record_by_sys_id_and_404_shape(servicenow_sandbox: ServiceNowSandbox) -> None:
    record = servicenow_sandbox.store.records("incident")[3]

    found = get(servicenow_sandbox, f"incident/{record['sys_id']}", sysparm_fields="sys_id,number")
    missing = get(servicenow_sandbox, "incident/" + "0" * 32)

    assert found.status_code == 200
    assert found.json() == {"result": {"sys_id": record["sys_id"], "number": record["number"]}}
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "message": "No Record found",
            "detail": "Record doesn't exist or ACL restricts the record retrieval",
        },
        "status": "failure",
    }


def test_a_user_without_the_role_is_refused_sys_audit_delete_only(
    servicenow_sandbox_factory: Any,
) -> None:
    sb = servicenow_sandbox_factory(
        users={"admin": "pw", "reader": "pw2"}, roles={"reader": {"itil"}}
    )
    reader = ("reader", "pw2")

    refused = get(sb, "sys_audit_delete", auth=reader)

    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "User Not Authorized"
    assert get(sb, "incident", auth=reader).status_code == 200
    assert get(sb, "sys_audit_delete", auth=("admin", "pw")).status_code == 200


def test_password_grant_returns_a_refresh_token_that_grants_access_tokens(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    sb = servicenow_sandbox
    client = {"client_id": sb.client_id, "client_secret": sb.client_secret}
    first = requests.post(
        sb.token_url,
        data={"grant_type": "password", "username": sb.username, "password": sb.password,
              **client},
        timeout=TIMEOUT,
    ).json()  # fmt: skip
    sb.auth.expire_tokens()

    refreshed = requests.post(
        sb.token_url,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **client},
        timeout=TIMEOUT,
    )
    sb.auth.expire_refresh_tokens()
    refused = requests.post(
        sb.token_url,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **client},
        timeout=TIMEOUT,
    )

    body = refreshed.json()
    assert first["refresh_token"] and first["access_token"] != body["access_token"]
    assert body["refresh_token"] == first["refresh_token"]  # the current refresh token
    listed = requests.get(
        f"{sb.base_url}/api/now/table/incident",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )
    assert listed.status_code == 200
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_grant"
