"""What a query selects below the connection being resolved, read from the document.

Performance code: `Member.connection` uses it to load a page's users, roles and
projects ahead in one batch per loader. `tests/bench/api.py` measures what it
buys on the `projects { members { user role } }` list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import strawberry
from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
    VariableNode,
)

__all__ = ["selected_node_fields"]


class _Selection:
    """Walks the selections of the field being resolved, as the executor will see them."""

    def __init__(self, info: strawberry.Info[Any, Any]) -> None:
        self.fragments: Mapping[str, FragmentDefinitionNode] = info._raw_info.fragments
        self.variables: Mapping[str, Any] = info.variable_values or {}

    def included(self, node: SelectionNode) -> bool:
        """False when `@skip` or `@include` leave the node out; True when unsure."""
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            arguments = directive.arguments or ()
            condition = next((a.value for a in arguments if a.name.value == "if"), None)
            if isinstance(condition, BooleanValueNode):
                value: object = condition.value
            elif isinstance(condition, VariableNode):
                value = self.variables.get(condition.name.value)
            else:
                continue
            if isinstance(value, bool) and value == (name == "skip"):
                return False
        return True

    def fields(self, selections: Iterable[SelectionNode]) -> Iterator[FieldNode]:
        """The fields among `selections`, looking through inline fragments and spreads."""
        for selection in selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                yield selection
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                selection_set = fragment.selection_set if fragment else None
            else:
                selection_set = cast(InlineFragmentNode, selection).selection_set
            if selection_set is not None:
                yield from self.fields(selection_set.selections)

    def subfields(self, fields: Iterable[FieldNode], name: str | None = None) -> list[FieldNode]:
        return [
            sub
            for field in fields
            if field.selection_set is not None
            for sub in self.fields(field.selection_set.selections)
            if name is None or sub.name.value == name
        ]


def selected_node_fields(info: strawberry.Info[Any, Any]) -> frozenset[str]:
    """Names the query selects on `edges { node { … } }` of the connection being resolved.

    For deciding what to load ahead, never what to show: fragments are followed
    whatever their type condition, so this may name more than will be resolved.
    It reads the document rather than `info.selected_fields`, which also converts
    every argument below the field and cost more than the loads it saves.
    """
    selection = _Selection(info)
    nodes = selection.subfields(selection.subfields(info._raw_info.field_nodes, "edges"), "node")
    return frozenset(field.name.value for field in selection.subfields(nodes))
