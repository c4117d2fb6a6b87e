"""Reverse ETL: declared syncs from the warehouse back into a connector's target.

``spec.py`` parses and validates ``syncs/<name>.toml``; ``warehouse.py`` reads the source
rows and keeps the per-sync state table; ``plan.py`` maps rows and diffs them against
the state; ``engine.py`` sends the plan batch by batch through a :class:`Target`
(``sources/salesforce/reverse.py``, ``sources/stripe/reverse.py``), commits each batch,
dead-letters rejections and writes the run ledger. ``pipelines/sync.py`` is the command.
"""

from .engine import SyncResult, run_sync
from .plan import Op, Plan, build_plan
from .spec import SyncSpec, SyncSpecError, find_sync, load_sync, parse_sync
from .target import Target, WriteResult

__all__ = [
    "Op",
    "Plan",
    "SyncResult",
    "SyncSpec",
    "SyncSpecError",
    "Target",
    "WriteResult",
    "build_plan",
    "find_sync",
    "load_sync",
    "parse_sync",
    "run_sync",
]
