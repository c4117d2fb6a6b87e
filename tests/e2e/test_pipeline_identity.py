"""One pipeline per account, and state that stays with its checkout (issue 14, item 4).

Every test runs ``pipelines/stripe_pipeline.py`` in-process from a temporary working directory,
against sandboxes standing in for accounts: another seed is another account (its own
``acct_`` id and object ids), a live key on the same sandbox is the same account's live
mode.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from pipelines import stripe_pipeline
from pipelines.common import LOCAL_PIPELINES_DIR
from pipelines.identity import STATE_KEY
from sandbox.stripe import StripeSandbox
from tests.stripe_compare import listed_ids

Factory = Callable[..., StripeSandbox]
CONNECTION_ENV = (
    "SOURCES__STRIPE__BASE_URL",
    "SOURCES__STRIPE__API_KEY",
    "SOURCES__STRIPE__STRIPE_ACCOUNT",
    "SOURCES__STRIPE__RESOURCES",
    "SOURCES__STRIPE__START_DATE",
    "DESTINATION__DUCKDB__CREDENTIALS",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No connection or destination settings inherited from the environment."""
    for name in CONNECTION_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    return monkeypatch


@pytest.fixture
def checkout(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Path:
    """A working directory of its own: the default DuckDB files land here."""
    root = tmp_path / "checkout"
    root.mkdir()
    clean_env.chdir(root)
    return root


def point(monkeypatch: pytest.MonkeyPatch, sandbox: StripeSandbox, key: str = "") -> None:
    """Points the real-API code path (no --sandbox) at ``sandbox``."""
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", key or sandbox.api_key)


def ids(db: Path, dataset: str, table: str) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0] for r in con.execute(f'SELECT id FROM {dataset}."{table}"').fetchall()}


def count(db: Path, sql: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute(sql).fetchone()[0])


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1, err
    return err[0]


def listings(sandbox: StripeSandbox) -> dict[str, int]:
    """Requests other than the credential check (``/v1/customers?limit=1``) and the account."""
    by_path = dict(sandbox.stats.by_path)
    by_path.pop("/v1/account", None)
    if by_path.get("/v1/customers") == 1:
        by_path.pop("/v1/customers")
    return by_path


# --- sandbox runs apart from the real account ----------------------------------------------


@pytest.mark.e2e
def test_quick_start_then_the_real_api_lists_the_whole_real_account(
    checkout: Path,
    dlt_home: Path,
    stripe_sandbox_factory: Factory,
    clean_env: pytest.MonkeyPatch,
) -> None:
    # README: quick start with --sandbox, then the real API in the same checkout.
    assert stripe_pipeline.main(["--sandbox", "--sandbox-volume", "5"]) == 0
    real = stripe_sandbox_factory(seed=7, volume=6, api_keys=("sk_live_standin_for_real",))
    point(clean_env, real)

    assert stripe_pipeline.main(["--resources", "customers,charges"]) == 0

    real_db = checkout / "stripe_data.duckdb"
    for resource in ("customers", "charges"):
        assert ids(real_db, "stripe", resource) == listed_ids(real, resource), resource
    sandbox_db = checkout / "stripe_sandbox_data.duckdb"
    emulator = ids(sandbox_db, "stripe_sandbox", "customers")
    assert emulator and not emulator & ids(real_db, "stripe", "customers")
    pipelines = {p.name for p in (dlt_home / "pipelines").iterdir()}
    assert {"stripe", "stripe_sandbox"} <= pipelines


# --- another account is refused before any listing ----------------------------------------


def other_account(first: StripeSandbox, factory: Factory, mp: pytest.MonkeyPatch) -> StripeSandbox:
    second = factory(seed=8, volume=3)
    point(mp, second)
    return second


def live_key(first: StripeSandbox, factory: Factory, mp: pytest.MonkeyPatch) -> StripeSandbox:
    point(mp, first, "sk_live_same_account")
    return first


def connected_account(
    first: StripeSandbox, factory: Factory, mp: pytest.MonkeyPatch
) -> StripeSandbox:
    mp.setenv("SOURCES__STRIPE__STRIPE_ACCOUNT", "acct_1Connected000001")
    return first


