"""Standard test 2: after an update, a create and a delete, the second run merges them."""

from __future__ import annotations

import pytest

from tests.standard.conftest import Emulator
from tests.standard.connectors import ConnectorCase
from tests.standard.harness import Project, no_row_loaded_twice

pytestmark = pytest.mark.e2e


def test_second_run_merges_the_update_create_and_delete(
    spec: ConnectorCase, emulator: Emulator, project: Project
) -> None:
    project.run_ok("--resources", spec.resources_flag)
    first = {t: project.keys(t, spec.primary_key) for t in spec.tables}
    change = spec.mutate(emulator.sandbox)
    assert change.updated in first[spec.tables[0]] and change.deleted in first[spec.tables[0]]

    project.run_ok("--resources", spec.resources_flag)

    table, key = spec.tables[0], spec.primary_key
    rows = project.rows(table, key, change.column)  # fails on a key loaded twice
    assert rows[change.updated] == (change.value,)
    assert change.created in rows
    for table in spec.tables:
        live = spec.expected(emulator.sandbox, table)
        gone = first[table] - live  # the delete, and any record deleted with it
        loaded = project.rows(table, key, *(["deleted"] if spec.deletes == "flag" else []))
        if spec.deletes == "flag":
            assert set(loaded) == live | gone, table
            assert {k for k, (deleted,) in loaded.items() if deleted} == gone, table
        else:
            assert set(loaded) == live, table
    assert change.deleted not in spec.expected(emulator.sandbox, spec.tables[0])
    assert list(no_row_loaded_twice(project)) == []
