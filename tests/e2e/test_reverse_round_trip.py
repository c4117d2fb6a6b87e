"""Both directions together: inbound load -> reverse sync -> inbound load -> sync sends nothing.

``pipelines/stripe_pipeline.py`` loads the sandbox's customers into DuckDB, a sync derives
metadata from them and writes it back (``sluice sync``), the inbound load brings the
written metadata and the change token back, and the next sync has nothing to send, also
when its state is lost (the change token tells it the target has these values).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pipelines import status, stripe_pipeline, sync
from sandbox.stripe import StripeSandbox

SYNC = """
name = "customer_domains"
mode = "update"

[source]
query = "SELECT * FROM customers WHERE email IS NOT NULL"
dataset = "stripe"
pipeline = "stripe"
token_column = "metadata__sluice_sync"

[target]
connector = "stripe"
object = "customer"

[key]
column = "id"
field = "id"

[[fields]]
source = "email"
target = "metadata.contact_domain"
transform = "email_domain"
"""


def updates(sandbox: StripeSandbox) -> Counter[str]:
    events = sandbox.store.listable("events")
    return Counter(e["data"]["object"]["id"] for e in events if e["type"] == "customer.updated")


@pytest.fixture
def checkout(tmp_path: Path, dlt_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "checkout"
    (root / "syncs").mkdir(parents=True)
    (root / "syncs" / "customer_domains.toml").write_text(SYNC)
    for name in ("DESTINATION__DUCKDB__CREDENTIALS", "SOURCES__STRIPE__STRIPE_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(root)
    return root


@pytest.mark.e2e
def test_round_trip_settles_instead_of_looping(
    checkout: Path,
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox = stripe_sandbox_factory(volume=6)
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", sandbox.api_key)
    assert stripe_pipeline.main(["--resources", "customers", "--no-models"]) == 0
    with_email = {c["id"] for c in sandbox.store.listable("customers") if c.get("email")}
    assert with_email

    capsys.readouterr()
    posts_before = sandbox.stats.snapshot()["requests"]
    assert sync.main(["customer_domains", "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert f"would send {len(with_email)} create(s)" in plan
    assert "metadata.contact_domain: null -> '" in plan
    assert sandbox.stats.snapshot()["requests"] == posts_before  # a dry run sends nothing

    before = updates(sandbox)
    assert sync.main(["customer_domains"]) == 0
    assert updates(sandbox) - before == Counter(dict.fromkeys(with_email, 1))

    assert stripe_pipeline.main(["--resources", "customers", "--no-models"]) == 0
    settled = updates(sandbox)
    assert sync.main(["customer_domains"]) == 0
    assert "sent 0 create(s), 0 update(s)" in capsys.readouterr().out
    # the state is lost: the inbound copy's change token shows the writes are there
    db = checkout / "stripe_data.duckdb"
    with duckdb.connect(str(db)) as con:
        tokens = con.execute(
            "SELECT count(*) FROM stripe.customers WHERE metadata__sluice_sync IS NOT NULL"
        ).fetchone()
        con.execute("DELETE FROM stripe._reverse_sync_state")
    assert tokens is not None and tokens[0] == len(with_email)
    assert sync.main(["customer_domains"]) == 0
    out = capsys.readouterr().out
    assert f"{len(with_email)} already written (change token)" in out
    assert updates(sandbox) == settled
    with duckdb.connect(str(db), read_only=True) as con:
        ledger = con.execute(
            "SELECT count(*) FROM stripe._sync_runs WHERE source = 'sync:customer_domains'"
        ).fetchone()
    assert ledger is not None and ledger[0] == 3
    capsys.readouterr()
    status.main(["--pipeline", "stripe"])
    report = capsys.readouterr().out.splitlines()
    line = next(row for row in report if row.startswith("sync:customer_domains"))
    assert line.split()[1:3] == ["customer", "Healthy"]
    # and the inbound pipeline still loads as before
    assert stripe_pipeline.main(["--resources", "customers", "--no-models"]) == 0
