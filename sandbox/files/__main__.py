"""``python -m sandbox.files <folder>``: writes the sandbox's drop folder there."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from .writer import write_drop_folder

logger = logging.getLogger("sluice.sandbox.files")


def main() -> int:
    """Writes the folder and logs where."""
    parser = argparse.ArgumentParser(description="Write a folder of dropped files.")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = write_drop_folder(args.folder, time.time())
    logger.info("file drops written under %s", folder.root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
