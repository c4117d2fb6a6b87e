"""Checks a pipeline script runs in an environment with sluice installed (stdlib only).

Run with a Python that lacks the project's dependencies (the system ``python`` instead
of the venv's), a script would end in a ``ModuleNotFoundError`` traceback; this says in
one line which interpreter ran and what to run instead.
"""

from __future__ import annotations

import importlib.util
import os
import sys

REQUIRED = ("dlt", "duckdb", "requests", "pendulum")


def require_installed(script: str) -> None:
    """Exits with one line when the core dependencies are missing for this interpreter.

    Args:
        script: The script's file (``__file__``).
    """
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if not missing:
        return
    path = os.path.abspath(script)
    project = os.path.dirname(os.path.dirname(path))
    venv_python = os.path.relpath(os.path.join(project, ".venv", "bin", "python"))
    print(
        f"error: {sys.executable} has no {', '.join(missing)}: run {venv_python} "
        f"{os.path.relpath(path)} "
        "(after the README's quick start), or activate the venv first "
        "(source .venv/bin/activate)",
        file=sys.stderr,
    )
    raise SystemExit(1)
