"""Salesforce both ways: inbound load -> update sync -> inbound load -> sync sends nothing.

The sync reads the inbound ``salesforce.account`` table, writes ``BillingCity`` upper-cased
and the change token into ``Sync_Token__c``; the next inbound load brings both back with
``LastModifiedById`` of the integration user, and neither the diff nor (state lost) the
change token produce a write again.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines import salesforce_pipeline, sync
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.schema import SYNC_TOKEN_FIELD

SYNC = """
name = "upper_cities"
mode = "update"

[source]
query = "SELECT * FROM account WHERE billing_city IS NOT NULL"
dataset = "salesforce"
token_column = "sync_token__c"

[target]
connector = "salesforce"
object = "Account"
token_field = "Sync_Token__c"

[key]
column = "id"
field = "Id"

[[fields]]
source = "billing_city"
target = "BillingCity"
transform = "upper"
"""


@pytest.mark.e2e
def test_salesforce_round_trip_settles(
    salesforce_sandbox: SalesforceSandbox,
    tmp_path: Path,
    dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox = salesforce_sandbox
    for key, value in sandbox.jwt_credentials().items():
        monkeypatch.setenv(f"SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}", value)
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(db))
    (tmp_path / "syncs").mkdir()
    (tmp_path / "syncs" / "upper_cities.toml").write_text(SYNC)
    monkeypatch.chdir(tmp_path)
    with_city = {r["Id"] for r in sandbox.store.live("Account") if r.get("BillingCity")}
    assert with_city

    assert salesforce_pipeline.main(["--resources", "Account", "--no-models"]) == 0
    assert sync.main(["upper_cities"]) == 0
    written = {r["Id"]: r for r in sandbox.store.live("Account") if r["Id"] in with_city}
    assert all(r["BillingCity"] == r["BillingCity"].upper() for r in written.values())
    assert all(len(r[SYNC_TOKEN_FIELD]) == 16 for r in written.values())
    stamps = {rid: r["SystemModstamp"] for rid, r in written.items()}

    assert salesforce_pipeline.main(["--resources", "Account", "--no-models"]) == 0
    capsys.readouterr()
    assert sync.main(["upper_cities"]) == 0
    assert "sent 0 create(s), 0 update(s)" in capsys.readouterr().out
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM salesforce._reverse_sync_state")
    assert sync.main(["upper_cities"]) == 0
    assert f"{len(with_city)} already written (change token)" in capsys.readouterr().out
    after = {r["Id"]: r["SystemModstamp"] for r in sandbox.store.live("Account")}
    assert {rid: after[rid] for rid in stamps} == stamps  # nothing was written again
