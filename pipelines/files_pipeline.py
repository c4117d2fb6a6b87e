"""Load file drops (CSV, JSONL, Parquet, gzipped or not) into DuckDB (or any dlt destination).

python pipelines/files_pipeline.py             # drops from sources.files.drops.<name>
python pipelines/files_pipeline.py --sandbox   # a local folder of realistic dropped files
python pipelines/files_pipeline.py --sandbox --sandbox-dir /tmp/drops   # kept there
python pipelines/files_pipeline.py --resources orders --full-refresh
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

from pipelines import runner  # noqa: E402
from sources.files import FilesClient, files_source, make_client  # noqa: E402
from sources.files.settings import RESOURCES  # noqa: E402
from sources.kit.mapping.system import CanonicalSystem  # noqa: E402

logger = logging.getLogger("sluice.pipeline.files")

CANONICAL = CanonicalSystem("files", Path(__file__).resolve().parents[1] / "sources" / "files")
"""File drops map into no canonical model (the folder holds no mapping file)."""


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    """Where the sandbox writes its folder (a temporary one by default)."""
    parser.add_argument(
        "--sandbox-dir",
        type=Path,
        default=None,
        help="folder the sandbox's dropped files are written to (kept; default: temporary)",
    )


@contextlib.contextmanager
def files_endpoint(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Client overrides: the sandbox folder's drops with --sandbox, else none."""
    if not args.sandbox:
        yield {}
        return
    from sandbox.files import drop_settings, write_drop_folder

    with contextlib.ExitStack() as stack:
        root = args.sandbox_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder = write_drop_folder(root, time.time())
        logger.info("file drops sandbox written under %s", folder.root)
        yield {"drops": drop_settings(folder.root)}


def build_client(overrides: dict[str, Any]) -> FilesClient:
    """The client over the configured drops (or the sandbox's)."""
    return make_client(overrides.get("drops"))


CONNECTOR = runner.ConnectorRunner(
    name="files",
    title="File drops",
    pipeline_name="files",
    endpoint=files_endpoint,
    client=build_client,
    source=files_source,
    canonical=CANONICAL,
    resources_help="comma-separated drops configured under sources.files.drops "
    f"(default: all configured; the sandbox's: {','.join(RESOURCES)})",
    start_date_bound="files whose modification time is",
    canonical_help="(file drops map into no canonical model: nothing to map)",
    add_sandbox_flags=add_sandbox_flags,
)

parse_args = CONNECTOR.parse_args
main = CONNECTOR.main


if __name__ == "__main__":
    sys.exit(main())
