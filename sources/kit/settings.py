"""Settings every connector shares: list settings as users write them, and HTTP tuning.

* :data:`ListSetting` and :func:`str_list`: every list-valued setting (``resources``,
  ``objects``, ``tables``, ``match_rules``, webhook secrets...) accepts a comma-separated
  string (``customers,events``), a JSON array (``["customers", "events"]``) or a TOML
  array, from the environment or from ``.dlt/*.toml``.
* :class:`HttpSettings`: timeouts, retries, breaker, pool, hosts. Re-exported by
  :mod:`sources.kit.http`; kept here so :mod:`sources.kit.retry` can build a policy
  from it without importing the session. Users set its keys through
  :class:`sources.kit.http_config.HttpConfiguration` (``sources.<name>.*``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

from .errors import ConfigurationError

ListSetting = Optional[Union[str, Sequence[str]]]
"""Type hint of a list setting in a ``@dlt.source`` or ``@with_config`` signature.

dlt 1.31 resolves a ``Sequence[str]`` hint with ``json.loads`` of the text it finds
(``dlt/common/configuration/utils.py: deserialize_value``), so
``SOURCES__STRIPE__RESOURCES=customers,events`` fails with a JSON error. dlt resolves an
``Optional`` union as its first member (``extract_inner_type`` in ``dlt/common/typing.py``),
here ``str``: text from the environment arrives as written, and a TOML array arrives as
its JSON text (``coerce_value("text", "json", ...)``). Values passed in code are not
deserialized and may be lists. The function then calls :func:`str_list` on the value.
"""


def str_list(value: Any, setting: str, *, secret: bool = False) -> Optional[list[str]]:
    """Reads a list setting in any of the forms users write it.

    Args:
        value: ``"a,b"``, ``'["a", "b"]'``, ``["a", "b"]`` (or a tuple), or None.
        setting: The setting's full key (``sources.stripe.resources``), for errors.
        secret: The items are secrets: errors never quote the value.

    Returns:
        The items, stripped, in order, blank ones dropped; None when unset or empty
        (the connector's default applies).

    Raises:
        ConfigurationError: One line naming ``setting``: text that starts like a JSON
            array but is not one, a value of another type, or items that are not text.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return [item.strip() for item in text.split(",") if item.strip()] or None
        try:
            value = json.loads(text)
        except ValueError:
            shown = "" if secret else f" {text!r}"
            raise ConfigurationError(
                f"{setting}{shown} starts like a JSON array but is not one: write "
                'a comma-separated list (a,b) or a JSON array (["a", "b"])'
            ) from None
    if not isinstance(value, (list, tuple)):
        shown = "" if secret else f" {value!r}"
        raise ConfigurationError(
            f"{setting} must be a list of names or a comma-separated string, "
            f"got {type(value).__name__}{shown}"
        )
    bad = [item for item in value if not isinstance(item, str)]
    if bad:
        shown = "a non-text item" if secret else f"{bad[0]!r} in {list(value)!r}"
        raise ConfigurationError(f"{setting} must hold names (text), got {shown}")
    return [item.strip() for item in value if item.strip()] or None


JITTER_STRATEGIES = ("full", "equal", "none")


@dataclass
class HttpSettings:
    """How a source's HTTP session behaves.

    Attributes:
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait between bytes of the response.
        max_attempts: Attempts per request, the first included.
        backoff_base: First exponential backoff delay in seconds.
        backoff_cap: Largest exponential backoff delay in seconds.
        retry_budget: Retries allowed across the whole run (all resources, all threads).
        jitter: ``full``, ``equal`` or ``none``.
        idempotency_header: Header carrying the idempotency key of POST/PATCH requests.
        should_retry_header: Header by which the server says whether to retry
            (``Stripe-Should-Retry``); None when the API has none.
        user_agent: ``User-Agent`` sent with every request.
        allowed_hosts: Hosts credentials may be sent to (``*.example.com`` matches
            subdomains); empty allows any host.
        breaker_failure_threshold: Consecutive failures that open the circuit.
        breaker_recovery_timeout: Seconds the circuit stays open before a trial call.
        pool_maxsize: Connections kept per host.
        max_wait_s: Longest wait a ``Retry-After`` (or spent window) may impose; a longer
            one raises ``RateLimitWaitTooLongError`` at once instead of waiting (None: every
            hint is waited for, up to the schedule's cap, as before).
    """

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_budget: int = 1000
    jitter: str = "full"
    idempotency_header: str = "Idempotency-Key"
    should_retry_header: Optional[str] = None
    user_agent: str = "sluice/0.1"
    allowed_hosts: tuple[str, ...] = ()
    breaker_failure_threshold: int = 5
    breaker_recovery_timeout: float = 30.0
    pool_maxsize: int = 32
    max_wait_s: Optional[float] = None

    def __post_init__(self) -> None:
        if self.jitter not in JITTER_STRATEGIES:
            raise ConfigurationError(
                f"unknown jitter strategy {self.jitter!r}: "
                f"use one of {', '.join(JITTER_STRATEGIES)}"
            )
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        if min(self.connect_timeout, self.read_timeout) <= 0:
            raise ConfigurationError("connect_timeout and read_timeout must be positive")
        if self.backoff_base < 0 or self.backoff_cap < 0 or self.retry_budget < 0:
            raise ConfigurationError("backoff_base, backoff_cap and retry_budget must be >= 0")
        if self.breaker_failure_threshold < 1 or self.pool_maxsize < 1:
            raise ConfigurationError("breaker_failure_threshold and pool_maxsize must be >= 1")
        self.allowed_hosts = tuple(self.allowed_hosts)

    @property
    def timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout passed to requests."""
        return (self.connect_timeout, self.read_timeout)
