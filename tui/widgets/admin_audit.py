"""The Audit tab of the admin screen: the audit log, newest first, growing live.

The screen shows the newest page (`show`), then, from the newest event's
cursor on (`newest_cursor`), adds each new event at the top (`add`).
Resuming from that cursor means an event recorded between the query and the
subscription is replayed rather than lost; ids already shown are skipped.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from home_idp.tui.dialogs import TextViewDialog
from home_idp.tui.results import AuditEvent
from home_idp.tui.widgets.admin_tab import RELOAD, RowsTab, highlighted_key, row_table
from home_idp.tui.widgets.formatting import safe_text, stamp

__all__ = ["AdminAudit"]

# Older rows fall off the bottom; the query pages further back if ever needed.
MAX_ROWS = 500
_OUTCOME_STYLE = {"ok": "green", "denied": "yellow", "failed": "red"}


class AdminAudit(RowsTab[AuditEvent], Vertical):
    """The audit log as a table; enter shows an event's detail."""

    BINDINGS = [
        Binding("v", "detail", "View detail"),
        RELOAD,
    ]

    def compose(self) -> ComposeResult:
        yield Label("Audit log, newest first, live (enter: detail)", classes="admin-heading")
        yield row_table("audit-table")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(
            "Time", "Actor", "Action", "Target", "Project", "Outcome"
        )

    @property
    def events(self) -> list[AuditEvent]:
        """The events shown, newest first."""
        return self.rows

    @property
    def newest_cursor(self) -> str | None:
        """Where the live feed goes on from."""
        return self.events[0]["cursor"] if self.events else None

    def row_key(self, event: AuditEvent) -> str:
        return event["id"]

    def row_cells(self, event: AuditEvent) -> tuple[Text, ...]:
        outcome = event["outcome"]
        return (
            safe_text(stamp(event["createdAt"])),
            safe_text(event["actor"]),
            safe_text(event["action"]),
            safe_text(event["target"]),
            safe_text(event["project"] or ""),
            safe_text(outcome, _OUTCOME_STYLE.get(outcome, "")),
        )

    def add(self, event: AuditEvent) -> None:
        """Put a new event at the top, unless it is shown already."""
        if any(shown["id"] == event["id"] for shown in self.events):
            return
        self.show([event, *self.events])

    def kept_key(self, table: DataTable[Any]) -> str | None:
        # On the top row the highlight stays on top, with the newest event.
        return highlighted_key(table) if table.cursor_row > 0 else None

    def show(self, rows: list[AuditEvent]) -> None:
        """Fill the table with the newest events; a highlight below the top stays on its event."""
        # DataTable cannot insert at the top, so it is refilled; 500 rows is cheap.
        super().show(rows[:MAX_ROWS])

    @on(DataTable.RowSelected)
    def action_detail(self) -> None:
        event = self.selected()
        if event is not None:
            # The cursor is for the subscription; people have no use for it.
            shown = {key: value for key, value in event.items() if key != "cursor"}
            text = json.dumps(shown, indent=2, sort_keys=True, default=str)
            self.app.push_screen(
                TextViewDialog(f"{event['action']} on {event['target']}", text, "json")
            )
