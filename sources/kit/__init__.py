"""The resilience kit every sluice connector shares.

Connectors configure it; none re-implements it. See ``sources/kit/README.md``.
(``sources.kit.auth``, ``sources.kit.deadletters`` and ``sources.kit.validation``
are imported from their own modules.)
"""

from .circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitRegistry
from .errors import (
    AuthenticationError,
    CircuitOpenError,
    ClientError,
    ConfigurationError,
    FatalError,
    MissingCursorError,
    PaginationError,
    PaginationLoopError,
    RateLimitedError,
    RetriableError,
    RetryBudgetExhaustedError,
    ServerError,
    SkippableError,
    SluiceError,
    TooManyRedirectsError,
    TransientNetworkError,
    UnsafeRedirectError,
    error_from_response,
)
from .hints import RateLimitInfo, rate_limit_info, retry_after_seconds
from .http import ResilientSession
from .pagination import (
    LoopGuard,
    LoopSafeJSONLinkPaginator,
    LoopSafeJSONResponseCursorPaginator,
    StartingAfterPaginator,
)
from .ratelimit import (
    AdaptiveSettings,
    BudgetReader,
    BudgetUsage,
    RateLimit,
    RateLimiter,
    SalesforceLimitInfoReader,
    TokenBucket,
)
from .redact import RedactingFilter, Redactor, global_redactor, install_redaction
from .retry import BackoffSchedule, Jitter, RetryBudget, RetryDecider, RetryPolicy
from .settings import HttpSettings
from .stats import HttpStats

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "AdaptiveSettings",
    "AuthenticationError",
    "BackoffSchedule",
    "BudgetReader",
    "BudgetUsage",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitRegistry",
    "ClientError",
    "ConfigurationError",
    "FatalError",
    "HttpSettings",
    "HttpStats",
    "Jitter",
    "LoopGuard",
    "LoopSafeJSONLinkPaginator",
    "LoopSafeJSONResponseCursorPaginator",
    "MissingCursorError",
    "PaginationError",
    "PaginationLoopError",
    "RateLimit",
    "RateLimitInfo",
    "RateLimitedError",
    "RateLimiter",
    "RedactingFilter",
    "Redactor",
    "ResilientSession",
    "RetriableError",
    "RetryBudget",
    "RetryBudgetExhaustedError",
    "RetryDecider",
    "RetryPolicy",
    "SalesforceLimitInfoReader",
    "ServerError",
    "SkippableError",
    "SluiceError",
    "StartingAfterPaginator",
    "TokenBucket",
    "TooManyRedirectsError",
    "TransientNetworkError",
    "UnsafeRedirectError",
    "error_from_response",
    "global_redactor",
    "install_redaction",
    "rate_limit_info",
    "retry_after_seconds",
]
