"""A local OAuth 2.0 / OAuth 1.0a provider for connector tests (see ``server.py``)."""

from .server import OAuthSandbox

__all__ = ["OAuthSandbox"]
