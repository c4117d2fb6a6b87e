"""A local emulator of the ServiceNow Table API and its OAuth token endpoint (``server.py``)."""

from .server import ServiceNowSandbox

__all__ = ["ServiceNowSandbox"]
