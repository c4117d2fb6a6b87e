"""Renders mapping specs as markdown tables (``docs/mappings/*.md``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dlt.common.json import json

from .spec import FieldMapping, MappingSpec

__all__ = ["render_mapping", "render_index", "doc_file_name", "write_mapping_docs"]


def doc_file_name(spec: MappingSpec) -> str:
    """File name of a mapping's page (``stripe_charges.md``)."""
    return f"{spec.name}.md"


def render_mapping(spec: MappingSpec) -> str:
    """One mapping as a markdown page: header facts and a source -> target table.

    Args:
        spec: The mapping.

    Returns:
        Markdown text ending with a newline.
    """
    model = spec.target_model
    lines = [
        f"# {spec.name}",
        "",
        f"`{spec.source_system}.{spec.source_resource}` → `{model.name}`"
        + (f": {spec.description}" if spec.description else ""),
        "",
        f"Generated from `{Path(spec.origin).name}` by `python pipelines/mapping_docs.py`;"
        " do not edit by hand.",
        "",
        "| target | type | source | transform | args | required | default |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines.extend(_row(field, model.columns[field.target]) for field in spec.fields)
    return "\n".join(lines) + "\n"


def render_index(specs: Iterable[MappingSpec]) -> str:
    """A markdown list linking every mapping page."""
    lines = ["# Mappings", "", "| mapping | source | target model |", "| --- | --- | --- |"]
    for spec in specs:
        lines.append(
            f"| [{spec.name}]({doc_file_name(spec)}) | "
            f"`{spec.source_system}.{spec.source_resource}` | `{spec.target_model.name}` |"
        )
    return "\n".join(lines) + "\n"


def write_mapping_docs(specs: Iterable[MappingSpec], directory: Path) -> list[Path]:
    """Writes one page per mapping plus ``README.md`` (the index) into ``directory``.

    Returns:
        The files written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    specs = list(specs)
    written = []
    for spec in specs:
        path = directory / doc_file_name(spec)
        path.write_text(render_mapping(spec), encoding="utf-8")
        written.append(path)
    index = directory / "README.md"
    index.write_text(render_index(specs), encoding="utf-8")
    return [*written, index]


def _row(field: FieldMapping, column: Mapping[str, Any]) -> str:
    data_type = str(column.get("data_type", ""))
    if data_type == "decimal":
        data_type = f"decimal({column.get('precision')},{column.get('scale')})"
    cells = [
        f"`{field.target}`",
        data_type,
        ", ".join(f"`{p}`" for p in field.source_paths) or "—",
        field.transform_label,
        _cell(json.dumps(dict(field.args))) if field.args else "",
        "yes" if field.required else "",
        _cell(json.dumps(field.default)) if field.default is not None else "",
    ]
    return "| " + " | ".join(cells) + " |"


def _cell(text: str) -> str:
    return f"`{text.replace('|', '&#124;')}`"
