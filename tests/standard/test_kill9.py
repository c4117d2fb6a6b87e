"""Standard test 3: ``kill -9`` during a first run, run again: exactly the emulator's data.

Two kill points, both deterministic: mid-extract (the emulator holds one of the run's
requests, the process is killed while it waits for the answer) and mid-load (a test-only
``sitecustomize`` holds dlt right after the destination committed the first compared
table's job and before dlt recorded it; see ``tests/load_hold.py``).
"""

from __future__ import annotations

import pytest

from tests.standard.conftest import Emulator
from tests.standard.connectors import ConnectorCase
from tests.standard.harness import Project, no_row_loaded_twice

pytestmark = pytest.mark.e2e

EXTRACT_HELD_REQUEST = 3
"""Past the credential check and the first page: the run is extracting when it is held."""


def assert_exactly_the_emulator(spec: ConnectorCase, emulator: Emulator, project: Project) -> None:
    for table in spec.tables:
        loaded = project.rows(table, spec.primary_key)  # fails on a key loaded twice
        assert set(loaded) == spec.expected(emulator.sandbox, table), table
    assert list(no_row_loaded_twice(project)) == []


def test_killed_while_extracting_then_rerun_loads_exactly_the_emulator(
    spec: ConnectorCase, emulator: Emulator, project: Project
) -> None:
    emulator.gate.arm(EXTRACT_HELD_REQUEST)

    project.run_killed(emulator.gate.reached.is_set, "--resources", spec.resources_flag)
    assert not project.db.exists() or not project.query(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [spec.name, spec.tables[-1]],
    ), "the kill landed after the load"
    project.run_ok("--resources", spec.resources_flag)

    assert_exactly_the_emulator(spec, emulator, project)


def test_killed_after_a_load_job_committed_then_rerun_loads_exactly_the_emulator(
    spec: ConnectorCase, emulator: Emulator, project: Project
) -> None:
    project.run_killed(
        project.held(spec.hold_table), "--resources", spec.resources_flag, hold=(spec.hold_table,)
    )
    assert project.rows_anywhere(spec.hold_table) > 0, "the held job was committed"
    project.run_ok("--resources", spec.resources_flag)

    assert_exactly_the_emulator(spec, emulator, project)
