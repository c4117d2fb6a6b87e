"""Calculated query cost: requested (static, from the query's AST) and actual (from data).

Rules of https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits ("Cost
calculation") and https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits
(a mutation answering ``requestedQueryCost: 10`` is shown in Shopify/graphql-js-client#141):
a scalar or enum field costs 0, an object 1, an interface or union the maximum of its
possible selections, a connection 2 plus ``first``/``last`` times the cost of one node's
selection, a mutation 10. The requested cost assumes every page is full; the actual cost
counts what came back ("the requested cost is the maximum ... the actual cost is based on
the results returned"). Introspection (``__schema``, ``__type``) is free in the sandbox.
Sandbox choices where the docs are silent: ``edges``/``node``/``nodes``/``pageInfo``
inside a connection are covered by its 2; the docs size only connections by
``first``/``last``, so a plain list of objects (``Order.refunds(first:)``) costs as one
object requested (its actual cost counts what came back); ``nodes(ids:)`` is sized by
the number of ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import get_argument_values

MUTATION_COST = 10
CONNECTION_COST = 2
OBJECT_COST = 1
_CONNECTION_PARTS = {"edges", "nodes", "pageInfo"}


class CostCalculator:
    """Costs of one operation of a parsed, validated document."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Prepares to cost ``operation`` with its ``variables`` resolved."""
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = dict(variables or {})

    def requested(self) -> int:
        """The cost assuming every connection returns ``first``/``last`` nodes."""
        return self._operation_cost(None, actual=False)

    def actual(self, data: Optional[Mapping[str, Any]]) -> int:
        """The cost of what ``data`` holds (None: nothing was returned, 0)."""
        if data is None:
            return 0
        return self._operation_cost(data, actual=True)

    def _operation_cost(self, data: Optional[Mapping[str, Any]], actual: bool) -> int:
        if self.operation.operation == OperationType.MUTATION:
            fields = [
                s for s in self.operation.selection_set.selections if isinstance(s, FieldNode)
            ]
            return MUTATION_COST * len(fields)
        root = self.schema.query_type
        assert root is not None
        return self._selection_cost(self.operation.selection_set, root, data, actual)

    def _selection_cost(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        data: Optional[Mapping[str, Any]],
        actual: bool,
    ) -> int:
        """Fields on ``parent`` plus, per other type condition, the largest fragment."""
        total = 0
        by_type: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, data, actual)
                continue
            condition, inner = self._fragment(selection)
            target = self.schema.get_type(condition) if condition else parent
            if target is None:
                continue
            cost = self._selection_cost(inner, target, data, actual)
            if target is parent:
                total += cost
            else:
                by_type[target.name] = by_type.get(target.name, 0) + cost
        return total + max(by_type.values(), default=0)

    def _fragment(self, node: Any) -> tuple[Optional[str], SelectionSetNode]:
        if isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else None
            return condition, node.selection_set
        assert isinstance(node, FragmentSpreadNode)
        fragment = self.fragments[node.name.value]
        return fragment.type_condition.name.value, fragment.selection_set

    def _field_cost(
        self,
        node: FieldNode,
        parent: GraphQLNamedType,
        data: Optional[Mapping[str, Any]],
        actual: bool,
    ) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, (GraphQLObjectType, GraphQLInterfaceType)
        ):
            return 0
        field = parent.fields.get(name)
        if field is None:
            return 0
        named = get_named_type(field.type)
        if not isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)):
            return 0  # scalars and enums are free
        key = node.alias.value if node.alias else name
        value = data.get(key) if data is not None else None
        if actual and value is None:
            return 0
        if named.name.endswith("Connection") and node.selection_set is not None:
            return self._connection_cost(node, field, named, value, actual)
        if _is_list(field.type):
            return self._list_cost(node, field, named, value, actual)
        children = self._children(node, named, value if actual else None, actual)
        return OBJECT_COST + children

    def _connection_cost(
        self,
        node: FieldNode,
        field: GraphQLField,
        connection: GraphQLNamedType,
        value: Any,
        actual: bool,
    ) -> int:
        assert node.selection_set is not None and isinstance(connection, GraphQLObjectType)
        node_type = get_named_type(connection.fields["nodes"].type)
        selections = self._node_selections(node.selection_set)
        if not actual:
            size = self._size(node, field)
            per_node = max(
                (OBJECT_COST + self._selection_cost(s, node_type, None, False) for s in selections),
                default=0,
            )
            return CONNECTION_COST + size * per_node
        items = _returned_nodes(value)
        cost = CONNECTION_COST
        for item in items:
            cost += max(
                (OBJECT_COST + self._selection_cost(s, node_type, item, True) for s in selections),
                default=0,
            )
        return cost

    def _node_selections(self, selection_set: SelectionSetNode) -> list[SelectionSetNode]:
        """The selections made on one node: under ``edges { node }`` and under ``nodes``."""
        found: list[SelectionSetNode] = []
        for selection in self._flat_fields(selection_set):
            if selection.name.value == "nodes" and selection.selection_set:
                found.append(selection.selection_set)
            if selection.name.value == "edges" and selection.selection_set:
                for inner in self._flat_fields(selection.selection_set):
                    if inner.name.value == "node" and inner.selection_set:
                        found.append(inner.selection_set)
        return found

    def _flat_fields(self, selection_set: SelectionSetNode) -> list[FieldNode]:
        fields: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            else:
                fields.extend(self._flat_fields(self._fragment(selection)[1]))
        return fields

    def _list_cost(
        self,
        node: FieldNode,
        field: GraphQLField,
        item_type: GraphQLNamedType,
        value: Any,
        actual: bool,
    ) -> int:
        if not actual:
            if "ids" in field.args:  # nodes(ids:): one object per id asked for
                size = self._count_ids(node, field)
            else:
                size = 1
            return size * (OBJECT_COST + self._children(node, item_type, None, False))
        items = value if isinstance(value, list) else []
        return sum(
            OBJECT_COST + self._children(node, item_type, item, True)
            for item in items
            if item is not None
        )

    def _children(self, node: FieldNode, named: GraphQLNamedType, value: Any, actual: bool) -> int:
        if node.selection_set is None:
            return 0
        data = value if isinstance(value, Mapping) else None
        if actual and data is None:
            return 0
        return self._selection_cost(node.selection_set, named, data, actual)

    def _count_ids(self, node: FieldNode, field: GraphQLField) -> int:
        try:
            ids = get_argument_values(field, node, self.variables).get("ids")
        except Exception:  # noqa: BLE001 - an invalid argument is reported by execution
            return 0
        return len(ids) if isinstance(ids, list) else 0

    def _size(self, node: FieldNode, field: GraphQLField) -> int:
        """``first`` or ``last`` of a field, variables resolved (0 when absent or invalid)."""
        try:
            args = get_argument_values(field, node, self.variables)
        except Exception:  # noqa: BLE001 - an invalid argument is reported by execution
            return 0
        size = args.get("first") if args.get("first") is not None else args.get("last")
        return int(size) if isinstance(size, int) and size > 0 else 0


def _is_list(type_: GraphQLOutputType) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(inner, GraphQLList)


def _returned_nodes(value: Any) -> list[Mapping[str, Any]]:
    """The nodes a connection's result holds (``edges[].node`` or ``nodes``, deduplicated)."""
    if not isinstance(value, Mapping):
        return []
    edges = value.get("edges")
    if isinstance(edges, list) and edges:
        return [e["node"] for e in edges if isinstance(e, Mapping) and e.get("node") is not None]
    nodes = value.get("nodes")
    return [n for n in nodes if n is not None] if isinstance(nodes, list) else []
