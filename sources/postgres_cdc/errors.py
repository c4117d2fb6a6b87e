"""One-line errors of Postgres CDC, each naming the fix."""

from __future__ import annotations

from sources.kit.errors import ConfigurationError, RetriableError


class CdcConfigurationError(ConfigurationError):
    """The server, role or tables are not set up for logical replication."""


class SlotBusyError(RetriableError):
    """The replication slot is streaming to another process right now."""


class SlotLostError(ConfigurationError):
    """The slot this pipeline's state follows is gone: changes may have been missed."""
