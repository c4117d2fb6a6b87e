"""A pipeline script run by a Python without the project installed (the system ``python``
instead of the venv's) says in one line which interpreter to use, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "script",
    [
        "stripe_pipeline.py",
        "salesforce_pipeline.py",
        "servicenow_pipeline.py",
        "status.py",
        "dead_letters.py",
        "stripe_webhooks.py",
    ],
)
def test_a_script_run_outside_the_venv_names_the_interpreter_to_use(
    tmp_path: Path, script: str
) -> None:
    # A bare interpreter with no site-packages stands for the system Python.
    result = subprocess.run(
        [sys.executable, "-S", "-I", str(REPO_ROOT / "pipelines" / script)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.startswith("error: ") and "has no dlt" in line
    assert f".venv/bin/python pipelines/{script}" in line
