"""Renders every connector's mappings to docs/mappings/*.md.

python pipelines/mapping_docs.py            # rewrite the pages
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Optional

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

from sources.kit.mapping import write_mapping_docs  # noqa: E402
from sources.salesforce.canonical import salesforce_mappings  # noqa: E402
from sources.servicenow.canonical import servicenow_mappings  # noqa: E402
from sources.stripe.canonical import stripe_mappings  # noqa: E402

DOCS_DIR = Path(__file__).resolve().parents[1] / "docs" / "mappings"


def main(argv: Optional[list[str]] = None) -> int:
    """Writes the pages and prints their paths (``--help`` only describes it)."""
    argparse.ArgumentParser(
        prog="mapping_docs.py",
        description=f"Renders every connector's canonical mappings to {DOCS_DIR}/*.md.",
    ).parse_args(argv)
    specs = [*stripe_mappings(), *salesforce_mappings(), *servicenow_mappings()]
    for path in write_mapping_docs(specs, DOCS_DIR):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
