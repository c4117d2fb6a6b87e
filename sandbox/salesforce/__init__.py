"""A local Salesforce emulator for connector tests and ``--sandbox`` runs (see ``server.py``)."""

from .api import Faults
from .schema import EXTERNAL_ID_FIELD, SYNC_TOKEN_FIELD
from .server import SalesforceSandbox
from .writes import INTEGRATION_USER_ID, ValidationRules

__all__ = [
    "EXTERNAL_ID_FIELD",
    "INTEGRATION_USER_ID",
    "SYNC_TOKEN_FIELD",
    "Faults",
    "SalesforceSandbox",
    "ValidationRules",
]
