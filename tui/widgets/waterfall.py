"""A trace as a waterfall: one row per span, each a bar on the trace's time axis.

Spans are as the `Trace` query and the `Spans` subscription answer them. The widget
draws with the Line API, one `Strip` per visible line, so a trace of
thousands of spans costs no more to show than the rows on screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from home_idp.tui.results import TraceSpan
from home_idp.tui.widgets.formatting import clean, duration

__all__ = ["Waterfall", "tree_order"]

Span: TypeAlias = TraceSpan
"""A span; the subscription's also carry a cursor, which the waterfall does not need."""

_INDENT = "  "
_BAR = "█"
_LABEL_WIDTH = 8  # a space, then "1000 ms" / "59.9 s" / "850 µs" right-aligned
_MIN_NAME_WIDTH = 12


def _nanos(value: str | None) -> int:
    # Nanosecond times come as decimal strings so they stay exact; a missing or
    # malformed one (a span still running) must not break the whole trace.
    if value is None:
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _span_id(span: Span) -> str:
    return str(span.get("spanId", ""))


def tree_order(spans: Iterable[Span]) -> list[tuple[Span, int]]:
    """Spans with their depth, each parent before its children, siblings by start time.

    A span whose parent is absent (or itself) is a root. Spans on a parent
    cycle have no root to hang from, so the earliest of them starts a new tree;
    every span appears exactly once, and the walk always ends.
    """
    by_id: dict[str, Span] = {}
    for span in spans:
        by_id[_span_id(span)] = span  # a later copy of a span replaces the earlier one
    # Work on ids from here on: this runs on every live update of a big trace.
    # A stable sort: spans that start together keep the order they arrived in.
    ordered = sorted(by_id, key=lambda span_id: _nanos(by_id[span_id].get("startTimeUnixNano")))
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for span_id in ordered:
        parent = by_id[span_id].get("parentSpanId")
        if parent in by_id and parent != span_id:
            children.setdefault(parent, []).append(span_id)
        else:
            roots.append(span_id)

    result: list[tuple[Span, int]] = []
    seen: set[str] = set()

    def walk(root: str) -> None:
        # Iterative, so a very deep trace cannot hit the recursion limit.
        stack = [(root, 0)]
        while stack:
            span_id, depth = stack.pop()
            if span_id in seen:
                continue
            seen.add(span_id)
            result.append((by_id[span_id], depth))
            stack.extend((child, depth + 1) for child in reversed(children.get(span_id, [])))

    for root in roots:
        walk(root)
    for span_id in ordered:
        if span_id not in seen:
            walk(span_id)
    return result


@dataclass
class _SpanMessage(Message):
    """A message about one span; `control` is the waterfall that sent it."""

    span: Span
    waterfall: Waterfall | None = None

    @property
    def control(self) -> Waterfall | None:
        return self.waterfall


