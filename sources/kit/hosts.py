"""Keeps credentials on the hosts they belong to: allowlist, origins, safe redirects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional
from urllib.parse import urljoin, urlsplit, urlunsplit

from requests import PreparedRequest, Response
from requests.utils import requote_uri

from .redact import is_sensitive_header, is_sensitive_query_param

DEFAULT_PORTS = {"http": 80, "https": 443}
BODY_KEEPING_REDIRECTS = frozenset({307, 308})
BODY_HEADERS = ("Content-Length", "Content-Type", "Transfer-Encoding")


def hostname_of(url: Optional[str]) -> str:
    """The lower-case host name of a URL (empty when it has none)."""
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    """Tells whether credentials may be sent to ``host``.

    Args:
        host: Host name of the request.
        allowed_hosts: Exact names, or ``*.example.com`` for subdomains; empty allows all.

    Returns:
        True when the list is empty or a pattern matches.
    """
    patterns = [p.strip().lower() for p in allowed_hosts if p.strip()]
    if not patterns:
        return True
    host = host.lower()
    for pattern in patterns:
        if pattern.startswith("*."):
            if host == pattern[2:] or host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def origin_of(url: str) -> tuple[str, str, Optional[int]]:
    """``(scheme, host, port)`` of a URL, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def same_origin(old_url: str, new_url: str) -> bool:
    """Tells whether a redirect stays on the same origin (http->https upgrade allowed)."""
    old, new = origin_of(old_url), origin_of(new_url)
    if old == new:
        return True
    upgrade = old[0] == "http" and old[2] == 80 and new[0] == "https" and new[2] == 443
    return upgrade and old[1] == new[1]


def credential_header_names(request: PreparedRequest) -> list[str]:
    """Names of the request's headers that carry credentials."""
    return [name for name in request.headers if is_sensitive_header(name)]


def url_has_credentials(url: str) -> bool:
    """Tells whether a URL carries userinfo or a sensitive query parameter."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        return True
    names = (pair.partition("=")[0] for pair in parts.query.split("&") if pair)
    return any(is_sensitive_query_param(name) for name in names)


def carries_credentials(request: PreparedRequest) -> bool:
    """Tells whether the request would send credentials (headers or URL)."""
    return bool(credential_header_names(request)) or url_has_credentials(request.url or "")


def url_without_credentials(url: str) -> str:
    """Drops userinfo and sensitive query parameters from a URL."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and not is_sensitive_query_param(pair.partition("=")[0])
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(kept), parts.fragment))


def strip_credentials(request: PreparedRequest) -> None:
    """Removes credential headers, cookies and secret URL parts from ``request`` in place."""
    for name in credential_header_names(request):
        del request.headers[name]
    request.headers.pop("Cookie", None)
    request.url = url_without_credentials(request.url or "")


def redirect_target(response: Response) -> Optional[str]:
    """The absolute URL a redirect response points to, or None for other responses."""
    if not response.is_redirect:
        return None
    location = response.headers["location"].encode("latin1").decode("utf8", "replace")
    base = response.url or (response.request.url if response.request else "") or ""
    if location.startswith("//"):
        location = f"{urlsplit(base).scheme}:{location}"
    return urljoin(base, requote_uri(location))


def redirected_request(previous: PreparedRequest, response: Response, url: str) -> PreparedRequest:
    """Builds the request that follows a redirect, safely.

    Applies the method rules browsers and requests follow (303 and 302 become GET,
    a POST answered with 301 becomes GET), drops the body unless the status is
    307/308, and strips every credential when the redirect leaves the origin.

    Args:
        previous: The request that was redirected.
        response: The redirect response.
        url: Where it points (from :func:`redirect_target`).

    Returns:
        A new prepared request; ``previous`` is not modified.
    """
    request = previous.copy()
    request.url = url
    method = (request.method or "GET").upper()
    status = response.status_code
    if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
        request.method = "GET"
    if status not in BODY_KEEPING_REDIRECTS:
        request.body = None
        for header in BODY_HEADERS:
            request.headers.pop(header, None)
    if not same_origin(previous.url or "", url):
        strip_credentials(request)
    return request
