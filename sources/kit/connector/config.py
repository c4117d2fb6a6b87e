"""Connection settings every connector reads from ``sources.<name>``."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Optional

from sources.kit.errors import ConfigurationError
from sources.kit.http_config import HttpConfiguration, pop_http_overrides, resolve_http

from .spec import ConnectorSpec


def resolve_connector_http(
    spec: ConnectorSpec, given: MutableMapping[str, Any]
) -> HttpConfiguration:
    """The HTTP settings of one connector: code over config over the spec's defaults.

    Takes the HTTP keys (``rate_limit``, ``read_timeout``...) out of ``given``, the
    keyword arguments of a ``make_client`` call, so the rest are connection settings.

    Raises:
        ConfigurationError: A configured value is not of the key's type.
    """
    return resolve_http(spec.name, spec.http_defaults(), pop_http_overrides(given))


def check_base_url(
    spec: ConnectorSpec,
    url: Optional[str],
    *,
    key: str = "base_url",
    what: str = "base URL",
    example: str = "",
) -> str:
    """The configured API root, or one line naming the key when it is unusable.

    Args:
        spec: The connector (its section names the key).
        url: The configured value.
        key: The setting's name under ``sources.<name>``.
        what: What the setting is, for the missing-value line (``instance``).
        example: What a value looks like, for the missing-value line.

    Returns:
        The URL without a trailing slash.

    Raises:
        ConfigurationError: The URL is missing or not http(s).
    """
    full = f"{spec.section}.{key}"
    if not url:
        looks_like = f" ({example})" if example else ""
        env = full.upper().replace(".", "__")
        raise ConfigurationError(
            f"{spec.title} {what} missing: set {full}{looks_like} in .dlt/config.toml or {env}"
        )
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{full} must start with http:// or https://, got {url!r}")
    return url.rstrip("/")
