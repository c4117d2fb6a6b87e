"""The HTTP settings every connector reads from ``sources.<name>.*``, as one dlt config spec.

:class:`HttpConfiguration` holds the keys (``rate_limit``, ``connect_timeout``...), their
types and defaults; :func:`resolve_http` resolves it in a source's section, so
``SOURCES__STRIPE__RATE_LIMIT`` and ``[sources.stripe] rate_limit`` work for every
connector alike, and turns a value dlt cannot coerce into one line naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Optional

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.configuration.specs import BaseConfiguration

from .errors import ConfigurationError
from .settings import HttpSettings


@configspec
class HttpConfiguration(BaseConfiguration):
    """HTTP tuning of one source, resolved under ``sources.<name>``.

    Attributes:
        rate_limit: Requests per second; None leaves the connector's own default.
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait for a response.
        max_attempts: Attempts per request, the first included.
        retry_budget: Retries allowed across the whole run.
        backoff_base: First retry delay in seconds (doubles each attempt, jittered).
        backoff_cap: Longest delay between two attempts.
        breaker_failure_threshold: Consecutive failures that open the circuit.
        breaker_recovery_timeout: Seconds an open circuit waits before a trial call.
        max_wait_s: Longest ``Retry-After`` waited for; None waits for every hint.
    """

    rate_limit: Optional[float] = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 8
    retry_budget: int = 1000
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    breaker_failure_threshold: int = 5
    breaker_recovery_timeout: float = 30.0
    max_wait_s: Optional[float] = None

    def to_settings(self, **extra: Any) -> HttpSettings:
        """The session settings; ``extra`` sets the non-configurable ones (headers...)."""
        return HttpSettings(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_attempts=self.max_attempts,
            retry_budget=self.retry_budget,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            breaker_failure_threshold=self.breaker_failure_threshold,
            breaker_recovery_timeout=self.breaker_recovery_timeout,
            max_wait_s=self.max_wait_s,
            **extra,
        )


HTTP_FIELDS: tuple[str, ...] = tuple(HttpConfiguration.get_resolvable_fields())
"""The keys :class:`HttpConfiguration` reads, the keyword overrides of ``make_client``."""

MEANING: dict[str, str] = {
    "rate_limit": "a number of requests per second",
    "connect_timeout": "a number of seconds",
    "read_timeout": "a number of seconds",
    "max_attempts": "a whole number of attempts",
    "retry_budget": "a whole number of retries",
    "backoff_base": "a number of seconds",
    "backoff_cap": "a number of seconds",
    "breaker_failure_threshold": "a whole number of failures",
    "breaker_recovery_timeout": "a number of seconds",
    "max_wait_s": "a number of seconds",
}


def pop_http_overrides(given: MutableMapping[str, Any]) -> dict[str, Any]:
    """Takes the HTTP keyword overrides out of a ``make_client`` call's arguments."""
    return {key: given.pop(key) for key in HTTP_FIELDS if key in given}


def not_a_value_line(key: str, value: Any, hint: Any, meaning: Optional[str] = None) -> str:
    """One line for a setting dlt could not coerce (``'fast'`` for a number).

    Args:
        key: The full key (``sources.stripe.rate_limit``).
        value: The configured text.
        hint: The type dlt wanted.
        meaning: What the number counts, when known.

    Returns:
        ``<key> <value> is not a number: set <meaning> (<ENV_NAME>)``.
    """
    inner = str(hint)
    kind = (
        "a whole number"
        if "int" in inner
        else "a number"
        if "float" in inner
        else "true or false"
        if "bool" in inner
        else f"a {getattr(hint, '__name__', inner)}"
    )
    env = key.upper().replace(".", "__")
    return f"{key} {value!r} is not {kind}: set {meaning or kind} ({env})"


def resolve_http(
    source: str,
    defaults: Optional[HttpConfiguration] = None,
    explicit: Optional[Mapping[str, Any]] = None,
) -> HttpConfiguration:
    """Resolves the HTTP settings of one source from ``sources.<source>.*``.

    Args:
        source: The source's section (``stripe``).
        defaults: The connector's defaults (another ``rate_limit``, ``max_wait_s``...).
        explicit: Values passed in code; they win over config and environment.

    Returns:
        The resolved configuration.

    Raises:
        ConfigurationError: A configured value is not of the key's type.
    """
    config = defaults if defaults is not None else HttpConfiguration()
    try:
        return resolve_configuration(
            config, sections=("sources", source), explicit_value=dict(explicit or {}) or None
        )
    except ConfigValueCannotBeCoercedException as exc:
        key = f"sources.{source}.{exc.field_name}"
        line = not_a_value_line(key, exc.field_value, exc.hint, MEANING.get(exc.field_name))
        raise ConfigurationError(line) from exc
