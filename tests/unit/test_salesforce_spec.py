"""Salesforce's declaration on the kit's connector framework (no HTTP)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import requests

from sources.kit.connector import build_session
from sources.kit.errors import ConfigurationError, FatalError
from sources.kit.http import HttpSettings
from sources.salesforce.budget import ApiBudgetExceededError, BudgetGuard
from sources.salesforce.client import SalesforceClient
from sources.salesforce.errors import SalesforceRetryDecider
from sources.salesforce.helpers import object_spec, select_objects
from sources.salesforce.spec import SPEC

INSTANCE = "https://acme.my.salesforce.com"


def describe(name: str, *extra: dict[str, Any]) -> dict[str, Any]:
    base = [{"name": "Id", "type": "id"}, {"name": "SystemModstamp", "type": "datetime"}]
    return {"name": name, "fields": [*base, *extra]}


def client(share: float = 0.8, batch_size: int = 2000) -> SalesforceClient:
    session = build_session(SPEC, base_url=INSTANCE, settings=HttpSettings(), rng=random.Random(0))
    return SalesforceClient(
        base_url=INSTANCE,
        session=session,
        auth=None,
        budget=BudgetGuard(share),
        batch_size=batch_size,
    )


def answer(status: int, body: Any, usage: str) -> requests.Response:
    reply = requests.Response()
    reply.status_code = status
    reply._content = json.dumps(body).encode()
    reply.headers["Sforce-Limit-Info"] = usage
    reply.url = f"{INSTANCE}/services/data/v59.0/query"
    return reply


def test_the_session_retries_the_salesforce_way_and_sends_credentials_to_the_instance() -> None:
    session = client().session
    assert session.retry_policy is not None
    assert isinstance(session.retry_policy.decider, SalesforceRetryDecider)
    assert session.settings.allowed_hosts == ("acme.my.salesforce.com",)
    assert session.rate_limiter is not None and session.rate_limiter.current_rate() == 20.0


@pytest.mark.parametrize(
    ("fields", "deletes"),
    [
        (({"name": "IsDeleted", "type": "boolean"},), ("soft_delete_query", "audit_log", "relist")),
        ((), ("relist",)),
    ],
    ids=["recycle-bin", "no-recycle-bin"],
)
def test_a_described_object_declares_key_cursor_and_how_deletes_are_seen(
    fields: tuple[dict[str, Any], ...], deletes: tuple[str, ...]
) -> None:
    declared = object_spec(describe("Widget__c", *fields)).declaration()
    assert (declared.name, declared.primary_key, declared.cursor) == (
        "widget__c",
        ("Id",),
        "SystemModstamp",
    )
    assert declared.write_disposition == "merge" and declared.deletes == deletes


class DescribeOnly:
    """A stand-in client that only describes (building a source sends nothing else)."""

    def describe(self, name: str, *, label: str) -> dict[str, Any]:
        money = {"name": "Price__c", "type": "currency", "precision": 12, "scale": 3}
        return describe(name, money)


def test_the_source_builds_merge_resources_typed_from_describe() -> None:
    from sources.salesforce import salesforce_source

    source = salesforce_source(objects=["Widget__c"], client=DescribeOnly())
    table = source.resources["widget__c"].compute_table_schema()

    assert table["write_disposition"] == "merge"
    assert table["columns"]["Id"]["primary_key"] is True
    price = table["columns"]["Price__c"]
    assert (price["data_type"], price["precision"], price["scale"]) == ("decimal", 12, 3)


def test_objects_default_to_the_five_and_every_bad_name_is_listed_in_one_line() -> None:
    assert SPEC.resources_setting == "sources.salesforce.objects"
    assert select_objects(None) == list(SPEC.default_names())
    with pytest.raises(ConfigurationError) as caught:
        select_objects(["Account", "a b", "c;d"])
    assert str(caught.value) == (
        "sources.salesforce.objects holds invalid object name(s) ['a b', 'c;d']: use API "
        "names such as Account, Contact, My_Object__c"
    )


def test_every_query_asks_for_the_configured_page_size() -> None:
    assert client(batch_size=500).headers() == {"Sforce-Query-Options": "batchSize=500"}


@pytest.mark.parametrize(
    ("status", "body", "usage", "error", "text"),
    [
        (200, {"records": []}, "api-usage=60/100", ApiBudgetExceededError, "60 of 100 daily"),
        (
            403,
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}],
            "api-usage=100/100",
            FatalError,
            "daily API request limit is spent",
        ),
    ],
    ids=["budget-share-reached", "spent-limit-named-before-the-budget"],
)
def test_answers_go_through_the_error_raiser_then_the_budget_guard(
    status: int, body: Any, usage: str, error: type[Exception], text: str
) -> None:
    hooks = client(share=0.5).response_hooks()
    with pytest.raises(error, match=text):
        for hook in hooks:
            hook(answer(status, body, usage))


def test_a_success_under_the_share_passes_every_hook_and_is_recorded() -> None:
    sf = client(share=0.5)
    for hook in sf.response_hooks():
        hook(answer(200, {"records": []}, "api-usage=10/100"))
    assert sf.budget.last_usage is not None and sf.budget.last_usage.used == 10
