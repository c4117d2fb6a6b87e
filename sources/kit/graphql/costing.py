"""Static requested cost of a query, and the page size whose cost fits a budget.

Shopify's calculated query cost (https://shopify.dev/docs/api/usage/rate-limits#cost-calculation):
scalars and enums 0, objects 1, a connection 2 plus ``first`` times the cost of one of
its nodes. The server's ``requestedQueryCost`` is the authority: :class:`PageSizer`
scales the static figure by what the first answer said, then picks the largest
``first`` whose estimate stays within the limiter's page budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from graphql import parse
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

CONNECTION_COST = 2
"""What a connection costs besides its nodes."""

SIZE_ARGUMENTS = ("first", "last")


def _size(node: FieldNode, variables: Mapping[str, Any]) -> Optional[int]:
    for argument in node.arguments or ():
        if argument.name.value not in SIZE_ARGUMENTS:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return int(given) if isinstance(given, int) else 0
    return None


@dataclass
class _Walker:
    variables: Mapping[str, Any]
    fragments: dict[str, FragmentDefinitionNode]

    def selection(self, selection_set: Optional[SelectionSetNode]) -> float:
        if selection_set is None:
            return 0.0
        total = 0.0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection)
            elif isinstance(selection, InlineFragmentNode):
                total += self.selection(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                total += self.selection(fragment.selection_set if fragment else None)
        return total

    def field(self, node: FieldNode) -> float:
        if node.selection_set is None:
            return 0.0  # scalar or enum
        size = _size(node, self.variables)
        if size is None:
            return 1.0 + self.selection(node.selection_set)
        return CONNECTION_COST + size * self.node_cost(node.selection_set)

    def node_cost(self, selection_set: SelectionSetNode) -> float:
        """Cost of one element of a connection (``edges { node }`` or ``nodes``)."""
        cost = 0.0
        for selection in selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.selection_set is None:
                continue
            name = selection.name.value
            if name == "nodes":
                cost += 1.0 + self.selection(selection.selection_set)
            elif name == "edges":
                for inner in selection.selection_set.selections:
                    if isinstance(inner, FieldNode) and inner.name.value == "node":
                        cost += 1.0 + self.selection(inner.selection_set)
            elif name != "pageInfo":
                cost += self.field(selection)  # a plain list of objects (refunds)
        return cost or 1.0


def static_cost(query: str, variables: Optional[Mapping[str, Any]] = None) -> float:
    """The requested cost of a query by the documented rules (its first operation).

    Args:
        query: The GraphQL document.
        variables: Values of its variables (``first`` given as ``$first``).

    Returns:
        Points; a mutation costs 10 (https://shopify.dev/docs/api/usage/rate-limits).
    """
    document = parse(query)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = _Walker(variables or {}, fragments)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if definition.operation.value == "mutation":
                return 10.0
            return walker.selection(definition.selection_set)
    return 0.0


@dataclass
class PageSizer:
    """The ``first`` of each page of one query, so its requested cost fits the budget.

    Attributes:
        query: The paged query (``first`` given as the variable ``size_variable``).
        max_size: The API's largest page (Shopify: 250).
        start_size: The first page's size, before any answer taught the budget...
        start_budget: ...or smaller, so its estimate stays within this many points.
        size_variable: Name of the page-size variable.
        scale: Server's requested cost over ours, learnt from the first answer.
    """

    query: str
    max_size: int = 250
    start_size: int = 10
    start_budget: float = 200.0
    size_variable: str = "first"
    scale: Optional[float] = None
    _costs: dict[int, float] = field(default_factory=dict, repr=False)

    def estimate(self, size: int, variables: Optional[Mapping[str, Any]] = None) -> float:
        """Requested cost of a page of ``size``, in the server's own scale."""
        if size not in self._costs:
            given = {**(variables or {}), self.size_variable: size}
            self._costs[size] = static_cost(self.query, given)
        return self._costs[size] * (self.scale if self.scale is not None else 1.0)

    def learn(self, size: int, requested: Optional[float]) -> None:
        """Calibrates on a page's ``requestedQueryCost`` (the server's figure)."""
        ours = self.estimate(size) / (self.scale or 1.0)
        if requested is not None and requested > 0 and ours > 0:
            self.scale = requested / ours

    def size(self, budget: Optional[float]) -> int:
        """The largest page whose estimate fits ``budget`` (a cheap start without one)."""
        if budget is None:
            return self._fit(self.start_budget, self.start_size)
        return self._fit(budget, self.max_size)

    def _fit(self, budget: float, most: int) -> int:
        low, high = 1, most
        while low < high:  # cost grows with size: binary search the largest that fits
            mid = (low + high + 1) // 2
            if self.estimate(mid) <= budget:
                low = mid
            else:
                high = mid - 1
        return low
