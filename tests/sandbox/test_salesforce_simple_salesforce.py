"""simple-salesforce (the most used Python SDK) against the Salesforce emulator.

simple-salesforce always builds ``https://<instance>/...`` URLs (``api.py``:
``self.base_url = f'https://{self.sf_instance}/services/data/v...'``). The emulator
speaks plain HTTP on loopback, so the SDK gets a ``requests`` session whose adapter for
``https://127.0.0.1:<port>/`` sends the same request over ``http://`` instead: nothing of
the SDK is patched, and every URL it builds is the one it would send to a real org.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import ColumnDelimiter, LineEnding

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.server import CONSUMER_KEY, USERNAME
from sandbox.salesforce.wide import WIDE_OBJECT


class LoopbackHttp(HTTPAdapter):
    """Sends ``https://`` requests to the emulator as ``http://`` (no TLS on loopback)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        request.url = "http://" + str(request.url).removeprefix("https://")
        return super().send(request, *args, **kwargs)


@pytest.fixture
def sf(salesforce_sandbox: SalesforceSandbox) -> Iterator[Salesforce]:
    """A simple-salesforce client on a session the emulator issued (JWT bearer)."""
    token = salesforce_sandbox.oauth.issue_access_token(CONSUMER_KEY, USERNAME, None, "sdk")
    session = requests.Session()
    session.mount(f"https://{salesforce_sandbox.base_url.removeprefix('http://')}/", LoopbackHttp())
    yield Salesforce(
        instance_url=salesforce_sandbox.base_url,
        session_id=token,
        session=session,
        version="59.0",
    )
    session.close()


def test_query_sends_the_documented_trailing_slash_form(
    sf: Salesforce, salesforce_sandbox: SalesforceSandbox
) -> None:
    result = sf.query("SELECT Id, BillingCity, BillingAddress FROM Account")

    assert result["done"] is False and len(result["records"]) == 10  # emulator pages of 10
    first = result["records"][0]
    assert first["BillingAddress"]["city"] == first["BillingCity"] is not None  # compound
    assert sf.base_url.endswith("/services/data/v59.0/")


def test_query_all_follows_next_records_url_to_every_record(
    sf: Salesforce, salesforce_sandbox: SalesforceSandbox
) -> None:
    store = salesforce_sandbox.store
    gone = store.live("Contact")[0]["Id"]
    store.delete("Contact", gone)

    live = sf.query_all("SELECT Id FROM Contact")
    everything = sf.query_all("SELECT Id, IsDeleted FROM Contact", include_deleted=True)

    assert {r["Id"] for r in live["records"]} == {r["Id"] for r in store.live("Contact")}
    assert live["totalSize"] == len(live["records"]) > 10
    deleted = [r["Id"] for r in everything["records"] if r["IsDeleted"]]
    assert gone in deleted and gone not in {r["Id"] for r in live["records"]}


def test_describe_carries_types_precision_and_scale(sf: Any) -> None:  # SFType by __getattr__
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}

    assert (fields["Amount"]["type"], fields["Amount"]["precision"]) == ("currency", 18)
    assert (fields["Unit_Price__c"]["scale"], fields["Name"]["scale"]) == (4, 0)
    assert len(getattr(sf, WIDE_OBJECT).describe()["fields"]) > 500


@pytest.mark.parametrize(
    ("delimiter", "ending", "char"),
    [("COMMA", "LF", ","), ("SEMICOLON", "CRLF", ";")],
    ids=["comma-lf", "semicolon-crlf"],
)
def test_bulk2_query_reads_every_record_by_locator(
    sf: Salesforce,
    salesforce_sandbox: SalesforceSandbox,
    delimiter: str,
    ending: str,
    char: str,
) -> None:
    bulk2: Any = sf.bulk2  # simple-salesforce types __getattr__ as a union
    chunks = list(
        bulk2.Contact.query(
            "SELECT Id, LastName FROM Contact",
            max_records=7,
            column_delimiter=ColumnDelimiter[delimiter],
            line_ending=LineEnding[ending],
            wait=0,
        )
    )

    rows = [
        row
        for chunk in chunks
        for row in csv.DictReader(io.StringIO(str(chunk), newline=""), delimiter=char)
    ]
    assert len(chunks) > 1
    expected = {r["Id"]: r["LastName"] for r in salesforce_sandbox.store.live("Contact")}
    assert {r["Id"]: r["LastName"] for r in rows} == expected