@pytest.mark.e2e
@pytest.mark.parametrize(
    "change, expected",
    [
        (other_account, "this run is account acct_"),
        (live_key, "(live) from"),
        (connected_account, "Stripe-Account acct_1Connected000001"),
    ],
    ids=["other-account-and-url", "test-to-live-key", "connected-account"],
)
def test_another_account_stops_the_run_before_any_listing(
    checkout: Path,
    dlt_home: Path,
    stripe_sandbox_factory: Factory,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[StripeSandbox, Factory, pytest.MonkeyPatch], StripeSandbox],
    expected: str,
) -> None:
    first = stripe_sandbox_factory(
        seed=3, volume=4, api_keys=("sk_test_first_account", "sk_live_same_account")
    )
    point(clean_env, first, "sk_test_first_account")
    assert stripe_pipeline.main(["--resources", "customers"]) == 0
    db = checkout / "stripe_data.duckdb"
    loaded = ids(db, "stripe", "customers")
    server = change(first, stripe_sandbox_factory, clean_env)
    server.stats.reset()
    capsys.readouterr()

    assert stripe_pipeline.main(["--resources", "customers"]) == 1

    line = error_line(capsys)
    assert line.startswith("error: pipeline 'stripe' holds account acct_"), line
    assert "(test) from http://127.0.0.1:" in line and expected in line
    assert "--pipeline-name NAME" in line and "--full-refresh" in line
    assert "sk_test_first_account" not in line and "sk_live_same_account" not in line
    assert listings(server) == {}  # only the credential check and GET /v1/account
    assert ids(db, "stripe", "customers") == loaded
    state = json.dumps(dlt.attach("stripe").state, default=str)
    assert "sk_test_first_account" not in state and "first_account" not in state


@pytest.mark.e2e
def test_a_fresh_checkout_sees_the_account_recorded_in_the_destination(
    tmp_path: Path,
    checkout: Path,
    stripe_sandbox_factory: Factory,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shared = tmp_path / "warehouse.duckdb"  # stands in for a shared warehouse
    clean_env.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(shared))
    clean_env.setenv("DLT_DATA_DIR", str(tmp_path / "first_machine"))
    point(clean_env, stripe_sandbox_factory(seed=3, volume=4))
    assert stripe_pipeline.main(["--resources", "customers"]) == 0
    clean_env.setenv("DLT_DATA_DIR", str(tmp_path / "second_machine"))  # no local state
    second = stripe_sandbox_factory(seed=8, volume=3)
    point(clean_env, second)
    capsys.readouterr()

    assert stripe_pipeline.main(["--resources", "customers"]) == 1

    assert "pipeline 'stripe' holds account acct_" in error_line(capsys)
    assert listings(second) == {}


@pytest.mark.e2e
def test_the_ways_out_a_second_pipeline_or_a_full_refresh(
    checkout: Path,
    dlt_home: Path,
    stripe_sandbox_factory: Factory,
    clean_env: pytest.MonkeyPatch,
) -> None:
    first = stripe_sandbox_factory(seed=3, volume=4)
    point(clean_env, first)
    assert stripe_pipeline.main(["--resources", "customers"]) == 0
    second = stripe_sandbox_factory(seed=8, volume=3)
    point(clean_env, second)

    assert stripe_pipeline.main(["--resources", "customers", "--pipeline-name", "stripe_eu"]) == 0
    eu = checkout / "stripe_eu_data.duckdb"
    assert ids(eu, "stripe_eu", "customers") == listed_ids(second, "customers")
    assert ids(checkout / "stripe_data.duckdb", "stripe", "customers") == listed_ids(
        first, "customers"
    )

    # refreshing a subset is not a rebuild: the other resources still hold the first account
    assert stripe_pipeline.main(["--resources", "customers", "--full-refresh"]) == 1
    assert stripe_pipeline.main(["--full-refresh"]) == 0
    second.stats.reset()
    assert stripe_pipeline.main(["--resources", "customers"]) == 0  # now the second account's
    assert ids(checkout / "stripe_data.duckdb", "stripe", "customers") == listed_ids(
        second, "customers"
    )
    assert second.stats.by_path["/v1/customers"] == 1  # incremental: from the events feed
    recorded = dlt.attach("stripe").state[STATE_KEY]  # type: ignore[typeddict-item]
    assert recorded["account_id"] == second.store.factory.account.id


@pytest.mark.e2e
@pytest.mark.parametrize(
    "name", ["Stripe-EU", "stripe/eu", "1stripe"], ids=["upper-dash", "slash", "digit-first"]
)
def test_a_pipeline_name_that_cannot_name_a_dataset_is_one_line(
    checkout: Path, dlt_home: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stripe_pipeline.main(["--sandbox", "--pipeline-name", name]) == 1
    assert "--pipeline-name" in error_line(capsys)


# --- state stays with its checkout ---------------------------------------------------------


def run_in(directory: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str] | None = None) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(directory)
    return stripe_pipeline.main(argv or ["--resources", "customers"])


@pytest.mark.e2e
def test_each_checkout_keeps_its_own_state_and_file(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, stripe_sandbox: StripeSandbox
) -> None:
    clean_env.delenv("DLT_DATA_DIR", raising=False)  # dlt's default: one folder per user
    point(clean_env, stripe_sandbox)
    first, second = tmp_path / "clone1", tmp_path / "clone2"

    assert run_in(first, clean_env) == 0
    assert run_in(second, clean_env) == 0

    for clone in (first, second):
        state = clone / LOCAL_PIPELINES_DIR / "stripe" / "state.json"
        assert state.is_file(), clone
        assert json.loads(state.read_text())["_local"]["initial_cwd"] == str(clone)
        db = clone / "stripe_data.duckdb"
        assert ids(db, "stripe", "customers") == listed_ids(stripe_sandbox, "customers")
    shutil.rmtree(first)
    assert run_in(second, clean_env) == 0
    assert run_in(second, clean_env, ["--resources", "customers", "--full-refresh"]) == 0


