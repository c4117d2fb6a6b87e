"""A local emulator of the Stripe API v1 for tests, benchmarks and offline pipeline runs.

Example:
    >>> from sandbox.stripe import StripeSandbox
    >>> with StripeSandbox(seed=42, volume=50) as sb:
    ...     print(sb.base_url, sb.store.listable("customers")[0]["id"])
"""

from .clock import SandboxClock
from .errors import StripeError
from .faults import Faults
from .server import StripeSandbox
from .stats import SandboxStats

__all__ = ["Faults", "SandboxClock", "SandboxStats", "StripeError", "StripeSandbox"]
