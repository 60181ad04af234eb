"""The Webhooks tab of the admin screen: every delivery received, and redelivery.

Deliveries show newest first with whether their signature checked out; enter
opens one (its detail and the headers kept of it) and "R" processes a signed
delivery again.
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

from home_idp.tui.app import home_of
from home_idp.tui.dialogs import ConfirmDialog, TextViewDialog
from home_idp.tui.widgets.formatting import clean, safe_text, stamp

__all__ = ["AdminWebhooks", "delivery_text"]

_OUTCOME_STYLE = {
    "accepted": "green",
    "duplicate": "dim",
    "ignored": "dim",
    "rejected": "yellow",
    "failed": "bold red",
}


def delivery_text(delivery: dict[str, Any]) -> str:
    """A delivery as a readable document: its facts, what came of it, its headers."""
    facts = {
        key: delivery.get(key)
        for key in (
            "source",
            "event",
            "deliveryId",
            "signatureOk",
            "outcome",
            "receivedAt",
            "processedAt",
            "redeliveryOf",
        )
    }
    return json.dumps(
        {**facts, "detail": delivery.get("detail"), "headers": delivery.get("headers") or {}},
        indent=2,
        default=str,
    )


class AdminWebhooks(Vertical):
    """Webhook deliveries as a table; enter shows one, R redelivers it."""

    DEFAULT_CSS = """
    AdminWebhooks { height: 1fr; }
    AdminWebhooks .admin-heading { padding: 0 1; text-style: bold; }
    AdminWebhooks DataTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("v", "detail", "View delivery"),
        Binding("R", "redeliver", "Redeliver"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.deliveries: list[dict[str, Any]] = []
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield Label("Webhook deliveries, newest first (enter: detail)", classes="admin-heading")
        yield DataTable(id="webhooks-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(
            "Received", "Source", "Event", "Delivery id", "Signature", "Outcome"
        )

    def on_show(self) -> None:
        if not self._loaded:
            self._loaded = True
            self.reload()

    def reload(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="admin-webhooks", exit_on_error=False)
    async def load(self) -> None:
        home = home_of(self)
        with home.reporting():
            data = await home.gateway.execute("AdminWebhookDeliveries")
            self.show([edge["node"] for edge in data["webhookDeliveries"]["edges"]])

    def show(self, deliveries: list[dict[str, Any]]) -> None:
        table = self.query_one(DataTable)
        keep = self.selected()
        self.deliveries = deliveries
        table.clear()
        for delivery in deliveries:
            outcome = str(delivery["outcome"])
            table.add_row(
                safe_text(stamp(delivery["receivedAt"])),
                safe_text(delivery["source"]),
                safe_text(delivery["event"] or "—"),
                safe_text(delivery["deliveryId"] or "—"),
                safe_text("✓", "green") if delivery["signatureOk"] else safe_text("✗", "red"),
                safe_text(outcome, _OUTCOME_STYLE.get(outcome, "")),
                key=str(delivery["id"]),
            )
        if keep is not None and any(d["id"] == keep["id"] for d in deliveries):
            table.move_cursor(row=table.get_row_index(str(keep["id"])))

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return next((d for d in self.deliveries if str(d["id"]) == key), None)

    @on(DataTable.RowSelected)
    def action_detail(self) -> None:
        delivery = self.selected()
        if delivery is not None:
            title = f"{delivery['source']} {delivery['event']} {delivery['deliveryId']}"
            self.app.push_screen(TextViewDialog(title, delivery_text(delivery), "json"))

    def action_redeliver(self) -> None:
        self.redeliver()

    @work(exclusive=True, group="admin-webhooks-action", exit_on_error=False)
    async def redeliver(self) -> None:
        delivery = self.selected()
        if delivery is None:
            return
        if not delivery["signatureOk"]:
            # The server refuses these too; saying why here spares a round trip.
            self.notify(
                "Only deliveries with a valid signature can be redelivered.", severity="warning"
            )
            return
        question = f"Process delivery {delivery['deliveryId']} ({delivery['event']}) again?"
        if not await self.app.push_screen_wait(ConfirmDialog(question, "Redeliver")):
            return
        home = home_of(self)
        with home.reporting():
            result = await home.gateway.mutate(
                "AdminRedeliverWebhook", input={"id": delivery["id"]}
            )
            self.notify(clean(f"Redelivered: {result['delivery']['outcome']}."), markup=False)
            self.reload()
