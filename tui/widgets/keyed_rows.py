"""Tables whose rows are keyed by what they show, so the highlight stays on the
same thing (a release, a user) when the rows are refilled: new rows arriving
above it do not move it onto another one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from rich.console import RenderableType
from textual.coordinate import Coordinate
from textual.widgets import DataTable

__all__ = ["highlighted_key", "refill"]

Row = TypeVar("Row")


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