def deleted_clone(tmp_path: Path, mp: pytest.MonkeyPatch) -> Path:
    other = tmp_path / "clone1"
    assert run_in(other, mp) == 0
    return other


def failed_run_elsewhere(tmp_path: Path, mp: pytest.MonkeyPatch) -> Path:
    other = tmp_path / "somewhere_else"
    mp.setenv("SOURCES__STRIPE__API_KEY", "sk_test_rejected_key_0001")
    assert run_in(other, mp) == 1
    mp.delenv("SOURCES__STRIPE__API_KEY")
    return other


@pytest.mark.e2e
@pytest.mark.parametrize(
    "first_run",
    [deleted_clone, failed_run_elsewhere],
    ids=["deleted-clone", "failed-run-elsewhere"],
)
def test_shared_dlt_data_dir_never_pins_another_directory(
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    stripe_sandbox: StripeSandbox,
    first_run: Callable[[Path, pytest.MonkeyPatch], Path],
) -> None:
    clean_env.setenv("DLT_DATA_DIR", str(tmp_path / "shared_dlt"))  # e.g. in a shell profile
    point(clean_env, stripe_sandbox)
    other = first_run(tmp_path, clean_env)
    point(clean_env, stripe_sandbox)
    checkout = tmp_path / "clone2"

    assert run_in(checkout, clean_env) == 0

    db = checkout / "stripe_data.duckdb"
    assert ids(db, "stripe", "customers") == listed_ids(stripe_sandbox, "customers")
    shutil.rmtree(other)
    assert run_in(checkout, clean_env) == 0
    assert run_in(checkout, clean_env, ["--resources", "customers", "--full-refresh"]) == 0
    assert ids(db, "stripe", "customers") == listed_ids(stripe_sandbox, "customers")


@pytest.mark.e2e
def test_a_deleted_database_file_is_loaded_again(
    checkout: Path, dlt_home: Path, stripe_sandbox: StripeSandbox, clean_env: pytest.MonkeyPatch
) -> None:
    point(clean_env, stripe_sandbox)
    assert stripe_pipeline.main(["--resources", "customers"]) == 0
    db = checkout / "stripe_data.duckdb"
    db.unlink()

    assert stripe_pipeline.main(["--resources", "customers"]) == 0

    assert ids(db, "stripe", "customers") == listed_ids(stripe_sandbox, "customers")


# --- --full-refresh --resources refreshes only what it names -------------------------------


def resource_state(resource: str) -> Any:
    return dlt.attach("stripe").state["sources"]["stripe"]["resources"].get(resource)


@pytest.mark.e2e
@pytest.mark.parametrize("refreshed", ["customers", "charges"], ids=["customers", "charges"])
def test_full_refresh_of_some_resources_keeps_the_others(
    checkout: Path,
    dlt_home: Path,
    stripe_sandbox_factory: Factory,
    clean_env: pytest.MonkeyPatch,
    refreshed: str,
) -> None:
    sandbox = stripe_sandbox_factory(seed=5, volume=12)
    sandbox.set_faults(malformed_rate=0.3)
    point(clean_env, sandbox)
    loaded = ["customers", "charges", "products"]
    assert stripe_pipeline.main(["--resources", ",".join(loaded)]) == 0
    db = checkout / "stripe_data.duckdb"
    kept = [r for r in loaded if r != refreshed]
    rows = {r: ids(db, "stripe", r) for r in kept}
    states = {r: resource_state(r) for r in kept}
    dead_sql = "SELECT COUNT(*) FROM stripe._dead_letters WHERE resource = '{}'"
    dead = {r: count(db, dead_sql.format(r)) for r in kept}
    assert sum(dead.values()) > 0, "the test means to keep other resources' dead letters"
    sandbox.set_faults(malformed_rate=0.0)

    assert stripe_pipeline.main(["--resources", refreshed, "--full-refresh"]) == 0

    assert ids(db, "stripe", refreshed) == listed_ids(sandbox, refreshed)
    for resource in kept:
        assert ids(db, "stripe", resource) == rows[resource], resource
        assert resource_state(resource) == states[resource], resource
        assert count(db, dead_sql.format(resource)) == dead[resource], resource
    sandbox.stats.reset()
    assert stripe_pipeline.main(["--resources", ",".join(kept)]) == 0
    assert listings(sandbox).keys() <= {"/v1/events"}  # the others continue incrementally
