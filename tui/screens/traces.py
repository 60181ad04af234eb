"""Traces: every trace you may see, newest first; enter opens one as a waterfall."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from home_idp.tui.context import home_of
from home_idp.tui.results import SPANS, TRACES
from home_idp.tui.widgets.formatting import ago, duration, safe_text
from home_idp.tui.widgets.offline_banner import OfflineBanner
from home_idp.tui.widgets.trace_view import TraceView

__all__ = ["TraceScreen", "TracesScreen", "follow_spans"]


async def follow_spans(screen: Screen[None], trace_id: str) -> None:
    """Hand the screen's trace view each span of trace `trace_id` as it arrives."""
    view = screen.query_one(TraceView)
    home = home_of(screen)
    with home.reporting():
        async for span in home.gateway.subscribe(SPANS, traceId=trace_id):
            view.add_span(span)


class TracesScreen(Screen[None]):
    """A table of trace summaries."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("m", "more", "More"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.after: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield OfflineBanner(id="offline")
        yield DataTable(id="traces", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Traces"
        self.query_one(DataTable).add_columns(
            "Name", "Project / app", "Status", "Spans", "Errors", "Took", "When"
        )
        self.reload()

    def reload(self) -> None:
        self.after = None
        self.query_one(DataTable).clear()
        self.load()

    def action_reload(self) -> None:
        self.reload()

    def action_more(self) -> None:
        if self.after is not None:
            self.load()

    @work(exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        home = home_of(self)
        with home.reporting():
            page = (await home.gateway.execute(TRACES, after=self.after))["traces"]
            table = self.query_one(DataTable)
            for edge in page["edges"]:
                trace = edge["node"]
                if trace["traceId"] in table.rows:
                    continue  # a trace that moved between pages while paging
                where = "/".join(p for p in (trace["project"], trace["app"]) if p)
                table.add_row(
                    safe_text(trace["name"]),
                    safe_text(where or "—"),
                    trace["status"].lower(),
                    str(trace["spanCount"]),
                    str(trace["errorCount"]),
                    duration(trace["durationMs"]),
                    ago(trace["startTime"]),
                    key=trace["traceId"],
                )
            info = page["pageInfo"]
            self.after = info["endCursor"] if info["hasNextPage"] else None

    @on(DataTable.RowSelected)
    def open_trace(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(TraceScreen(str(event.row_key.value)))


class TraceScreen(Screen[None]):
    """One trace as a waterfall that grows as spans arrive."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, trace_id: str) -> None:
        super().__init__()
        self.trace_id = trace_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield OfflineBanner(id="offline")
        yield TraceView()
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Trace {self.trace_id}"
        self.follow()

    @work(exclusive=True, exit_on_error=False)
    async def follow(self) -> None:
        await follow_spans(self, self.trace_id)
