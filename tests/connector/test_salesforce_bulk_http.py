"""Bulk API 2.0, wide queries and auth rules over real HTTP against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.server import CONSUMER_KEY, USERNAME
from sandbox.salesforce.wide import WIDE_OBJECT, wide_values
from sources.kit.errors import AuthenticationError
from sources.kit.http import HttpSettings
from sources.salesforce.auth import JWT_LIFETIME_S
from sources.salesforce.bulk import BulkJobEnded, BulkQuery
from sources.salesforce.client import ClientOptions, SalesforceClient, connect
from sources.salesforce.helpers import build_soql, object_spec
from sources.salesforce.settings import data_path
from tests.connector.test_salesforce_connector_http import Sleeps, credentials

TRICKY = 'a,b;c|d^e`f\tg "quoted"\r\nsecond line'


def client_for(
    sandbox: SalesforceSandbox, values: dict[str, str] | None = None
) -> SalesforceClient:
    options = ClientOptions(
        rate_limit=1000,
        settings=HttpSettings(max_attempts=3, backoff_base=0.01, backoff_cap=0.02),
    )
    return connect(credentials(values or sandbox.jwt_credentials()), options, sleep=Sleeps())


@pytest.mark.parametrize(
    ("delimiter", "ending"),
    [("COMMA", "LF"), ("COMMA", "CRLF"), ("CARET", "CRLF"), ("TAB", "LF"), ("PIPE", "CRLF")],
    ids=["comma-lf", "comma-crlf", "caret-crlf", "tab-lf", "pipe-crlf"],
)
def test_bulk_results_parse_by_the_job_delimiter_and_line_ending_across_locators(
    salesforce_sandbox: SalesforceSandbox, delimiter: str, ending: str
) -> None:
    store = salesforce_sandbox.store
    target = store.live("Contact")[0]["Id"]
    store.update("Contact", target, Title=TRICKY)
    client = client_for(salesforce_sandbox)
    bulk = BulkQuery(
        client, sleep=Sleeps(), max_records=7, column_delimiter=delimiter, line_ending=ending
    )

    chunks = list(bulk.pages("SELECT Id, Title FROM Contact", label="contact"))

    rows = {r["Id"]: r["Title"] for chunk in chunks for r in chunk}
    assert len(chunks) > 1 and set(rows) == {r["Id"] for r in store.live("Contact")}
    assert rows[target] == TRICKY


def test_bulk_results_come_gzip_compressed_and_read_the_same(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    client = client_for(salesforce_sandbox)
    bulk = BulkQuery(client, sleep=Sleeps())
    rows = [r for chunk in bulk.pages("SELECT Id FROM Lead", label="lead") for r in chunk]
    token = access_token(client)

    raw = requests.get(
        f"{client.instance_url}{data_path()}/jobs/query/{bulk_job_id(salesforce_sandbox)}/results",
        headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
        timeout=5,
        stream=True,
    )

    assert raw.headers["Content-Encoding"] == "gzip"
    assert raw.raw.read()[:2] == b"\x1f\x8b"  # the gzip magic number on the wire
    assert {r["Id"] for r in rows} == {r["Id"] for r in salesforce_sandbox.store.live("Lead")}


def access_token(client: SalesforceClient) -> str:
    auth: Any = client.auth  # the kit's OAuth flow behind requests' AuthBase
    return str(auth.token().access_token)


def bulk_job_id(sandbox: SalesforceSandbox) -> str:
    return f"750{sandbox.api.bulk.created:015d}"


@pytest.mark.parametrize(
    ("state", "message"),
    [("Failed", "InvalidBatch : Failed to process query:\n timeout"), ("Aborted", "")],
    ids=["failed", "aborted"],
)
def test_a_job_that_ends_failed_or_aborted_raises_one_line_with_state_and_reason(
    salesforce_sandbox: SalesforceSandbox, state: str, message: str
) -> None:
    salesforce_sandbox.api.bulk.end_next = (state, message)
    bulk = BulkQuery(client_for(salesforce_sandbox), sleep=Sleeps())

    with pytest.raises(BulkJobEnded) as caught:
        list(bulk.pages("SELECT Id FROM Contact", label="contact"))

    text = str(caught.value)
    assert f"ended {state}" in text and "\n" not in text and "contact" in text
    assert ("Failed to process query: timeout" in text) is (state == "Failed")


def test_compound_fields_fail_the_job_and_the_connector_query_leaves_them_out(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    client = client_for(salesforce_sandbox)
    bulk = BulkQuery(client, sleep=Sleeps())
    with pytest.raises(BulkJobEnded, match="compound data not supported"):
        list(bulk.pages("SELECT Id, BillingAddress FROM Account", label="account"))

    spec = object_spec(client.describe("Account", label="account"))
    soql = build_soql(spec, None, ordered=False)
    rows = [r for chunk in bulk.pages(soql, label="account") for r in chunk]

    assert "BillingAddress" not in soql and "BillingCity" in soql and "ORDER BY" not in soql
    assert len(rows) == len(salesforce_sandbox.store.live("Account"))
    assert salesforce_sandbox.api.bulk.ordered == 0


def test_a_wide_object_query_passes_the_url_limit_and_returns_every_field(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    store = salesforce_sandbox.store
    made = [store.create(WIDE_OBJECT, Name=f"Wide {n}", **wide_values(n)) for n in range(25)]
    client = client_for(salesforce_sandbox)
    spec = object_spec(client.describe(WIDE_OBJECT, label="wide"))
    soql = build_soql(spec, None)
    token = access_token(client)

    whole = requests.get(
        f"{client.instance_url}{data_path()}/query",
        params={"q": soql},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    rows = [r for page in client.query(soql, label="wide") for r in page]

    assert whole.status_code == 414  # the whole field list in one URL is refused
    assert len(spec.fields) > 500 and [r["Id"] for r in rows] == [m["Id"] for m in made]
    by_id = {r["Id"]: r for r in rows}
    for record in made:
        assert {f: by_id[record["Id"]][f] for f in spec.fields} == {
            f: record[f] for f in spec.fields
        }


def test_headers_that_push_the_request_past_the_limit_get_431(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    answer = requests.get(
        f"{salesforce_sandbox.base_url}{data_path()}/query",
        params={"q": "SELECT Id FROM Account"},
        headers={"X-Padding": "x" * 16_300},
        timeout=5,
    )
    assert answer.status_code == 431


def assertion(sandbox: SalesforceSandbox, **claims: object) -> str:
    now = int(sandbox.oauth.clock())
    body = {"iss": CONSUMER_KEY, "sub": USERNAME, "aud": sandbox.base_url, "exp": now + 60}
    body.update(claims)
    return jwt.encode(body, sandbox.keys.private_pem, algorithm="RS256")


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"aud": "https://login.salesforce.com"}, None),
        ({"aud": "https://test.salesforce.com"}, None),
        ({"aud": "instance"}, "audience is invalid"),
        ({"sub": "nobody@example.com"}, "user hasn't approved this consumer"),
        ({"exp": -30}, "assertion expired"),
        ({"exp": 600}, "assertion lives too long"),
        ({"exp": 170}, None),
    ],
    ids=[
        "login-host",
        "test-host",
        "instance-url",
        "unknown-user",
        "expired",
        "past-3-minutes",
        "within-3-minutes",
    ],
)
def test_jwt_assertions_are_checked_as_salesforce_does(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    claims: dict[str, object],
    description: str | None,
) -> None:
    sandbox = salesforce_sandbox_factory(instance_host="localhost")
    now = int(sandbox.oauth.clock())
    if claims.get("aud") == "instance":
        claims["aud"] = sandbox.instance_url
    if "exp" in claims:
        claims["exp"] = now + int(claims["exp"])  # type: ignore[call-overload]

    answer = requests.post(
        sandbox.token_url,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": assertion(sandbox, **claims),
        },
        timeout=5,
    )

    if description is None:
        assert answer.status_code == 200 and answer.json()["instance_url"] == sandbox.instance_url
    else:
        assert answer.status_code == 400
        assert answer.json() == {"error": "invalid_grant", "error_description": description}


def test_the_connector_signs_assertions_salesforce_accepts(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
) -> None:
    sandbox = salesforce_sandbox_factory(instance_host="localhost")
    values = sandbox.jwt_credentials()
    values.pop("audience")  # the default: https://login.salesforce.com

    client = client_for(sandbox, values)

    assert JWT_LIFETIME_S <= 180
    assert client.instance_url == sandbox.instance_url != sandbox.base_url
    assert client.describe("Lead", label="lead")["name"] == "Lead"


def test_an_unknown_user_fails_with_one_line_naming_the_subject_setting(
    salesforce_sandbox: SalesforceSandbox,
) -> None:
    values = {**salesforce_sandbox.jwt_credentials(), "subject": "nobody@example.com"}

    with pytest.raises(AuthenticationError) as caught:
        client_for(salesforce_sandbox, values)

    assert "\n" not in str(caught.value) and "user hasn't approved this consumer" in str(
        caught.value
    )


def test_rotated_refresh_tokens_are_stored_and_the_newest_is_used_next_run(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox], tmp_path: Path
) -> None:
    sandbox = salesforce_sandbox_factory(rotate_refresh_tokens=True)
    values = {**sandbox.refresh_credentials(), "token_store_dir": str(tmp_path)}
    first = values["refresh_token"]

    client_for(sandbox, values).describe("Lead", label="lead")  # run 1 rotates the token
    active = sandbox.oauth.active_refresh_tokens(CONSUMER_KEY)
    client_for(sandbox, values).describe("Lead", label="lead")  # run 2, same configuration

    assert first not in active and len(active) == 1
    assert sandbox.oauth.active_refresh_tokens(CONSUMER_KEY) != active  # rotated again
    assert first not in " ".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
