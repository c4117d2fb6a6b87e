"""ServiceNow's declaration on the kit's connector framework, and the client built from it."""

from __future__ import annotations

from typing import Optional

import pytest

from sources.kit.auth import BasicAuth
from sources.kit.errors import ConfigurationError
from sources.kit.pagination import LoopSafeHeaderLinkPaginator
from sources.servicenow.client import ServiceNowClient, make_client
from sources.servicenow.errors import raise_for_servicenow
from sources.servicenow.records import shape_live
from sources.servicenow.settings import DEFAULT_TABLES, LIST_PARAMS
from sources.servicenow.spec import SPEC, table_spec


def test_spec_declares_the_default_tables_under_the_tables_setting() -> None:
    assert SPEC.resources_setting == "sources.servicenow.tables"
    assert SPEC.default_names() == list(DEFAULT_TABLES)
    assert SPEC.resource("incident") == table_spec("incident")
    assert SPEC.raise_for_error is raise_for_servicenow
    assert SPEC.record_shaper is shape_live


@pytest.mark.parametrize("table", ["incident", "u_custom_table"], ids=["declared", "any-table"])
def test_every_table_is_merged_on_sys_id_and_follows_sys_updated_on(table: str) -> None:
    resource = table_spec(table)
    assert (resource.primary_key, resource.cursor) == (("sys_id",), "sys_updated_on")
    assert resource.write_disposition == "merge"
    assert resource.endpoint == f"/api/now/table/{table}"
    assert set(resource.deletes) == {"audit_log", "relist"}
    assert dict(resource.params) == dict(LIST_PARAMS)
    assert resource.columns["sys_updated_on"]["dedup_sort"] == "desc"
    # dlt writes into column hints: two runs must never share them
    assert table_spec(table).columns is not resource.columns


def test_make_client_builds_session_and_rest_client_from_the_spec() -> None:
    auth = BasicAuth("integration", "pw")
    client = make_client(base_url="https://dev1.service-now.com/", auth=auth, page_size=50)

    assert isinstance(client, ServiceNowClient) and client.page_size == 50
    assert client.auth is auth
    assert client.base_url == "https://dev1.service-now.com"
    assert client.session.settings.allowed_hosts == ("dev1.service-now.com",)
    assert client.session.settings.max_wait_s == 900.0
    assert client.session.rate_limiter is not None
    assert client.session.rate_limiter.current_rate() == 20.0
    rest = client.rest_client("incident")
    assert rest is client.rest_client("incident")
    assert (rest.headers or {}).get("Accept") == "application/json"
    assert rest.data_selector == "result"
    assert isinstance(rest.paginator, LoopSafeHeaderLinkPaginator)


@pytest.mark.parametrize(
    ("url", "line"),
    [
        (
            None,
            "ServiceNow instance missing: set sources.servicenow.base_url "
            "(https://<instance>.service-now.com) in .dlt/config.toml or "
            "SOURCES__SERVICENOW__BASE_URL",
        ),
        (
            "dev1.service-now.com",
            "sources.servicenow.base_url must start with http:// or https://, "
            "got 'dev1.service-now.com'",
        ),
    ],
    ids=["missing", "no-scheme"],
)
def test_unusable_instance_url_is_one_line(
    monkeypatch: pytest.MonkeyPatch, url: Optional[str], line: str
) -> None:
    monkeypatch.delenv("SOURCES__SERVICENOW__BASE_URL", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        make_client(base_url=url, auth=None)
    assert str(caught.value) == line
