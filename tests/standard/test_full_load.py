"""Standard test 1: a first run loads exactly the emulator's records, once each."""

from __future__ import annotations

import pytest

from tests.standard.conftest import Emulator
from tests.standard.connectors import ConnectorCase
from tests.standard.harness import Project, no_row_loaded_twice

pytestmark = pytest.mark.e2e


def test_full_load_has_every_emulator_record_once(
    spec: ConnectorCase, emulator: Emulator, project: Project
) -> None:
    project.run_ok("--resources", spec.resources_flag)

    for table in spec.tables:
        loaded = project.rows(table, spec.primary_key)  # fails on a key loaded twice
        expected = spec.expected(emulator.sandbox, table)
        assert expected, f"{table}: the emulator seeded nothing to compare"
        assert len(loaded) == len(expected), table
        assert set(loaded) == expected, table
    assert list(no_row_loaded_twice(project)) == []
    statuses = {r["resource"]: r["last_status"] for r in project.status()["resources"]}
    assert {t: statuses.get(t) for t in spec.tables} == dict.fromkeys(spec.tables, "success")
