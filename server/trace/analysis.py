"""What a trace's spans tell: their tree, and the critical path through it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from home_idp.server.trace.models import Span

__all__ = ["PathSegment", "SpanTree", "critical_path"]


@dataclass(frozen=True)
class PathSegment:
    """A span on the critical path, and the part of its time that lies on it."""

    span: Span
    self_ns: int


class SpanTree:
    """A trace's spans arranged by parent; spans whose parent is missing are roots."""

    def __init__(self, spans: Sequence[Span]) -> None:
        self.spans = sorted(spans, key=lambda span: (span.start_ns, span.id))
        known = {span.span_id for span in self.spans}
        self.children: dict[str, list[Span]] = defaultdict(list)
        self.roots: list[Span] = []
        for span in self.spans:
            if span.parent_span_id and span.parent_span_id in known:
                self.children[span.parent_span_id].append(span)
            else:
                self.roots.append(span)
        self.depth: dict[str, int] = {}
        pending = [(root, 0) for root in self.roots]
        while pending:
            span, depth = pending.pop()
            if span.span_id in self.depth:  # a cycle of parent ids: seen once is enough
                continue
            self.depth[span.span_id] = depth
            pending += [(child, depth + 1) for child in self.children[span.span_id]]

    @property
    def start_ns(self) -> int:
        return min((span.start_ns for span in self.spans), default=0)

    @property
    def end_ns(self) -> int:
        return max((span.end_ns for span in self.spans), default=0)


def critical_path(tree: SpanTree) -> list[PathSegment]:
    """The chain of spans that made the trace as long as it is, in time order.

    Walking back from the end of the longest root: the child that ended last
    is what the parent waited for; before that child started, the child that
    ended last before then; the parent's own time fills the gaps. A child
    that outlives its parent counts up to the parent's end. Iterative, so a
    deep trace cannot exhaust the stack.
    """
    if not tree.roots:
        return []
    root = max(tree.roots, key=lambda span: span.end_ns - span.start_ns)
    segments: list[PathSegment] = []
    seen = {root.span_id}
    stack = [_Frame(tree, root, root.end_ns)]
    while stack:
        frame = stack[-1]
        following = frame.next_critical_child(seen)
        if following is None:
            segments.append(PathSegment(frame.span, frame.own_ns()))
            stack.pop()
        else:
            child, until = following
            seen.add(child.span_id)
            stack.append(_Frame(tree, child, until))
    segments.reverse()
    return [segment for segment in segments if segment.self_ns > 0]


class _Frame:
    """One span being walked: its cursor moves back in time over its children."""

    def __init__(self, tree: SpanTree, span: Span, until: int) -> None:
        self.span = span
        self.cursor: int = min(span.end_ns, until)
        self.own: int = 0
        self._children = iter(
            sorted(tree.children[span.span_id], key=lambda child: child.end_ns, reverse=True)
        )

    def next_critical_child(self, seen: set[str]) -> tuple[Span, int] | None:
        """The next child on the path and the time it is cut at; None when none is left."""
        for child in self._children:
            end = min(child.end_ns, self.span.end_ns)
            if end > self.cursor or end <= self.span.start_ns or child.span_id in seen:
                # It overlapped a later critical child (nothing waited for it), it
                # ended before this span began, or a cycle of ids led back to it.
                continue
            self.own += self.cursor - end
            self.cursor = max(child.start_ns, self.span.start_ns)
            return child, end
        return None

    def own_ns(self) -> int:
        start: int = self.span.start_ns
        return self.own + max(self.cursor - start, 0)
