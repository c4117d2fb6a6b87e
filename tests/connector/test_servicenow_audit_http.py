"""sys_audit_delete through the ServiceNow client, over loopback: CMDB classes and a 403."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from sandbox.servicenow import ServiceNowSandbox
from sources.kit.connector import build_session
from sources.kit.errors import AuthenticationError
from sources.kit.http import HttpSettings
from sources.servicenow.access import AccessDeniedError
from sources.servicenow.client import ServiceNowClient, make_auth
from sources.servicenow.deletes import AuditScan, audit_tombstones, descendant_classes
from sources.servicenow.spec import SPEC

SINCE = "2000-01-01 00:00:00"


def client_for(sandbox: ServiceNowSandbox, user: str = "", password: str = "") -> ServiceNowClient:
    session = build_session(
        SPEC,
        base_url=sandbox.base_url,
        settings=HttpSettings(backoff_base=0.001, backoff_cap=0.01),
        rate_limit=1000.0,
        sleep=lambda _: None,
        rng=random.Random(1),
    )
    auth = make_auth(
        base_url=sandbox.base_url,
        auth_type="basic",
        username=user or sandbox.username,
        password=password or sandbox.password,
    )
    return ServiceNowClient(sandbox.base_url, session, auth, page_size=5)


def test_descendant_classes_follow_super_class(servicenow_sandbox: ServiceNowSandbox) -> None:
    classes = descendant_classes(client_for(servicenow_sandbox), "cmdb_ci")

    assert classes[0] == "cmdb_ci"
    assert {"cmdb_ci_server", "cmdb_ci_linux_server", "cmdb_ci_win_server"} <= set(classes)
    assert "incident" not in classes and "cmdb" not in classes
    assert descendant_classes(client_for(servicenow_sandbox), "incident") == ["incident"]


def test_a_linux_server_delete_is_found_under_cmdb_ci(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    store = servicenow_sandbox.store
    linux = store.create("cmdb_ci", name="srv-gone", sys_class_name="cmdb_ci_linux_server")
    store.delete("cmdb_ci", linux["sys_id"])
    scan = AuditScan()

    rows = [r for page in audit_tombstones(client_for(servicenow_sandbox), "cmdb_ci", SINCE, scan)
            for r in page]  # fmt: skip

    assert [r["sys_id"] for r in rows] == [linux["sys_id"]]
    assert rows[0]["deleted"] is True and rows[0]["name"] == "srv-gone"  # payload read
    assert scan.keys == {linux["sys_id"]} and scan.newest is not None


def test_a_403_on_sys_audit_delete_names_the_role_and_ends_quietly(
    servicenow_sandbox_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = servicenow_sandbox_factory(users={"reader": "pw"}, roles={"reader": {"itil"}})
    store = sandbox.store
    store.delete("incident", store.records("incident")[0]["sys_id"])
    client = client_for(sandbox, "reader", "pw")
    scan = AuditScan()

    with caplog.at_level(logging.WARNING, logger="sluice.servicenow"):
        rows = list(audit_tombstones(client, "incident", SINCE, scan, run_id="run-1"))
        list(audit_tombstones(client, "change_request", SINCE, AuditScan(), run_id="run-1"))

    assert rows == [] and scan.denied
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one line per run, not one per table
    assert "sys_audit_delete (403)" in warnings[0] and "read access" in warnings[0]
    assert "refused the credentials" not in warnings[0]


def test_a_403_on_a_loaded_table_is_an_access_error_naming_the_table(
    servicenow_sandbox_factory: Any,
) -> None:
    sandbox = servicenow_sandbox_factory(users={"reader": "pw"}, roles={"reader": {"itil"}})
    client = client_for(sandbox, "reader", "pw")

    with pytest.raises(AccessDeniedError) as caught:
        list(client.list_pages("sys_audit_delete", params={}))

    assert isinstance(caught.value, AuthenticationError)
    assert caught.value.table == "sys_audit_delete"
    assert "denied reading sys_audit_delete (403)" in str(caught.value)
