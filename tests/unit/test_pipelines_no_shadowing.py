"""No script in ``pipelines/`` takes the name of a module Python would otherwise import.

Run as ``python pipelines/<script>.py``, the folder is first on ``sys.path``: a
``pipelines/stripe.py`` hid the ``stripe`` SDK from everything the script imported.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINES = REPO_ROOT / "pipelines"

SHOWS_SDK = """
import runpy, sys
sys.argv = ["pipelines/stripe_pipeline.py", "--help"]
try:
    runpy.run_path("pipelines/stripe_pipeline.py", run_name="__main__")
except SystemExit:
    pass
import stripe
print(stripe.__file__, file=sys.stderr)
"""


def test_no_pipeline_script_is_named_like_an_installed_or_standard_module() -> None:
    scripts = {path.stem for path in PIPELINES.glob("*.py")} - {"__init__"}
    installed = set(importlib.metadata.packages_distributions())
    standard = set(sys.stdlib_module_names)
    assert "stripe" in installed  # the SDK the old pipelines/stripe.py hid
    assert scripts & installed == set()
    assert scripts & standard == set()
    assert {"stripe_pipeline", "salesforce_pipeline", "servicenow_pipeline"} <= scripts


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("stripe_pipeline.py", id="stripe"),
        pytest.param("salesforce_pipeline.py", id="salesforce"),
        pytest.param("servicenow_pipeline.py", id="servicenow"),
    ],
)
def test_a_script_run_from_the_project_root_prints_its_help(script: str) -> None:
    result = subprocess.run(
        [sys.executable, f"pipelines/{script}", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ") and "--table-format" in result.stdout


def test_the_stripe_script_imports_the_stripe_sdk_not_itself() -> None:
    # As `python pipelines/stripe_pipeline.py`: the script's folder first on sys.path.
    result = subprocess.run(
        [sys.executable, "-c", SHOWS_SDK],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(PIPELINES), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    sdk = Path(result.stderr.strip().splitlines()[-1])
    assert "site-packages" in sdk.parts and sdk.parent.name == "stripe"
