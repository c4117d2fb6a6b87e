"""A local Salesforce emulator for connector tests and ``--sandbox`` runs (see ``server.py``)."""

from .api import Faults
from .server import SalesforceSandbox

__all__ = ["Faults", "SalesforceSandbox"]
