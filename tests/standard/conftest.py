"""Fixtures of the standard tests: each test runs once per connector declaration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.standard.connectors import SPECS, ConnectorCase
from tests.standard.harness import Project, RequestGate


@pytest.fixture(params=SPECS, ids=[spec.name for spec in SPECS])
def spec(request: pytest.FixtureRequest) -> ConnectorCase:
    """The connector under test (every standard test is parametrised over all of them)."""
    chosen: ConnectorCase = request.param
    return chosen


@dataclass
class Emulator:
    """A started emulator and the gate its requests pass."""

    sandbox: Any
    gate: RequestGate


@pytest.fixture
def emulator(spec: ConnectorCase, request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The connector's emulator, started in this process for this test only."""
    gate = RequestGate()
    sandbox = spec.start(request, gate)
    yield Emulator(sandbox, gate)


@pytest.fixture
def project(spec: ConnectorCase, emulator: Emulator, tmp_path: Path) -> Project:
    """A new user's project folder (empty ``.dlt/config.toml``) pointed at the emulator."""
    made = Project(tmp_path, spec.name, spec.settings(emulator.sandbox, tmp_path))
    (made.folder / ".dlt").mkdir(parents=True)
    (made.folder / ".dlt" / "config.toml").write_text("")
    return made
