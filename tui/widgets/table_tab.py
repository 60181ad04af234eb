"""A tab that is a table under a one-line hint, its cursor kept in place across refills.

The hint says what the table holds or what to do with it; the table's cursor
picks whole rows, and a refill leaves it on the same line (or on the last
one, when fewer rows are left), so a reload every few seconds does not throw
the user back to the top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

__all__ = ["TableTab"]

Row = TypeVar("Row")
Cell = str | Text


class TableTab(Vertical):
    """Subclasses name the table (`TABLE_ID`), its hint (`HINT_ID`, first saying `HINT`)
    and the table's `COLUMNS`."""

    TABLE_ID: ClassVar[str]
    HINT_ID: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    HINT: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        yield Label(self.HINT, id=self.HINT_ID, classes="tab-hint")
        yield DataTable[Cell](id=self.TABLE_ID, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.table.add_columns(*self.COLUMNS)

    @property
    def table(self) -> DataTable[Cell]:
        return self.query_one(f"#{self.TABLE_ID}", DataTable)

    def hint(self, text: str) -> None:
        """Say `text` above the table."""
        self.query_one(f"#{self.HINT_ID}", Label).update(text)

    def fill(
        self,
        rows: Sequence[Row],
        cells: Callable[[Row], Sequence[Cell]],
        key: Callable[[Row], str] | None = None,
    ) -> None:
        """Show `rows`, a line each, keyed by `key` if given; the cursor stays on its line."""
        table = self.table
        keep = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*cells(row), key=None if key is None else key(row))
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1))

    def at_cursor(self, rows: Sequence[Row]) -> Row | None:
        """The one of `rows` (as last filled in) on the cursor's line."""
        line = self.table.cursor_row
        return rows[line] if rows and 0 <= line < len(rows) else None
