"""pysnow, a ServiceNow client from PyPI, against the running ServiceNow sandbox.

pysnow 0.7.9 (the newest that installs beside dlt: later releases pin pytz<2020) queries
with ``sysparm_query``, reads one record by sys_id and runs the OAuth password and
refresh grants through requests-oauthlib.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from sandbox.servicenow import ServiceNowSandbox

pysnow = pytest.importorskip("pysnow")


def host(sandbox: ServiceNowSandbox) -> str:
    return sandbox.base_url.split("://", 1)[1]


def basic_client(sandbox: ServiceNowSandbox) -> Any:
    return pysnow.Client(
        host=host(sandbox), user=sandbox.username, password=sandbox.password, use_ssl=False
    )


def test_pysnow_query_returns_the_matching_records(servicenow_sandbox: ServiceNowSandbox) -> None:
    incidents = basic_client(servicenow_sandbox).resource(api_path="/table/incident")

    rows = list(incidents.get(query={"state": "2"}, limit=1000).all())

    expected = {
        r["sys_id"] for r in servicenow_sandbox.store.records("incident") if r["state"] == "2"
    }
    assert expected and {r["sys_id"] for r in rows} == expected


def test_pysnow_reads_one_record_by_sys_id(servicenow_sandbox: ServiceNowSandbox) -> None:
    record = servicenow_sandbox.store.records("incident")[5]
    incidents = basic_client(servicenow_sandbox).resource(api_path="/table/incident")

    by_query = incidents.get(query={"sys_id": record["sys_id"]}).one()
    by_path = incidents.request("GET", path_append=f"/{record['sys_id']}").one()
    with pytest.raises(requests.HTTPError) as missing:
        incidents.request("GET", path_append="/" + "0" * 32).one()

    assert by_query["number"] == by_path["number"] == record["number"]
    assert missing.value.response.status_code == 404
    assert missing.value.response.json()["error"]["message"] == "No Record found"


def test_pysnow_oauth_client_gets_and_refreshes_tokens(
    servicenow_sandbox: ServiceNowSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = servicenow_sandbox
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox is plain http
    updated: list[dict[str, Any]] = []
    client = pysnow.OAuthClient(
        client_id=sb.client_id,
        client_secret=sb.client_secret,
        token_updater=updated.append,
        host=host(sb),
        use_ssl=False,
    )
    token = client.generate_token(sb.username, sb.password)
    client.set_token(token)
    users = client.resource(api_path="/table/sys_user")
    assert len(list(users.get(query={}, limit=1000).all())) == len(sb.store.records("sys_user"))

    sb.auth.expire_tokens()
    client.set_token({**token, "expires_at": time.time() - 60})  # pysnow refreshes on expiry
    again = client.resource(api_path="/table/sys_user").get(query={}, limit=5).all()

    assert len(list(again)) == 5
    assert sb.auth.issued["password"] == 1 and sb.auth.issued["refresh_token"] == 1
    assert updated and updated[0]["access_token"] != token["access_token"]
    assert updated[0]["refresh_token"] == token["refresh_token"]
