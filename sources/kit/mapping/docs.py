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
        *_superseded_note(spec),
        "| target | type | source | transform | args | required | default |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines.extend(_row(field, model.columns[field.target]) for field in spec.fields)
    return "\n".join(lines) + "\n"


INDEX_INTRO = """\
The canonical models are derived from the raw tables in the destination: each canonical
load maps the rows of every raw load (`_dlt_load_id`) it has not mapped yet, whichever
run loaded them (a poll, the webhook drain, a replay).

Sources are dot-paths as the API sends the record (`address.country`, `FirstName`). They
are read from the loaded rows as dlt named and flattened them: each name in the schema's
naming convention (`FirstName` -> `first_name`), nested objects as `a__b` columns, and
what dlt kept whole in a `json` column read inside it (`billing_details.address.city` ->
column `billing_details__address`, key `city`). Dead-letter reasons and drift lines name
the warehouse path.
"""


def render_index(specs: Iterable[MappingSpec]) -> str:
    """A markdown list linking every mapping page, after how sources are read."""
    lines = [
        "# Mappings",
        "",
        INDEX_INTRO,
        "| mapping | source | target model |",
        "| --- | --- | --- |",
    ]
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


def _superseded_note(spec: MappingSpec) -> list[str]:
    lines = []
    if spec.superseded_by:
        lines += [
            f"A record whose `{spec.superseded_by}` is set is represented by the record(s)"
            f" it references: its `{spec.target_model.name}` row is removed"
            " (dlt hard delete on `superseded`), so nothing is counted twice.",
            "",
        ]
    if spec.children_of:
        lines += [
            f"A load holds every child of each parent (`{spec.children_of}`) it holds: a"
            f" `{spec.target_model.name}` row its parent no longer has is removed"
            " (dlt hard delete on `superseded`).",
            "",
        ]
    return lines


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
