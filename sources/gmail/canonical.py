"""Gmail's part of the canonical load: none yet (no mapping files in ``mappings/``).

The runner's ``--canonical`` step then maps nothing; a mapping of senders into
``canonical_customers`` would go in ``sources/gmail/mappings/*.toml``.
"""

from __future__ import annotations

from pathlib import Path

from sources.kit.mapping.system import CanonicalSystem

__all__ = ["CANONICAL", "MAPPINGS_DIR"]

MAPPINGS_DIR = Path(__file__).parent / "mappings"

CANONICAL = CanonicalSystem("gmail", MAPPINGS_DIR)
