"""Standard test 4: a wrong secret is one stderr line naming the setting, no traceback."""

from __future__ import annotations

import pytest

from tests.standard.conftest import Emulator
from tests.standard.connectors import ConnectorCase
from tests.standard.harness import Project

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("verb", ["check", "run"], ids=["check", "run"])
def test_wrong_secret_is_one_line_naming_the_setting(
    spec: ConnectorCase, emulator: Emulator, project: Project, verb: str
) -> None:
    bad = spec.bad_secret(emulator.sandbox, project.root)

    done = project.sluice(verb, spec.name, overrides=bad.overrides)

    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("error: ") and bad.setting in lines[0], lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert bad.secret not in done.stderr + done.stdout
