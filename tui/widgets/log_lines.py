"""A plain-text log for very long, fast streams (a build log of 100,000 lines).

Textual's `Log` measures every line's cell width as it is written and renders
each new line through Rich; under a fast build that makes every frame slow
enough to delay key presses. Here a write only appends to a list, the width
is the longest line's length, and a visible line becomes one styled segment,
cached: frames stay cheap however fast the stream is.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from home_idp.tui.widgets.formatting import clean

__all__ = ["LogLines"]


class LogLines(ScrollView, can_focus=True):
    """Lines of text, appended in batches, optionally following the end."""

    DEFAULT_CSS = """
    LogLines { background: $surface; color: $foreground; overflow: scroll; }
    """

    def __init__(
        self, *, id: str | None = None, max_lines: int | None = None, dim_prefix: str = ""
    ) -> None:
        super().__init__(id=id)
        self.lines: list[str] = []
        self.max_lines = max_lines
        """Keep only the newest this many lines (None: keep every line)."""
        self.dim_prefix = dim_prefix
        """If set, what comes before its first occurrence in a line is dimmed (a source)."""
        self.auto_scroll = True
        self._width = 0
        self._strips: LRUCache[tuple[int, int, int], Strip] = LRUCache(1024)

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def write_lines(self, lines: Iterable[str]) -> None:
        """Append lines; follow the end if following and already at the end."""
        at_end = self.is_vertical_scroll_end
        added = [clean(line) for text in lines for line in text.splitlines() or [""]]
        if not added:
            return
        self.lines.extend(added)
        if self.max_lines is not None and len(self.lines) > self.max_lines:
            # Oldest lines go; cached strips are keyed by index, which just moved.
            del self.lines[: len(self.lines) - self.max_lines]
            self._strips.clear()
        self._width = max(self._width, max(map(len, added)))
        self.virtual_size = Size(self._width, len(self.lines))
        if self.auto_scroll and at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.refresh()

    def clear(self) -> None:
        self.lines.clear()
        self._strips.clear()
        self._width = 0
        self.virtual_size = Size(0, 0)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index, width = scroll_y + y, self.size.width
        style = self.rich_style
        if index >= len(self.lines):
            return Strip.blank(width, style)
        key = (index, scroll_x, width)
        strip = self._strips.get(key)
        if strip is None:
            text = self.lines[index][scroll_x : scroll_x + width].ljust(width)
            cut = self._prefix_width(self.lines[index]) - scroll_x
            if cut > 0:
                dim = style + Style(dim=True)
                segments = [Segment(text[:cut], dim), Segment(text[cut:], style)]
            else:
                segments = [Segment(text, style)]
            strip = Strip(segments, width)
            self._strips[key] = strip
        return strip.apply_offsets(scroll_x, index)

    def _prefix_width(self, line: str) -> int:
        if not self.dim_prefix:
            return 0
        found = line.find(self.dim_prefix)
        return found + len(self.dim_prefix) if found >= 0 else 0

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
