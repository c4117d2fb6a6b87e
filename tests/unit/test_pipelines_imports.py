"""The pipeline modules import each other without a cycle (a cycle forced imports inside
functions, and broke whichever module Python happened to load first)."""

from __future__ import annotations

import ast
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


def imports_of(path: Path) -> set[str]:
    """The ``pipelines.*`` modules a file imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("pipelines.")
        ):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "pipelines":
            found.update(alias.name for alias in node.names)
    return found


def test_the_pipeline_modules_import_each_other_without_a_cycle() -> None:
    graph = {path.stem: imports_of(path) for path in PIPELINES.glob("*.py")}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"import cycle: {' -> '.join([*visiting, name])}"
        if name in done:
            return
        visiting.append(name)
        for imported in graph.get(name, set()):
            visit(imported)
        visiting.pop()
        done.add(name)

    for name in graph:
        visit(name)
    assert "stripe_pipeline" in graph and "stripe_webhooks" in graph
