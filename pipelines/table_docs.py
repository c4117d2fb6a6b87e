"""Renders the column reference of every loaded table to docs/tables/.

Each connector is loaded from its bundled sandbox (``sluice run <connector> --sandbox``,
in a temporary folder), and the pages are rendered from the dlt schema that load stored:

python pipelines/table_docs.py            # rewrite the pages
python pipelines/table_docs.py --check    # exit 1 when the committed pages are stale
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

from dlt.common.schema import Schema  # noqa: E402
from dlt.common.schema.typing import TTableSchema  # noqa: E402

from sources.kit.connector import ConnectorSpec  # noqa: E402
from sources.kit.deadletters import DEAD_LETTER_COLUMNS, DEAD_LETTERS_TABLE  # noqa: E402
from sources.kit.ledger import LEDGER_COLUMNS, LEDGER_TABLE  # noqa: E402
from sources.kit.reference import (  # noqa: E402
    TableDoc,
    render_docs,
    schema_table_docs,
    stale_pages,
    table_doc,
    write_docs,
)
from sources.salesforce.settings import CURSOR_FIELD as SALESFORCE_CURSOR  # noqa: E402
from sources.servicenow.settings import CURSOR_FIELD as SERVICENOW_CURSOR  # noqa: E402
from sources.stripe.fields import describe_column, table_object_types  # noqa: E402
from sources.stripe.settings import RESOURCES_BY_NAME, SUB_LISTS  # noqa: E402
from sources.stripe.spec import SPEC as STRIPE_SPEC  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = REPO_ROOT / "docs" / "tables"
COMMAND = "python pipelines/table_docs.py"
CONNECTORS = ("stripe", "salesforce", "servicenow", "slack", "gmail", "shopify", "files")
DECLARED = ("slack", "gmail", "shopify", "files")
"""Connectors whose tables are their spec's resources: cursors and endpoints from it."""
ISOLATED_PREFIXES = ("SOURCES__", "DESTINATION__", "DLT_", "RUNTIME__", "SLUICE__", "NORMALIZE__")
"""Settings of the caller's shell that must not reach the sandbox loads."""
LOAD_TIMEOUT_S = 300

INTRO = """
One page per table a connector loads: each column's type as dlt created it, whether it
may be null, which columns are keys and cursors, and what the value means. Stripe's
descriptions are Stripe's own field docs (read from the MIT-licensed `stripe` SDK, see
`sources/stripe/fields.json`). The Salesforce and ServiceNow emulators label each field
with its API name, so their descriptions are blank (a real org's labels are not loaded);
the Slack and Gmail columns are the APIs' own field names (plus the parsed headers and
`deleted` flags the connectors add), described on the providers' method pages.
The pages come from a load of each connector's sandbox: a real account has the same
tables, and may have more columns (fields the sandbox never fills) and, for Salesforce
and ServiceNow, more objects and tables (`--resources`).

`_dlt_loads`, `_dlt_version` and `_dlt_pipeline_state` are dlt's own bookkeeping and
not documented here. Next to each dataset, DuckDB and the warehouses also show a
`<dataset>_staging` dataset (`stripe_staging`): dlt loads each batch of a merged table
there first, then merges it into the real table. It holds copies of the last batch,
not data to query; leave it alone (an interrupted run resumes from it).
"""


