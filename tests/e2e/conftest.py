"""Fixtures the Stripe end-to-end tests share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.stripe import StripeSandbox


@pytest.fixture
def point_at(
    monkeypatch: pytest.MonkeyPatch, dlt_home: Path, duckdb_path: Path
) -> Callable[..., None]:
    """Points the Stripe pipeline at a sandbox through the documented env variables."""

    def _point(sandbox: StripeSandbox, api_key: str | None = None) -> None:
        monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", sandbox.base_url)
        monkeypatch.setenv("SOURCES__STRIPE__API_KEY", api_key or sandbox.api_key)
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))

    return _point


@pytest.fixture(params=[True, False], ids=["columnar", "plain"])
def columnar(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Runs a Stripe test through the Arrow path and through dlt's own normalizer."""
    monkeypatch.setenv("SOURCES__STRIPE__COLUMNAR", str(request.param).lower())
    return bool(request.param)


@pytest.fixture
def pointed(stripe_sandbox: StripeSandbox, point_at: Callable[..., None]) -> StripeSandbox:
    """The shared Stripe sandbox, with the pipeline pointed at it."""
    point_at(stripe_sandbox)
    return stripe_sandbox
