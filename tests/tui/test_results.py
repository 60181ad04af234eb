"""Each operation's TypedDict has exactly the keys the operation selects, at every depth."""

from __future__ import annotations

import types
import typing
from pathlib import Path

import pytest
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    is_composite_type,
    parse,
)

from home_idp.tui import results
from home_idp.tui.operations import document, operation_names

SCHEMA = build_schema((Path(__file__).parents[2] / "schema" / "schema.graphql").read_text())
HANDLES = {
    handle.name: handle
    for handle in vars(results).values()
    if isinstance(handle, results.Query | results.Mutation | results.Subscription)
}


def _is_error(type_name: str) -> bool:
    named = SCHEMA.get_type(type_name)
    return type_name == "Error" or (
        isinstance(named, GraphQLObjectType) and any(i.name == "Error" for i in named.interfaces)
    )


def _fields(
    selections: SelectionSetNode,
    parent: GraphQLNamedType,
    fragments: dict[str, FragmentDefinitionNode],
    out: dict[str, list[tuple[FieldNode, GraphQLNamedType]]],
    success_only: bool,
) -> None:
    """The fields a selection set asks for, by response key (fragments merged in)."""
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            key = (selection.alias or selection.name).value
            out.setdefault(key, []).append((selection, parent))
            continue
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            inner = selection.selection_set
        else:
            assert isinstance(selection, FragmentSpreadNode)
            fragment = fragments[selection.name.value]
            condition, inner = fragment.type_condition, fragment.selection_set
        named = SCHEMA.get_type(condition.name.value) if condition else parent
        assert named is not None
        if success_only and _is_error(named.name):
            continue  # typed errors raise ActionFailed; they are no payload
        _fields(inner, named, fragments, out, success_only)


def _unwrap(hint: object) -> object:
    """The TypedDict inside `X | None` and `list[X]`, or the hint itself."""
    while True:
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        elif origin is list:
            (hint,) = typing.get_args(hint)
        else:
            return hint


def _named(output: GraphQLOutputType) -> GraphQLNamedType:
    while isinstance(output, GraphQLNonNull | GraphQLList):
        output = output.of_type
    return output


def _check(
    typed: object,
    parent: GraphQLNamedType,
    nodes: list[FieldNode] | list[OperationDefinitionNode],
    fragments: dict[str, FragmentDefinitionNode],
    path: str,
    success_only: bool = False,
) -> None:
    selected: dict[str, list[tuple[FieldNode, GraphQLNamedType]]] = {}
    for node in nodes:
        assert node.selection_set is not None
        _fields(node.selection_set, parent, fragments, selected, success_only)
    hints = typing.get_type_hints(typed, globalns=vars(results))
    assert set(hints) == set(selected), f"{path}: {sorted(hints)} != {sorted(selected)}"
    for key, found in selected.items():
        field, owner = found[0]
        if field.name.value == "__typename":
            continue
        assert isinstance(owner, GraphQLObjectType | GraphQLInterfaceType)
        named = _named(owner.fields[field.name.value].type)
        if is_composite_type(named):
            subs = [f for f, _ in found if f.selection_set is not None]
            _check(_unwrap(hints[key]), named, subs, fragments, f"{path}.{key}")


def test_every_operation_has_a_typed_handle() -> None:
    assert sorted(HANDLES) == operation_names()


@pytest.mark.parametrize("name", operation_names())
def test_the_typeddict_has_the_keys_the_operation_selects(name: str) -> None:
    parsed = parse(document(name))
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    (operation,) = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    handle = HANDLES[name]
    # Calling `Query[Data](...)` records the subscripted class in the handle's attributes.
    (typed,) = typing.get_args(vars(handle)["__orig_class__"])
    kind = operation.operation.value
    root = SCHEMA.get_root_type(operation.operation)
    assert root is not None
    if isinstance(handle, results.Query):
        _check(typed, root, [operation], fragments, name)
    else:
        (field,) = operation.selection_set.selections
        assert isinstance(field, FieldNode)
        named = _named(root.fields[field.name.value].type)
        _check(_unwrap(typed), named, [field], fragments, name, success_only=kind == "mutation")
