"""A build log that streams: follow mode, search, and batched writes.

Lines arrive one event at a time; writing each straight into the `Log`
would lay out and repaint the screen per line, so they are buffered and
flushed a few times a second, in batches small enough that a key press
between two of them is answered at once, even under a very fast build.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label

from home_idp.tui.widgets.log_lines import LogLines

__all__ = ["BuildLogView"]

# Each flush grows the log, which costs a layout of the screen: a few per second.
_FLUSH_SECONDS = 0.1
# Cleaning lines blocks the app: a big backlog goes in slices with breaks between.
_BATCH_LINES = 5_000
_BREAK_SECONDS = 0.02


class BuildLogView(Vertical):
    """Call `append(text)` for each line; `f` toggles follow, `/` searches."""

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
    ]

    def __init__(
        self, id: str | None = None, *, max_lines: int | None = None, dim_prefix: str = ""
    ) -> None:
        super().__init__(id=id)
        self._max_lines = max_lines
        self._dim_prefix = dim_prefix
        self._pending: list[str] = []
        self._flush_scheduled = False
        self._match = -1

    def compose(self) -> ComposeResult:
        with Horizontal(classes="log-bar"):
            yield Input(placeholder="search (enter: next match)", id="log-search")
            yield Label("following", id="log-follow")
        yield LogLines(id="log", max_lines=self._max_lines, dim_prefix=self._dim_prefix)

    @property
    def log_widget(self) -> LogLines:
        return self.query_one(LogLines)

    def append(self, text: str) -> None:
        self._pending.append(text)
        if self._max_lines is not None and len(self._pending) > self._max_lines:
            # A stream faster than the screen: what could not be shown anyway goes.
            del self._pending[: len(self._pending) - self._max_lines]
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.set_timer(_FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        batch = self._pending[:_BATCH_LINES]
        del self._pending[:_BATCH_LINES]
        self.log_widget.write_lines(batch)
        if self._pending:
            self._flush_scheduled = True
            self.set_timer(_BREAK_SECONDS, self._flush)

    def clear(self) -> None:
        self._pending.clear()
        self._match = -1
        self.log_widget.clear()

    def action_toggle_follow(self) -> None:
        log = self.log_widget
        log.auto_scroll = not log.auto_scroll
        if log.auto_scroll:
            log.scroll_end(animate=False)
        self.query_one("#log-follow", Label).update("following" if log.auto_scroll else "paused")

    def action_search(self) -> None:
        self.query_one("#log-search", Input).focus()

    @on(Input.Submitted, "#log-search")
    def _searched(self) -> None:
        # Back to the lines: `n` then finds the next match and `f` follows, not typing.
        self.action_next_match()
        self.log_widget.focus()

    def action_next_match(self) -> None:
        needle = self.query_one("#log-search", Input).value.lower()
        if not needle:
            return
        lines = self.log_widget.lines
        count = len(lines)
        for offset in range(1, count + 1):
            index = (self._match + offset) % count
            if needle in lines[index].lower():
                self._match = index
                log = self.log_widget
                log.auto_scroll = False
                self.query_one("#log-follow", Label).update(f"line {index + 1} · paused")
                log.scroll_to(y=max(0, index - 2), animate=False)
                return
        self.notify(f"No line contains {needle!r}.", severity="warning", markup=False)
