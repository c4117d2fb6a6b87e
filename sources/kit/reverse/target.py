"""What a reverse-ETL target is: a connector hook that writes batches of one kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from .plan import Op
from .spec import SyncSpec


@dataclass(frozen=True)
class WriteResult:
    """The target's answer for one write.

    Attributes:
        op: The write.
        ok: Accepted (committed to the state) or rejected (dead-lettered).
        target_id: The target's id of the record (Salesforce ``Id``), when it said.
        error: The target's reason for a rejection, one line.
        deferred: Not processed (a bulk job stopped early): neither committed nor
            dead-lettered, so the next run sends it again.
    """

    op: Op
    ok: bool
    target_id: Optional[str] = None
    error: Optional[str] = None
    deferred: bool = False


class Target(Protocol):
    """A connector's write side, as the engine drives it.

    Attributes:
        connector: Connector name (``salesforce``).
    """

    connector: str

    def batch_limit(self, spec: SyncSpec, total: int) -> int:
        """Most writes one :meth:`write` call takes, for a run of ``total`` writes."""
        ...

    def check(self, spec: SyncSpec) -> None:
        """Refuses, before anything is sent, a sync this target cannot run.

        Raises:
            SyncSpecError: Mode, object or key unsupported (one line naming the key).
        """
        ...

    def write(self, ops: Sequence[Op]) -> list[WriteResult]:
        """Sends writes of one kind; one result per op, in order.

        Per-record rejections are results; a failure of the whole call (network,
        server, budget) raises, and nothing of the batch is committed.
        """
        ...

    def http_stats(self) -> Mapping[str, Mapping[str, Any]]:
        """Request counters per label, for the run ledger."""
        ...
