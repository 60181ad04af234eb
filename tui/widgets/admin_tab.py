"""What every tab of the admin screen shares: asking for its data on first show and
on r, and tables whose rows are keyed by an id that keeps the highlight across reloads.

A tab does no network work: it posts `AdminTab.Stale` and the admin screen
fetches the data and hands it to the tab's `show`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rich.console import RenderableType
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable

from home_idp.tui.dialogs import ConfirmDialog

__all__ = ["RELOAD", "AdminTab", "highlighted_key", "refill"]

Row = TypeVar("Row")

RELOAD = Binding("r", "reload", "Reload")
"""Every tab's last key (each tab lists it last, so the footer keeps its order)."""


def highlighted_key(table: DataTable[Any]) -> str | None:
    """The row key under the cursor, or None for an empty table."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value


def refill(
    table: DataTable[Any],
    rows: Iterable[Row],
    key: Callable[[Row], str],
    cells: Callable[[Row], Sequence[RenderableType]],
    *,
    keep: str | None = None,
) -> None:
    """Replace a table's rows; the highlight stays on the row keyed `keep` if it is still there."""
    table.clear()
    shown = set()
    for row in rows:
        shown.add(key(row))
        table.add_row(*cells(row), key=key(row))
    if keep is not None and keep in shown:
        table.move_cursor(row=table.get_row_index(keep))


class AdminTab(Widget):
    """A tab of the admin screen: its data loads the first time it is shown, not before."""

    @dataclass
    class Stale(Message):
        """The tab's data is to be fetched (again); `control` is the tab."""

        tab: AdminTab

        @property
        def control(self) -> AdminTab:
            return self.tab

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._loaded = False

    def on_show(self) -> None:
        if not self._loaded:
            self._loaded = True
            self.reload()

    def reload(self) -> None:
        """Ask for the data again (also what the screen calls when the server is back)."""
        self.post_message(self.Stale(self))

    def action_reload(self) -> None:
        self.reload()

    async def confirmed(self, question: str, confirm: str) -> bool:
        """Ask before a change; True when the user agreed."""
        agreed: bool = await self.app.push_screen_wait(ConfirmDialog(question, confirm))
        return agreed
