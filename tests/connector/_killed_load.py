"""A drain or a poller run that ``SIGKILL``s itself in the middle of its load.

Run as ``python -m tests.connector._killed_load drain INBOX DB`` or
``python -m tests.connector._killed_load poll BASE_URL API_KEY DB`` (with ``DLT_DATA_DIR``
set). The load's jobs run (rows reach DuckDB), then the process is killed before dlt marks
the package loaded: the pipeline is left with a pending package, as after a crash, OOM kill
or power loss during a load.
"""

from __future__ import annotations

import os
import signal
import sys

import dlt
from dlt.load.load import Load


def die(*_args: object, **_kwargs: object) -> None:
    """Replaces ``Load.complete_package``: the package's jobs ran, its commit never happens."""
    os.kill(os.getpid(), signal.SIGKILL)


def pipeline(db: str) -> dlt.Pipeline:
    """The ``stripe`` pipeline the tests drain and poll with."""
    return dlt.pipeline(
        pipeline_name="stripe", dataset_name="stripe", destination=dlt.destinations.duckdb(db)
    )


def main(argv: list[str]) -> int:
    """Runs the requested step; returns only if the kill did not happen."""
    Load.complete_package = die  # type: ignore[method-assign]
    if argv[0] == "drain":
        from sources.kit.webhooks.inbox import Inbox
        from sources.stripe.webhooks import drain

        with Inbox(argv[1]) as inbox:
            drain(inbox, pipeline(argv[2]))
    elif argv[0] == "poll":
        from sources.stripe import make_client, stripe_source

        client = make_client(api_key=argv[2], base_url=argv[1])
        pipeline(argv[3]).run(stripe_source(resources=["customers"], client=client))
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
