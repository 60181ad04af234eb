"""What an operation selects once every fragment is expanded, measured in one pass.

Expanding fragment spreads one by one (as Strawberry's `QueryDepthLimiter` and
`MaxAliasesLimiter` do) costs time in proportion to the expanded operation,
which doubles with every level of `fragment A on Query { ...B ...B }`. Here
each fragment is measured once and its figures reused wherever it is spread,
so the cost is linear in the document, while the figures are those of the
expanded operation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

__all__ = ["SelectionCost", "measure_document"]


@dataclass(frozen=True)
class SelectionCost:
    """Figures of a selection set as if its fragment spreads were written out.

    `depth` counts field nesting as `QueryDepthLimiter` does: a field with a
    selection set is one deeper than its deepest child, a leaf and an
    introspection field (`__schema`, `__type`, `__typename`) count 0.
    `aliases` counts every aliased field, a fragment's once each time it is
    spread. The count stops growing at `ceiling`: past a limit only "over"
    matters, and sixty levels of doubling would otherwise make huge numbers.
    """

    depth: int = 0
    aliases: int = 0

    def beside(self, other: SelectionCost, ceiling: int) -> SelectionCost:
        """Both selected in the same selection set."""
        return SelectionCost(
            depth=max(self.depth, other.depth),
            aliases=min(self.aliases + other.aliases, ceiling),
        )


_NOTHING = SelectionCost()


class _Measurer:
    """Measures fragments on demand, each once; a cycle counts as nothing.

    A fragment spread inside its own expansion is left at zero here:
    graphql-core's `NoFragmentCycles` rule refuses such documents with its
    own error once these figures are within the limits. Unknown fragments are
    likewise left to `KnownFragmentNames`.
    """

    def __init__(self, document: DocumentNode, ceiling: int) -> None:
        self.ceiling = ceiling
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.measured: dict[str, SelectionCost] = {}

    def fragment(self, name: str) -> SelectionCost:
        """The figures of fragment `name`, measuring the fragments it spreads first.

        An explicit stack rather than recursion: a chain of hundreds of
        fragments must not exhaust Python's recursion limit.
        """
        if name in self.measured or name not in self.fragments:
            return self.measured.get(name, _NOTHING)
        in_progress: set[str] = set()
        stack = [name]
        while stack:
            current = stack[-1]
            if current in self.measured:
                stack.pop()
                continue
            in_progress.add(current)
            waiting = [
                spread
                for spread in _spreads(self.fragments[current].selection_set)
                if spread in self.fragments
                and spread not in self.measured
                and spread not in in_progress
            ]
            if waiting:
                stack.extend(waiting)
                continue
            # Fragments still in progress here are part of a cycle: they count 0.
            self.measured[current] = self.selection_set(self.fragments[current].selection_set)
            in_progress.discard(current)
            stack.pop()
        return self.measured[name]

    def selection_set(self, selection_set: SelectionSetNode) -> SelectionCost:
        """Figures of one selection set; its spreads must have been measured already.

        Recursion here follows the nesting of one definition only, which the
        parser caps at 200 levels.
        """
        total = _NOTHING
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total = total.beside(self._field(selection), self.ceiling)
            elif isinstance(selection, InlineFragmentNode):
                total = total.beside(self.selection_set(selection.selection_set), self.ceiling)
            elif isinstance(selection, FragmentSpreadNode):
                total = total.beside(
                    self.measured.get(selection.name.value, _NOTHING), self.ceiling
                )
        return total

    def _field(self, field: FieldNode) -> SelectionCost:
        alias = 1 if field.alias else 0
        if field.selection_set is None:
            return SelectionCost(depth=0, aliases=alias)
        inner = self.selection_set(field.selection_set)
        # Introspection (`__schema`, `__type`) is exempt from depth, as in
        # QueryDepthLimiter, but its aliases still count.
        depth = 0 if field.name.value.startswith("__") else 1 + inner.depth
        return SelectionCost(depth=depth, aliases=min(alias + inner.aliases, self.ceiling))


def _spreads(selection_set: SelectionSetNode) -> Iterable[str]:
    """Names of the fragments spread anywhere inside one selection set."""
    pending = [selection_set]
    while pending:
        current = pending.pop()
        for selection in current.selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif (
                isinstance(selection, (FieldNode, InlineFragmentNode))
                and selection.selection_set is not None
            ):
                pending.append(selection.selection_set)


def measure_document(document: DocumentNode, ceiling: int) -> SelectionCost:
    """The figures of the operations in `document`: the deepest, and all aliases.

    Runs in time linear in the document: each fragment is measured once.
    Alias counts stop at `ceiling`.
    """
    measurer = _Measurer(document, ceiling)
    for name in measurer.fragments:
        measurer.fragment(name)
    total = _NOTHING
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total = total.beside(measurer.selection_set(definition.selection_set), ceiling)
    return total
