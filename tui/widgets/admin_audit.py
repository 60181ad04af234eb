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
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from home_idp.tui.dialogs import TextViewDialog
from home_idp.tui.results import AuditEvent
from home_idp.tui.widgets.admin_tab import RELOAD, AdminTab, highlighted_key, refill
from home_idp.tui.widgets.formatting import safe_text, stamp

__all__ = ["AdminAudit"]

# Older rows fall off the bottom; the query pages further back if ever needed.
MAX_ROWS = 500
_OUTCOME_STYLE = {"ok": "green", "denied": "yellow", "failed": "red"}


def _event_key(event: AuditEvent) -> str:
    return event["id"]


def _event_cells(event: AuditEvent) -> tuple[Text, ...]:
    outcome = event["outcome"]
    return (
        safe_text(stamp(event["createdAt"])),
        safe_text(event["actor"]),
        safe_text(event["action"]),
        safe_text(event["target"]),
        safe_text(event["project"] or ""),
        safe_text(outcome, _OUTCOME_STYLE.get(outcome, "")),
    )


class AdminAudit(AdminTab, Vertical):
    """The audit log as a table; enter shows an event's detail."""

    DEFAULT_CSS = """
    AdminAudit { height: 1fr; }
    AdminAudit .admin-heading { padding: 0 1; text-style: bold; }
    AdminAudit DataTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("v", "detail", "View detail"),
        RELOAD,
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.events: list[AuditEvent] = []

    def compose(self) -> ComposeResult:
        yield Label("Audit log, newest first, live (enter: detail)", classes="admin-heading")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(
            "Time", "Actor", "Action", "Target", "Project", "Outcome"
        )

    @property
    def newest_cursor(self) -> str | None:
        """Where the live feed goes on from."""
        return self.events[0]["cursor"] if self.events else None

    def add(self, event: AuditEvent) -> None:
        """Put a new event at the top, unless it is shown already."""
        if any(shown["id"] == event["id"] for shown in self.events):
            return
        self.show([event, *self.events])

    def show(self, events: list[AuditEvent]) -> None:
        """Fill the table; a highlight below the top stays on its event."""
        table = self.query_one(DataTable)
        keep = highlighted_key(table) if table.cursor_row > 0 else None
        self.events = events[:MAX_ROWS]
        # DataTable cannot insert at the top, so it is refilled; 500 rows is cheap.
        refill(table, self.events, _event_key, _event_cells, keep=keep)

    def selected(self) -> AuditEvent | None:
        key = highlighted_key(self.query_one(DataTable))
        return next((e for e in self.events if _event_key(e) == key), None)

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
