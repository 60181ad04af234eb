"""What every tab of the admin screen shares: asking for its data on first show and
on r, and tables whose rows are keyed by an id that keeps the highlight across reloads.

A tab does no network work: it posts `AdminTab.Stale` and the admin screen
fetches the data and hands it to the tab's `show`. `RowsTab` is a tab around
one such table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rich.console import RenderableType
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Label

from home_idp.tui.dialogs import ConfirmDialog

__all__ = [
    "RELOAD",
    "AdminTab",
    "RowsTab",
    "headed_table",
    "highlighted_key",
    "refill",
    "row_table",
]

Row = TypeVar("Row")

RELOAD = Binding("r", "reload", "Reload")
"""Every tab's last key (each tab lists it last, so the footer keeps its order)."""


def highlighted_key(table: DataTable[Any]) -> str | None:
    """The row key under the cursor, or None for an empty table."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value


def row_table(id: str) -> DataTable[Any]:
    """A table whose cursor picks whole rows, striped so a row reads across."""
    return DataTable(id=id, cursor_type="row", zebra_stripes=True)


def headed_table(heading: str, table_id: str, *, heading_id: str | None = None) -> Vertical:
    """A table under its heading: one of the side-by-side panes of a tab."""
    return Vertical(Label(heading, classes="admin-heading", id=heading_id), row_table(table_id))


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

    DEFAULT_CSS = """
    AdminTab { height: 1fr; }
    AdminTab > Vertical { width: 1fr; height: 1fr; }
    AdminTab .admin-heading { padding: 0 1; text-style: bold; }
    AdminTab DataTable { height: 1fr; }
    """

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


class RowsTab(AdminTab, Generic[Row]):
    """An admin tab around one table, a row for each of `rows`, keyed by `row_key`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Row] = []

    def row_key(self, row: Row) -> str:
        """What tells the row apart from the others (the table's row key)."""
        raise NotImplementedError

    def row_cells(self, row: Row) -> Sequence[RenderableType]:
        """What the table shows of the row, a cell a column."""
        raise NotImplementedError

    def kept_key(self, table: DataTable[Any]) -> str | None:
        """The row the highlight stays on when the table is filled again."""
        return highlighted_key(table)

    def show(self, rows: list[Row]) -> None:
        """Fill the table, keeping the highlight on the same row."""
        table = self.query_one(DataTable)
        keep = self.kept_key(table)
        self.rows = rows
        refill(table, rows, self.row_key, self.row_cells, keep=keep)

    def selected(self) -> Row | None:
        """The highlighted row, if the table has any."""
        key = highlighted_key(self.query_one(DataTable))
        return next((row for row in self.rows if self.row_key(row) == key), None)
