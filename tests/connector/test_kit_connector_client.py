"""The connector builder's client and session over real loopback HTTP."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator
from requests import Response

from sources.kit.connector import ConnectorClient, ConnectorSpec, build_session
from sources.kit.errors import AuthenticationError, error_from_response
from sources.kit.redact import global_redactor
from sources.kit.settings import HttpSettings
from tests.connector._toy_server import ToyServer, running_server, send_json


def raise_for_toy(response: Response) -> None:
    if response.status_code == 401:
        raise AuthenticationError("Toy refused the key: check sources.toy.api_key")
    if response.status_code >= 400:
        raise error_from_response(response, global_redactor())


TOY = ConnectorSpec(
    name="toy",
    title="Toy",
    data_selector="items",
    paginator=lambda: JSONLinkPaginator(next_url_path="next"),
    raise_for_error=raise_for_toy,
    rate_limit=1000.0,
)


@dataclass
class ToyClient(ConnectorClient):
    spec: ClassVar[ConnectorSpec] = TOY

    def headers(self) -> dict[str, str]:
        return {"Toy-Version": "7"}


@pytest.fixture
def server() -> Iterator[ToyServer]:
    with running_server() as toy:
        yield toy


def toy_client(server: ToyServer, **settings: Any) -> ToyClient:
    base = server.url("")
    session = build_session(
        TOY,
        base_url=base,
        settings=HttpSettings(max_attempts=2, backoff_base=0.001, **settings),
        sleep=lambda s: None,
        rng=random.Random(1),
    )
    return ToyClient(base_url=base, session=session, auth=None)


def test_pages_follow_the_spec_paginator_and_selector(server: ToyServer) -> None:
    server.script("/things", send_json(200, {"items": [{"id": 1}], "next": server.url("/more")}))
    server.script("/more", send_json(200, {"items": [{"id": 2}], "next": None}))
    pages = [list(page) for page in toy_client(server).paginate("/things", label="things")]
    assert pages == [[{"id": 1}], [{"id": 2}]]
    assert server.hits("/things")[0].headers.get("Toy-Version") == "7"


def test_each_label_counts_its_own_requests_on_one_session(server: ToyServer) -> None:
    server.script("/things", send_json(200, {"items": [], "next": None}))
    client = toy_client(server)
    client.get("/things", label="a")
    client.get("/things", label="a")
    client.get("/things", label="b")
    assert client.rest_client("a") is client.rest_client("a")
    by_label = client.session.stats_by_label()
    assert (by_label["a"]["requests"], by_label["b"]["requests"]) == (2, 1)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthenticationError), (404, Exception)],
    ids=["auth-names-the-key", "other-error-is-kit-error"],
)
def test_errors_go_through_the_spec_raiser(server: ToyServer, status: int, kind: type) -> None:
    server.script("/things", send_json(status, {"error": "nope"}))
    with pytest.raises(kind) as caught:
        toy_client(server).get("/things", label="things")
    if status == 401:
        assert "sources.toy.api_key" in str(caught.value)


def test_credentials_only_go_to_the_base_url_host(server: ToyServer) -> None:
    client = toy_client(server)
    assert client.session.settings.allowed_hosts == ("127.0.0.1",)