def main(argv: Optional[list[str]] = None) -> int:
    """Writes the pages (or, with ``--check``, says which are stale)."""
    parser = argparse.ArgumentParser(prog="table_docs.py", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when pages are stale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sluice-table-docs-") as workdir:
        pages = build_pages(Path(workdir))
    if args.check:
        stale = stale_pages(pages, DOCS_DIR)
        for relative in stale:
            print(f"stale: {DOCS_DIR / relative}")
        if stale:
            print(f"run {COMMAND}")
        return 1 if stale else 0
    for path in write_docs(pages, DOCS_DIR):
        print(path)
    return 0


def build_pages(workdir: Path) -> dict[str, str]:
    """Every page by its path under ``docs/tables``, from fresh sandbox loads in ``workdir``."""
    docs = [doc for connector in CONNECTORS for doc in connector_docs(connector, workdir)]
    return render_docs(docs, internal_docs(), COMMAND, INTRO)


def connector_docs(connector: str, workdir: Path) -> list[TableDoc]:
    """The pages of one connector's tables, from a sandbox load."""
    schema = sandbox_schema(connector, workdir)
    excluded = (DEAD_LETTERS_TABLE, LEDGER_TABLE)
    if connector == "stripe":
        return schema_table_docs(
            connector,
            schema,
            describe=describe_column,
            cursors={r.name: r.cursor for r in STRIPE_SPEC.resources if r.cursor},
            descriptions=stripe_table_descriptions(),
            exclude=excluded,
        )
    if connector in DECLARED:
        return declared_docs(connector, schema, excluded)
    cursor = SALESFORCE_CURSOR if connector == "salesforce" else SERVICENOW_CURSOR
    cursor_column = schema.naming.normalize_path(cursor)
    tables = [str(t["name"]) for t in schema.data_tables()]
    return schema_table_docs(
        connector,
        schema,
        cursors=dict.fromkeys(tables, cursor_column),
        descriptions={t: f"{connector_title(connector)} `{t}` records." for t in tables},
        exclude=excluded,
    )


def declared_docs(connector: str, schema: Schema, excluded: Sequence[str]) -> list[TableDoc]:
    """Pages of a connector declared on the framework: cursors and sources from its spec."""
    spec = connector_spec(connector)
    title = spec.title if spec else connector
    resources = spec.resources if spec else ()
    descriptions = {str(t["name"]): f"{title} `{t['name']}` rows." for t in schema.data_tables()}
    for r in resources:
        listed = f", listed from `{r.endpoint}`" if r.endpoint else ""
        descriptions[r.name] = (
            f"{title} `{r.name}`{listed} (deletes seen by: {', '.join(r.deletes)})."
        )
    return schema_table_docs(
        connector,
        schema,
        cursors={r.name: r.cursor for r in resources if r.cursor},
        descriptions=descriptions,
        exclude=excluded,
    )


def connector_spec(connector: str) -> Optional[ConnectorSpec]:
    """``sources.<connector>.spec.SPEC``, when the connector has one."""
    try:
        spec: ConnectorSpec = importlib.import_module(f"sources.{connector}.spec").SPEC
    except ModuleNotFoundError:
        return None
    return spec


def connector_title(connector: str) -> str:
    return {"salesforce": "Salesforce sObject", "servicenow": "ServiceNow table"}[connector]


def stripe_table_descriptions() -> dict[str, str]:
    """One sentence per Stripe table: its object type and where it is listed from."""
    descriptions = {}
    for table, object_type in table_object_types().items():
        resource = RESOURCES_BY_NAME.get(table)
        if resource is not None:
            follow = " (changes followed through the events feed)" if resource.mutable else ""
            descriptions[table] = (
                f"Stripe `{object_type}` objects listed from `GET {resource.path}`{follow}."
            )
    for parent, sub_lists in SUB_LISTS.items():
        for sub in sub_lists:
            descriptions[sub.table] = (
                f"Stripe `{sub.object_type}` objects: every entry of a `{parent}` row's "
                f"`{sub.field}` list (also those past the 10 Stripe embeds), named by "
                f"`{sub.parent_key}`; replaced whole when the parent changes."
            )
    return descriptions


def internal_docs() -> list[TableDoc]:
    """sluice's own tables, the same in every connector's dataset."""
    dead_letters = table_doc(
        "",
        _declared_table(DEAD_LETTERS_TABLE, DEAD_LETTER_COLUMNS, primary_key="dead_letter_id"),
        write_disposition="merge",
        description="Records that could not be loaded as declared, with the reason "
        "(created with the first one; replay them with `sluice dead-letters`).",
    )
    ledger = table_doc(
        "",
        _declared_table(LEDGER_TABLE, LEDGER_COLUMNS),
        write_disposition="append",
        description="One row per resource per run, failed runs too (read by `sluice status`).",
    )
    return [dead_letters, ledger]


def _declared_table(name: str, columns: Any, primary_key: Optional[str] = None) -> TTableSchema:
    declared = {
        column: {"name": column, **hint, **({"primary_key": True} if column == primary_key else {})}
        for column, hint in columns.items()
    }
    return {"name": name, "columns": declared}  # type: ignore[typeddict-item]


def sandbox_schema(connector: str, workdir: Path) -> Schema:
    """The dlt schema a ``sluice run <connector> --sandbox`` load stores.

    The load runs in a child process with none of the caller's dlt or sluice settings,
    its state and DuckDB file in ``workdir``, from the repository root (whose
    ``.dlt/config.toml`` applies, as for a user running there).

    Raises:
        RuntimeError: The load failed (its output's tail says why).
    """
    data_dir = workdir / connector
    env = {k: v for k, v in os.environ.items() if not k.startswith(ISOLATED_PREFIXES)}
    env.update(
        {
            "DLT_DATA_DIR": str(data_dir),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DESTINATION__DUCKDB__CREDENTIALS": str(workdir / f"{connector}_data.duckdb"),
        }
    )
    command = [sys.executable, "-m", "pipelines.cli", "run", connector, "--sandbox"]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=LOAD_TIMEOUT_S
    )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f"sluice run {connector} --sandbox failed:\n" + "\n".join(tail))
    found = sorted(data_dir.glob(f"pipelines/*/schemas/{connector}.schema.json"))
    if len(found) != 1:
        raise RuntimeError(f"expected one stored {connector} schema, found {found}")
    return Schema.from_stored_schema(_read_json(found[0]))


def _read_json(path: Path) -> Any:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    sys.exit(main())
