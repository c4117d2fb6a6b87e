"""Unit tests of the Stripe client's page handling, on bare responses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sources.kit.connector import build_session
from sources.kit.errors import FatalError
from sources.kit.http import HttpSettings
from sources.stripe.client import StripeClient, make_auth
from sources.stripe.spec import SPEC
from tests.unit._kit_fakes import ScriptedAdapter, Step, make_response

BASE = "https://api.stripe.com"


def client_answering(steps: list[Step]) -> tuple[StripeClient, ScriptedAdapter]:
    session = build_session(SPEC, base_url=BASE, settings=HttpSettings(), rate_limit=1000.0)
    adapter = ScriptedAdapter(steps)
    session.mount("https://", adapter)
    client = StripeClient(base_url=BASE, session=session, auth=make_auth("sk_test_pages123"))
    return client, adapter


def first_page_via(kind: str, client: StripeClient) -> Iterator[Any]:
    if kind == "paginate":
        return client.list_pages("/v1/customers", label="customers")
    return iter([client.fetch_page("/v1/customers", label="customers", params={"limit": 100})])


@pytest.mark.parametrize("kind", ["paginate", "single-page"], ids=["rest-client", "fetch-page"])
def test_html_answer_is_a_clear_fatal_error(kind: str) -> None:
    client, _ = client_answering(
        [make_response(200, "<html>proxy login</html>", {"Content-Type": "text/html"})]
    )

    with pytest.raises(FatalError, match="body that is not JSON"):
        next(first_page_via(kind, client))


def test_success_without_a_data_list_is_refused() -> None:
    client, _ = client_answering([make_response(200, {"object": "customer", "id": "cus_1"})])

    with pytest.raises(FatalError, match="without a list in 'data'"):
        client.fetch_page("/v1/customers", label="customers", params={})


def test_pages_follow_starting_after_and_carry_pinned_headers() -> None:
    page1 = {"object": "list", "data": [{"id": "cus_2"}, {"id": "cus_1"}], "has_more": True}
    page2 = {"object": "list", "data": [{"id": "cus_0"}], "has_more": False}
    client, adapter = client_answering([make_response(200, page1), make_response(200, page2)])

    pages = list(client.list_pages("/v1/customers", label="customers"))

    assert [[o["id"] for o in p] for p in pages] == [["cus_2", "cus_1"], ["cus_0"]]
    assert "starting_after=cus_1" in (adapter.requests[1].url or "")
    assert adapter.requests[0].headers["Stripe-Version"]
    assert adapter.requests[0].headers["Authorization"] == "Bearer sk_test_pages123"
