"""The OAuth 1.0a signature base string, exactly as RFC 5849 §3.4.1 defines it.

``METHOD&enc(base string URI)&enc(normalized parameters)`` where:

* METHOD is the request method in upper case;
* the base string URI is ``scheme://host[:port]/path`` with scheme and host in lower
  case, the port only when it is not the scheme's default, and no query or fragment;
* the parameters are those of the query, of an ``application/x-www-form-urlencoded``
  body and the ``oauth_*`` protocol parameters (never ``realm`` nor
  ``oauth_signature``), each name and value percent-encoded, sorted by encoded name
  then encoded value, joined as ``name=value`` with ``&``;
* ``enc`` is percent-encoding per RFC 3986 of the UTF-8 bytes: everything but
  ``A-Z a-z 0-9 - . _ ~`` becomes ``%XX`` with upper-case hex.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional, Union
from urllib.parse import parse_qsl, quote, urlsplit

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
DEFAULT_PORTS = {"http": 80, "https": 443}
EXCLUDED_PARAMETERS = frozenset({"realm", "oauth_signature"})

Parameters = list[tuple[str, str]]


def percent_encode(value: str) -> str:
    """Percent-encodes per RFC 3986 / RFC 5849 §3.6 (only unreserved characters stay)."""
    return quote(value.encode("utf-8"), safe="~")


def base_string_uri(url: str) -> str:
    """``scheme://host[:port]/path`` of a request URL (RFC 5849 §3.4.1.2)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    authority = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{authority}{parts.path or '/'}"


def decode_form(text: str) -> Parameters:
    """Name/value pairs of a form-encoded string (``+`` is a space; bare names get ``""``)."""
    return parse_qsl(text, keep_blank_values=True)


def query_parameters(url: str) -> Parameters:
    """The parameters of a URL's query component (RFC 5849 §3.4.1.3.1)."""
    return decode_form(urlsplit(url).query)


def is_form_body(content_type: Optional[str]) -> bool:
    """Tells whether a body's parameters are signed (single-part form encoding only)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE


def body_parameters(body: Union[str, bytes, None], content_type: Optional[str]) -> Parameters:
    """The parameters of a form-encoded entity body; none for any other body."""
    if body is None or not is_form_body(content_type):
        return []
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return []
    if not isinstance(body, str):
        return []
    return decode_form(body)


def normalize_parameters(parameters: Iterable[tuple[str, str]]) -> str:
    """Encodes, sorts and joins parameters (RFC 5849 §3.4.1.3.2); drops realm and signature."""
    encoded = sorted(
        (percent_encode(name), percent_encode(value))
        for name, value in parameters
        if name not in EXCLUDED_PARAMETERS
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def signature_base_string(
    method: str,
    url: str,
    oauth_parameters: Iterable[tuple[str, str]],
    body: Union[str, bytes, None] = None,
    content_type: Optional[str] = None,
) -> str:
    """The signature base string of a request (RFC 5849 §3.4.1).

    Args:
        method: HTTP method.
        url: Full request URL, query included.
        oauth_parameters: The ``oauth_*`` protocol parameters (realm and signature are
            left out even if present).
        body: The entity body; only a form-encoded one contributes parameters.
        content_type: The body's ``Content-Type``.

    Returns:
        ``METHOD&enc(base string URI)&enc(normalized parameters)``.
    """
    parameters = query_parameters(url) + body_parameters(body, content_type)
    parameters.extend(oauth_parameters)
    return "&".join(
        (
            method.upper(),
            percent_encode(base_string_uri(url)),
            percent_encode(normalize_parameters(parameters)),
        )
    )
