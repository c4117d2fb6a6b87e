"""Shared fixtures: the Stripe sandbox plugin and an isolated dlt working area."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

pytest_plugins = ["sandbox.stripe.pytest_plugin"]


@pytest.fixture
def dlt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Points dlt's data dir (pipelines, state) at a fresh temp folder."""
    home = tmp_path / "dlt_home"
    home.mkdir()
    monkeypatch.setenv("DLT_DATA_DIR", str(home))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    yield home


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    """A DuckDB file in the test's temp folder (named apart from the dataset)."""
    return tmp_path / "stripe_data.duckdb"
