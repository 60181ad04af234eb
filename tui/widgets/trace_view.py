"""A trace as its waterfall beside the detail of the highlighted span.

The view only shows: its screen follows the trace's spans and hands each one
to `add_span`. Highlighting a span shows it beside the waterfall; choosing one
opens all of it.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal

from home_idp.tui.results import TraceSpan
from home_idp.tui.widgets.span_detail import SpanDetail, span_dialog
from home_idp.tui.widgets.waterfall import Waterfall

__all__ = ["TraceView"]


class TraceView(Horizontal):
    """Call `add_span` as the trace's spans arrive."""

    def compose(self) -> ComposeResult:
        yield Waterfall(id="waterfall")
        yield SpanDetail(id="span-detail")

    def add_span(self, span: TraceSpan) -> None:
        self.query_one(Waterfall).add_span(span)

    @on(Waterfall.SpanHighlighted)
    def span_highlighted(self, event: Waterfall.SpanHighlighted) -> None:
        self.query_one(SpanDetail).span = event.span

    @on(Waterfall.SpanSelected)
    def span_selected(self, event: Waterfall.SpanSelected) -> None:
        self.app.push_screen(span_dialog(event.span))
