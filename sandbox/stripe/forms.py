"""Form and query decoding with Stripe's bracket notation.

``metadata[plan]=pro&items[0][price]=price_1&expand[]=customer`` becomes
``{"metadata": {"plan": "pro"}, "items": [{"price": "price_1"}], "expand": ["customer"]}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from . import errors

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


def _split_key(raw: str) -> list[str]:
    match = _KEY.match(raw)
    if match is None:
        raise errors.invalid_request(f"Invalid parameter name: {raw}", param=raw)
    return [match.group(1), *_PART.findall(match.group(2))]


def _insert(root: dict[str, Any], raw_key: str, value: str) -> None:
    parts = _split_key(raw_key)
    node = root
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if part == "":
            part = str(len(node))
        if last:
            if isinstance(node.get(part), dict):
                raise errors.invalid_request(f"Invalid value for {raw_key}", param=raw_key)
            node[part] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise errors.invalid_request(f"Invalid value for {raw_key}", param=raw_key)
        node = child


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {key: _listify(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest ``(key, value)`` pairs written in bracket notation.

    Hashes whose keys are all indexes (``a[0]``, ``a[1]`` or ``a[]``) become lists.

    Raises:
        StripeError: 400 for a malformed key or a key used both as a value and a hash.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, key, value)
    listed: dict[str, Any] = _listify(root)
    return listed


def parse_query(query: str) -> dict[str, Any]:
    """Decode a URL query string (``a=1&b[c]=2``)."""
    return parse_pairs(parse_qsl(query, keep_blank_values=True))


def parse_form(body: bytes) -> dict[str, Any]:
    """Decode an ``application/x-www-form-urlencoded`` body.

    Raises:
        StripeError: 400 if the body is not UTF-8 or is malformed.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.invalid_request("The request body is not valid UTF-8.") from None
    return parse_query(text)
