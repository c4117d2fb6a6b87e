"""The Salesforce sandbox's Bulk API 2.0 ingest jobs: simple-salesforce's bulk2 and raw HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.schema import EXTERNAL_ID_FIELD
from sandbox.salesforce.server import CONSUMER_KEY, USERNAME
from tests.sandbox.test_salesforce_simple_salesforce import LoopbackHttp

DATA = "/services/data/v59.0/"
Http = Callable[..., requests.Response]


@pytest.fixture
def sf(salesforce_sandbox: SalesforceSandbox) -> Iterator[Salesforce]:
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


@pytest.fixture
def http(salesforce_sandbox: SalesforceSandbox) -> Iterator[Http]:
    token = salesforce_sandbox.oauth.issue_access_token(CONSUMER_KEY, USERNAME, None, "raw")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        url = salesforce_sandbox.base_url + DATA + path
        return session.request(method, url, timeout=5, **kwargs)

    yield call
    session.close()


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def open_job(http: Http, csv_body: str, operation: str = "upsert") -> str:
    spec = {"object": "Account", "operation": operation, "contentType": "CSV"}
    if operation == "upsert":
        spec["externalIdFieldName"] = EXTERNAL_ID_FIELD
    job = http("POST", "jobs/ingest", json=spec).json()
    assert job["state"] == "Open" and job["contentUrl"].endswith(f"/{job['id']}/batches")
    upload = http("PUT", f"jobs/ingest/{job['id']}/batches", data=csv_body.encode())
    assert upload.status_code == 201
    return str(job["id"])


def test_bulk2_upsert_through_simple_salesforce_reports_each_record(
    sf: Any, salesforce_sandbox: SalesforceSandbox
) -> None:
    salesforce_sandbox.validation_rules.add(
        "Account", "No_Small", lambda r: (r["NumberOfEmployees"] or 0) < 2, "Too small"
    )
    records = [
        {EXTERNAL_ID_FIELD: "B-1", "Name": "Bulk one", "NumberOfEmployees": "10"},
        {EXTERNAL_ID_FIELD: "B-2", "Name": "Bulk two", "NumberOfEmployees": "1"},
        {EXTERNAL_ID_FIELD: "B-3", "Name": "", "NumberOfEmployees": "5"},
    ]

    [summary] = sf.bulk2.Account.upsert(
        records=records, external_id_field=EXTERNAL_ID_FIELD, wait=0.001
    )
    ok = rows(sf.bulk2.Account.get_successful_records(summary["job_id"]))
    failed = rows(sf.bulk2.Account.get_failed_records(summary["job_id"]))

    assert (summary["numberRecordsProcessed"], summary["numberRecordsFailed"]) == (3, 2)
    assert [(r[EXTERNAL_ID_FIELD], r["sf__Created"]) for r in ok] == [("B-1", "true")]
    stored = salesforce_sandbox.store.get("Account", ok[0]["sf__Id"])
    assert stored is not None and stored["NumberOfEmployees"] == 10  # typed from CSV
    assert [r["sf__Error"].split(":")[0] for r in failed] == [
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "REQUIRED_FIELD_MISSING",
    ]


def test_job_runs_after_the_configured_polls(
    http: Http, salesforce_sandbox: SalesforceSandbox
) -> None:
    job = open_job(http, f"{EXTERNAL_ID_FIELD},Name\nP-1,Polled\n")

    closed = http("PATCH", f"jobs/ingest/{job}", json={"state": "UploadComplete"}).json()
    states = [http("GET", f"jobs/ingest/{job}").json()["state"] for _ in range(3)]

    assert closed["state"] == "UploadComplete"
    assert states == ["InProgress", "InProgress", "JobComplete"]  # fixture: 2 polls
    assert [r["Name"] for r in salesforce_sandbox.store.live("Account") if r["Name"] == "Polled"]


def test_aborted_job_writes_nothing_and_leaves_rows_unprocessed(
    http: Http, salesforce_sandbox: SalesforceSandbox
) -> None:
    job = open_job(http, f"{EXTERNAL_ID_FIELD},Name\nA-1,Aborted\n")
    http("PATCH", f"jobs/ingest/{job}", json={"state": "UploadComplete"})

    aborted = http("PATCH", f"jobs/ingest/{job}", json={"state": "Aborted"}).json()
    unprocessed = http("GET", f"jobs/ingest/{job}/unprocessedrecords/")

    assert aborted["state"] == "Aborted" and aborted["numberRecordsProcessed"] == 0
    assert rows(unprocessed.text) == [{EXTERNAL_ID_FIELD: "A-1", "Name": "Aborted"}]
    assert unprocessed.headers["Content-Type"].startswith("text/csv")
    assert not [r for r in salesforce_sandbox.store.live("Account") if r["Name"] == "Aborted"]


def test_a_job_can_be_made_to_fail(http: Http, salesforce_sandbox: SalesforceSandbox) -> None:
    salesforce_sandbox.api.ingest.end_next = ("Failed", "InvalidBatch : injected")
    job = open_job(http, f"{EXTERNAL_ID_FIELD},Name\nX-1,Failing\n")
    http("PATCH", f"jobs/ingest/{job}", json={"state": "UploadComplete"})

    final = [http("GET", f"jobs/ingest/{job}").json() for _ in range(3)][-1]
    results = http("GET", f"jobs/ingest/{job}/successfulResults/")

    assert (final["state"], final["errorMessage"]) == ("Failed", "InvalidBatch : injected")
    assert results.status_code == 400


def test_update_nulls_with_na_and_delete_by_id(
    http: Http, salesforce_sandbox: SalesforceSandbox
) -> None:
    target = salesforce_sandbox.store.live("Account")[0]
    update = open_job(http, f"Id,Phone,Website\n{target['Id']},#N/A,\n", operation="update")
    http("PATCH", f"jobs/ingest/{update}", json={"state": "UploadComplete"})
    [http("GET", f"jobs/ingest/{update}") for _ in range(3)]
    after = salesforce_sandbox.store.get("Account", target["Id"])
    delete = open_job(http, f"Id\n{target['Id']}\n", operation="delete")
    http("PATCH", f"jobs/ingest/{delete}", json={"state": "UploadComplete"})
    [http("GET", f"jobs/ingest/{delete}") for _ in range(3)]

    assert after is not None and after["Phone"] is None and after["Website"] == target["Website"]
    gone = salesforce_sandbox.store.get("Account", target["Id"])
    assert gone is not None and gone["IsDeleted"] is True
    assert http("DELETE", f"jobs/ingest/{delete}").status_code == 204
    assert http("GET", f"jobs/ingest/{delete}").status_code == 404


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"object": "Nope", "operation": "insert"}, "Invalid object", id="object"),
        pytest.param({"object": "Account", "operation": "merge"}, "Invalid operation", id="op"),
        pytest.param({"object": "Account", "operation": "upsert"}, "External ID", id="no-key"),
    ],
)
def test_bad_job_specs_are_refused(http: Http, spec: dict[str, str], message: str) -> None:
    answer = http("POST", "jobs/ingest", json=spec)

    assert answer.status_code == 400 and message in answer.json()[0]["message"]


def test_upload_to_a_closed_job_is_refused(http: Http) -> None:
    job = open_job(http, f"{EXTERNAL_ID_FIELD},Name\nC-1,Closed\n")
    http("PATCH", f"jobs/ingest/{job}", json={"state": "UploadComplete"})

    again = http("PUT", f"jobs/ingest/{job}/batches", data=b"Name\nx\n")

    assert again.status_code == 400 and again.json()[0]["errorCode"] == "INVALIDJOBSTATE"
