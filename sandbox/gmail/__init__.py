"""A local emulator of the Gmail API v1 and Google's OAuth token endpoint (``server.py``).

Contract: /tmp/prompts/contract_gmail.md. Small additive deviations: ``clock`` is any
``() -> float`` (``advance`` needs the default ``ManualClock``); ``quota_status`` (429 or
403) picks how the per-user quota answers; ``sb.batch_url`` is ``base_url +
"batch/gmail/v1"`` (``base_url + "batch"`` is served too); ``quota_units_per_s=None``
turns metering off; ``history_retention`` is in seconds (a week by default).
"""

from .faults import Faults
from .seed import Volume
from .server import GmailSandbox

__all__ = ["Faults", "GmailSandbox", "Volume"]