class Waterfall(ScrollView, can_focus=True):
    """A trace's spans as bars on one time axis, with a row cursor.

    Line 0 is a fixed header with the time scale; line y > 0 shows row
    `scroll_y + y - 1`. Moving the cursor posts `SpanHighlighted`; enter, or a
    click on the highlighted row, posts `SpanSelected`.
    """

    class SpanHighlighted(_SpanMessage):
        """The cursor moved to another span (or the span under it was replaced)."""

    class SpanSelected(_SpanMessage):
        """The user chose the span under the cursor (enter or a click on it)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Previous span", show=False),
        Binding("down", "cursor_down", "Next span", show=False),
        Binding("home", "cursor_first", "First span", show=False),
        Binding("end", "cursor_last", "Last span", show=False),
        Binding("pageup", "cursor_page_up", "Page up", show=False),
        Binding("pagedown", "cursor_page_down", "Page down", show=False),
        Binding("enter", "select_span", "Open span"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "waterfall--header",
        "waterfall--bar",
        "waterfall--error-bar",
        "waterfall--duration",
        "waterfall--cursor",
        "waterfall--empty",
    }

    DEFAULT_CSS = """
    Waterfall {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        background: $surface;
        & > .waterfall--header { text-style: bold; color: $text-muted; }
        & > .waterfall--bar { color: $success; }
        & > .waterfall--error-bar { color: $error; }
        & > .waterfall--duration { color: $text-muted; }
        & > .waterfall--empty { color: $text-muted; text-style: italic; }
        & > .waterfall--cursor { background: $block-cursor-blurred-background; }
        &:focus > .waterfall--cursor { background: $block-cursor-background; }
    }
    """

    def __init__(
        self,
        spans: Iterable[Span] = (),
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._spans: dict[str, Span] = {}
        self._rows: list[tuple[Span, int]] = []
        self._origin = 0  # earliest start, in ns
        self._total = 1  # latest end minus origin, in ns; never 0 so scaling can divide
        self._cursor = 0
        self._highlighted: Span | None = None
        # Until the user moves the cursor it stays on the first row (the root, once
        # it arrives: a parent ends, and so arrives, after its children).
        self._cursor_moved = False
        self._dirty = False
        self.set_spans(list(spans))

    @property
    def rows(self) -> list[Span]:
        """The spans in the order they are drawn."""
        self._ensure()
        return [span for span, _ in self._rows]

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def selected_span(self) -> Span | None:
        """The span under the cursor, or None when there are no spans."""
        self._ensure()
        return self._current()

    def _current(self) -> Span | None:
        return self._rows[self._cursor][0] if self._rows else None

    def set_spans(self, spans: list[Span]) -> None:
        """Show these spans instead of the current ones."""
        self._spans = {_span_id(span): span for span in spans}
        self._invalidate()

    def add_span(self, span: Span) -> None:
        """Add a span that just arrived, or replace the one with its spanId."""
        self._spans[_span_id(span)] = span
        self._invalidate()

    def _invalidate(self) -> None:
        # Re-sorting costs O(n log n); spans arrive in bursts, so a burst pays once:
        # the rows are rebuilt when next read, or soon after the burst at the latest.
        if not self._dirty:
            self._dirty = True
            self.call_later(self._ensure)
        self.refresh()

    def _ensure(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        # Follow the highlighted span by id, so live updates never move the cursor off it.
        current = self._current()
        keep = _span_id(current) if current is not None else None
        self._rows = tree_order(self._spans.values())
        starts = [_nanos(span.get("startTimeUnixNano")) for span, _ in self._rows]
        ends = [_nanos(span.get("endTimeUnixNano")) for span, _ in self._rows]
        self._origin = min(starts, default=0)
        self._total = max(max(ends + starts, default=0) - self._origin, 1)
        ids = [_span_id(span) for span, _ in self._rows]
        if not self._cursor_moved:
            self._cursor = 0
        elif keep in ids:
            self._cursor = ids.index(keep)
        else:
            self._cursor = min(self._cursor, max(len(ids) - 1, 0))
        # One line more than the rows: the header.
        self.virtual_size = Size(0, len(self._rows) + 1)
        self.refresh()
        self._notify_highlight()

    def _notify_highlight(self) -> None:
        span = self._current()
        if span is not None and span is not self._highlighted:
            self.post_message(self.SpanHighlighted(span, self))
        self._highlighted = span

    def _move_cursor(self, by: int = 0, to: int | None = None) -> None:
        """Move `by` rows, or `to` a row (negative counts from the end)."""
        self._ensure()  # first: a burst of new spans may have shifted the cursor's row
        if not self._rows:
            return
        self._cursor_moved = True
        row = self._cursor + by if to is None else to % len(self._rows)
        self._cursor = max(0, min(row, len(self._rows) - 1))
        self._scroll_to_cursor()
        self.refresh()
        self._notify_highlight()

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + self._page():
            self.scroll_to(y=self._cursor - self._page() + 1, animate=False)

    def action_cursor_up(self) -> None:
        self._move_cursor(by=-1)

    def action_cursor_down(self) -> None:
        self._move_cursor(by=1)

    def action_cursor_first(self) -> None:
        self._move_cursor(to=0)

    def action_cursor_last(self) -> None:
        self._move_cursor(to=-1)

    def action_cursor_page_up(self) -> None:
        self._move_cursor(by=-self._page())

    def action_cursor_page_down(self) -> None:
        self._move_cursor(by=self._page())

    def action_select_span(self) -> None:
        if (span := self.selected_span) is not None:
            self.post_message(self.SpanSelected(span, self))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:  # the header is not a span
            return
        self._ensure()
        row = round(self.scroll_y) + offset.y - 1
        if not 0 <= row < len(self._rows):
            return
        event.stop()
        # As in DataTable: the first click highlights, a click on the highlighted row selects.
        if row == self._cursor:
            self.action_select_span()
        else:
            self._move_cursor(to=row)

    def _columns(self, width: int) -> tuple[int, int]:
        name_width = max(_MIN_NAME_WIDTH, width * 3 // 10)
        return name_width, max(1, width - name_width - 1 - _LABEL_WIDTH)

    def render_line(self, y: int) -> Strip:
        self._ensure()
        width = self.scrollable_content_region.width
        base = self.rich_style
        if not self._rows:
            text = "No spans yet" if y == 0 else ""
            style = base + self.get_component_rich_style("waterfall--empty", partial=True)
            return Strip([Segment(text, style)]).adjust_cell_length(width, base)
        if y == 0:
            return self._header(width, base)
        row = round(self.scroll_y) + y - 1
        if row >= len(self._rows):
            return Strip.blank(width, base)
        return self._row(row, width, base)

    def _header(self, width: int, base: Style) -> Strip:
        name_width, bar_width = self._columns(width)
        total = duration(self._total / 1e6)
        scale = "0" + total.rjust(bar_width - 1) if bar_width > cell_len(total) else "0"
        text = set_cell_size("span", name_width + 1) + set_cell_size(scale, bar_width)
        style = base + self.get_component_rich_style("waterfall--header", partial=True)
        return Strip([Segment(text, style)]).adjust_cell_length(width, base)

    def _row(self, row: int, width: int, base: Style) -> Strip:
        span, depth = self._rows[row]
        if row == self._cursor:
            base = base + self.get_component_rich_style("waterfall--cursor", partial=True)
        name_width, bar_width = self._columns(width)

        # Span names come from any OTLP sender: no control characters reach the terminal.
        label = _INDENT * depth + clean(span.get("name", ""))
        if cell_len(label) > name_width:
            label = set_cell_size(label, name_width - 1) + "…"
        label = set_cell_size(label, name_width + 1)

        # Integer nanoseconds throughout, so placement is exact however long the trace.
        start = _nanos(span.get("startTimeUnixNano")) - self._origin
        end = max(_nanos(span.get("endTimeUnixNano")) - self._origin, start)
        first = min(start * bar_width // self._total, bar_width - 1)
        last = (2 * end * bar_width + self._total) // (2 * self._total)  # rounded
        length = max(1, min(last, bar_width) - first)  # even an instant span shows
        bar_class = "waterfall--error-bar" if span.get("status") == "ERROR" else "waterfall--bar"

        took = float(span["durationMs"]) if "durationMs" in span else (end - start) / 1e6
        segments = [
            Segment(label, base),
            Segment(" " * first, base),
            Segment(_BAR * length, base + self.get_component_rich_style(bar_class, partial=True)),
            Segment(" " * (bar_width - first - length), base),
            Segment(
                duration(took).rjust(_LABEL_WIDTH),
                base + self.get_component_rich_style("waterfall--duration", partial=True),
            ),
        ]
        return Strip(segments).adjust_cell_length(width, base)
