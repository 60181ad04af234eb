"""The Audit tab of the admin screen: the audit log, newest first, growing live.

The screen shows the newest page (`show`), then, from the newest event's
cursor on (`newest_cursor`), adds each new event at the top (`add`).
Resuming from that cursor means an event recorded between the query and the
subscription is replayed rather than lost; ids already shown are skipped.
"""

from __future__ import annotations

import json

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable

from home_idp.tui.dialogs import TextViewDialog
from home_idp.tui.results import AuditEvent
from home_idp.tui.widgets.admin_tab import RELOAD, AdminTab
from home_idp.tui.widgets.formatting import safe_text, stamp

__all__ = ["AdminAudit"]

# Older rows fall off the bottom; the query pages further back if ever needed.
MAX_ROWS = 500
_OUTCOME_STYLE = {"ok": "green", "denied": "yellow", "failed": "red"}


class AdminAudit(AdminTab[AuditEvent], Vertical):
    """The audit log as a table; enter shows an event's detail."""

    TABLE_ID = "audit-table"
    HEADING = "Audit log, newest first, live (enter: detail)"
    COLUMNS = ("Time", "Actor", "Action", "Target", "Project", "Outcome")

    BINDINGS = [
        Binding("v", "detail", "View detail"),
        RELOAD,
    ]

    @property
    def events(self) -> list[AuditEvent]:
        """The events shown, newest first."""
        return self.rows

    @property
    def newest_cursor(self) -> str | None:
        """Where the live feed goes on from."""
        return self.events[0]["cursor"] if self.events else None

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
        # DataTable cannot insert at the top, so it is refilled; 500 rows is cheap.
        self.show([event, *self.events])

    def show(self, events: list[AuditEvent]) -> None:
        """Fill the table with the newest `MAX_ROWS` events."""
        super().show(events[:MAX_ROWS])

    def highlight_to_keep(self) -> str | None:
        # A highlight on the top row stays at the top, on the newest event as
        # they come in; one further down stays on its event.
        return super().highlight_to_keep() if self.table.cursor_row > 0 else None

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
