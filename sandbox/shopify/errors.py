"""Shopify's shapes for request-level errors (graphql-ruby wording and codes).

Shopify's Admin API runs graphql-ruby, whose static validation answers HTTP 200 with
``errors[]`` such as ``Field 'x' doesn't exist on type 'Product'`` and
``extensions.code = "undefinedField"`` (graphql-ruby
``lib/graphql/static_validation/rules/fields_are_defined_on_type_error.rb``); the sandbox
validates with graphql-core and rewrites its messages into those shapes. THROTTLED and
MAX_COST_EXCEEDED are in https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
)

RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_UNDEFINED = re.compile(r"Cannot query field '(\w+)' on type '(\w+)'")
_UNKNOWN_ARG = re.compile(r"Unknown argument '(\w+)' on field '(\w+)\.(\w+)'")


def throttled() -> dict[str, Any]:
    """The error of a query the bucket cannot pay for yet."""
    return {
        "message": "Throttled",
        "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS},
    }


def max_cost_exceeded(cost: int, max_cost: int) -> dict[str, Any]:
    """The error of a single query requesting more than the per-query maximum."""
    return {
        "message": (
            f"Query cost is {cost}, which exceeds the single query max cost limit ({max_cost}).\n\n"
            "See https://shopify.dev/concepts/about-apis/rate-limits for more information on "
            "how the\ncost of a query is calculated.\n\nTo query larger amounts of data with "
            "fewer limits, bulk operations should be used instead.\nSee "
            "https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage "
            "details.\n"
        ),
        "extensions": {
            "code": "MAX_COST_EXCEEDED",
            "cost": cost,
            "maxCost": max_cost,
            "documentation": RATE_LIMIT_DOCS,
        },
    }


def validation_error(error: GraphQLError, document: DocumentNode) -> dict[str, Any]:
    """A graphql-core validation error in graphql-ruby's wording, with the AST path."""
    formatted: dict[str, Any] = {"message": error.message}
    if error.locations:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    node = error.nodes[0] if error.nodes else None
    path = _ast_path(document, node) if node is not None else None
    if path:
        formatted["path"] = path
    undefined = _UNDEFINED.search(error.message)
    unknown_arg = _UNKNOWN_ARG.search(error.message)
    if undefined:
        field, type_name = undefined.groups()
        formatted["message"] = f"Field '{field}' doesn't exist on type '{type_name}'"
        formatted["extensions"] = {
            "code": "undefinedField",
            "typeName": type_name,
            "fieldName": field,
        }
    elif unknown_arg:
        arg, type_name, field = unknown_arg.groups()
        formatted["message"] = f"Field '{field}' doesn't accept argument '{arg}'"
        formatted["extensions"] = {
            "code": "argumentNotAccepted",
            "name": field,
            "typeName": "Field",
            "argumentName": arg,
        }
    return formatted


def _ast_path(document: DocumentNode, target: Any) -> Optional[list[str]]:
    """graphql-ruby's path of a node: ``["query Name", "products", "edges", ...]``."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            label = definition.operation.value
            if definition.name:
                label += f" {definition.name.value}"
        elif isinstance(definition, FragmentDefinitionNode):
            label = f"fragment {definition.name.value}"
        else:
            continue
        found = _search(definition.selection_set, target, [label])
        if found:
            return found
    return None


def _search(selection_set: SelectionSetNode, target: Any, path: list[str]) -> Optional[list[str]]:
    for selection in selection_set.selections:
        here = path
        if isinstance(selection, FieldNode):
            here = [*path, selection.alias.value if selection.alias else selection.name.value]
        if selection is target:
            return here
        inner = getattr(selection, "selection_set", None)
        if inner is not None:
            found = _search(inner, target, here)
            if found:
                return found
    return None
