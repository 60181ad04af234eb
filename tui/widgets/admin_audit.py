"""The Audit tab of the admin screen: the audit log, newest first, growing live.

The newest page comes from the `auditEvents` query; from the newest event's
cursor on, the `auditEvents` subscription adds each new event at the top.
Resuming from that cursor means an event recorded between the query and the
subscription is replayed rather than lost; ids already shown are skipped.
"""

from __future__ import annotations

import json
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Label
from textual.worker import Worker

from home_idp.tui.app import home_of
from home_idp.tui.dialogs import TextViewDialog
from home_idp.tui.widgets.formatting import safe_text, stamp

__all__ = ["AdminAudit"]

# Older rows fall off the bottom; the query pages further back if ever needed.
MAX_ROWS = 500
_OUTCOME_STYLE = {"ok": "green", "denied": "yellow", "failed": "red"}


class AdminAudit(Vertical):
    """The audit log as a table; enter shows an event's detail."""

    DEFAULT_CSS = """
    AdminAudit { height: 1fr; }
    AdminAudit .admin-heading { padding: 0 1; text-style: bold; }
    AdminAudit DataTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("v", "detail", "View detail"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.events: list[dict[str, Any]] = []
        self._loaded = False
        self._follower: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Label("Audit log, newest first, live (enter: detail)", classes="admin-heading")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(
            "Time", "Actor", "Action", "Target", "Project", "Outcome"
        )

    def on_show(self) -> None:
        if not self._loaded:
            self._loaded = True
            self.reload()

    def reload(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="admin-audit", exit_on_error=False)
    async def load(self) -> None:
        home = home_of(self)
        with home.reporting():
            data = await home.gateway.execute("AdminAuditEvents")
            self.show([edge["node"] for edge in data["auditEvents"]["edges"]])
            follower = self._follower
            if follower is None or follower.is_finished:
                # A dropped connection resumes inside the gateway; a finished
                # follower (logged out, refused) starts again on reload.
                newest = self.events[0]["cursor"] if self.events else None
                self._follower = self.follow(newest)

    @work(exclusive=True, group="admin-audit-live", exit_on_error=False)
    async def follow(self, after: str | None) -> None:
        home = home_of(self)
        with home.reporting():
            async for event in home.gateway.subscribe("AdminAuditFeed", after=after):
                self.add(event)

    def add(self, event: dict[str, Any]) -> None:
        """Put a new event at the top, unless it is shown already."""
        if any(shown["id"] == event["id"] for shown in self.events):
            return
        self.show([event, *self.events])

    def show(self, events: list[dict[str, Any]]) -> None:
        """Fill the table; a highlight below the top stays on its event."""
        table = self.query_one(DataTable)
        keep = self.selected() if table.cursor_row > 0 else None
        self.events = events[:MAX_ROWS]
        # DataTable cannot insert at the top, so it is refilled; 500 rows is cheap.
        table.clear()
        for event in self.events:
            outcome = str(event["outcome"])
            table.add_row(
                safe_text(stamp(event["createdAt"])),
                safe_text(event["actor"]),
                safe_text(event["action"]),
                safe_text(event["target"]),
                safe_text(event["project"] or ""),
                safe_text(outcome, _OUTCOME_STYLE.get(outcome, "")),
                key=str(event["id"]),
            )
        if keep is not None and any(e["id"] == keep["id"] for e in self.events):
            table.move_cursor(row=table.get_row_index(str(keep["id"])))

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return next((e for e in self.events if str(e["id"]) == key), None)

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
