"""What every tab of the admin screen shares: asking for its data on first show and
on r, and tables whose rows are keyed by an id that keeps the highlight across reloads.

A tab does no network work: it posts `AdminTab.Stale` and the admin screen
fetches the data and hands it to the tab's `show`. `AdminTab` owns the tab's
table; a tab itself says only what is its own: the table's columns, how a row
is keyed and drawn, and its actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Label

from home_idp.tui.dialogs import ConfirmDialog
from home_idp.tui.widgets.keyed_rows import highlighted_key, refill

__all__ = ["RELOAD", "AdminTab", "row_table"]

Node = TypeVar("Node", bound=Mapping[str, Any])

RELOAD = Binding("r", "reload", "Reload")
"""Every tab's last key (each tab lists it last, so the footer keeps its order)."""


def row_table(id: str) -> DataTable[RenderableType]:
    """An empty table as every admin table is: its cursor picks whole rows, striped."""
    return DataTable(id=id, cursor_type="row", zebra_stripes=True)


class AdminTab(Widget, Generic[Node]):
    """A tab of the admin screen: a table of rows, loaded the first time the tab is shown.

    Subclasses name the table (`TABLE_ID`), the heading above it (`HEADING`) and
    its `COLUMNS`, and say how a row is drawn (`row_cells`). A row is a node the
    server sent, keyed by its id unless the tab says otherwise (`row_key`);
    `rows` are the rows as last shown, in the table's order. Each column is
    keyed by its label in lower case ("Status" is "status"), for
    `DataTable.update_cell`.
    """

    DEFAULT_CSS = """
    AdminTab { height: 1fr; }
    AdminTab .admin-heading { padding: 0 1; text-style: bold; }
    AdminTab DataTable { height: 1fr; }
    """

    TABLE_ID: ClassVar[str]
    HEADING: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]

    @dataclass
    class Stale(Message):
        """The tab's data is to be fetched (again); `control` is the tab."""

        tab: AdminTab[Any]

        @property
        def control(self) -> AdminTab[Any]:
            return self.tab

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._loaded = False
        self.rows: list[Node] = []

    def compose(self) -> ComposeResult:
        yield Label(self.HEADING, classes="admin-heading")
        yield row_table(self.TABLE_ID)

    def on_mount(self) -> None:
        for label in self.COLUMNS:
            self.table.add_column(label, key=label.lower())

    @property
    def table(self) -> DataTable[RenderableType]:
        """The tab's table of rows (a tab may show a second, of its own, beside it)."""
        return self.query_one(f"#{self.TABLE_ID}", DataTable)

    def row_key(self, row: Node) -> str:
        """What a row is keyed by in the table, the same in every reload."""
        key: str = row["id"]
        return key

    def row_cells(self, row: Node) -> Sequence[RenderableType]:
        """A row's cells, one for each of `COLUMNS`."""
        raise NotImplementedError

    def show(self, rows: list[Node]) -> None:
        """Fill the table with `rows`; the highlight stays on its row if that row is still there."""
        keep = self.highlight_to_keep()
        self.rows = rows
        refill(self.table, rows, self.row_key, self.row_cells, keep=keep)

    def highlight_to_keep(self) -> str | None:
        """The key of the row the highlight is to stay on through a refill: the highlighted one."""
        return highlighted_key(self.table)

    def selected(self) -> Node | None:
        """The highlighted row, or None when the table is empty."""
        key = highlighted_key(self.table)
        return next((row for row in self.rows if self.row_key(row) == key), None)

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
