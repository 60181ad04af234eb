"""The Webhooks tab of the admin screen: every delivery received, and redelivery.

Deliveries show newest first with whether their signature checked out; enter
opens one (its detail and the headers kept of it) and "R" processes a signed
delivery again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable

from home_idp.tui.dialogs import TextViewDialog
from home_idp.tui.results import WebhookDelivery
from home_idp.tui.widgets.admin_tab import RELOAD, AdminTab
from home_idp.tui.widgets.formatting import safe_text, stamp

__all__ = ["AdminWebhooks", "delivery_text"]

_OUTCOME_STYLE = {
    "accepted": "green",
    "duplicate": "dim",
    "ignored": "dim",
    "rejected": "yellow",
    "failed": "bold red",
}


def delivery_text(delivery: WebhookDelivery) -> str:
    """A delivery as a readable document: its facts, what came of it, its headers."""
    fields: Mapping[str, object] = delivery
    facts = {
        key: fields.get(key)
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


class AdminWebhooks(AdminTab[WebhookDelivery], Vertical):
    """Webhook deliveries as a table; enter shows one, R asks the screen to redeliver it."""

    @dataclass
    class RedeliveryWanted(Message):
        """The user confirmed processing a delivery again."""

        delivery: WebhookDelivery

    TABLE_ID = "webhooks-table"
    HEADING = "Webhook deliveries, newest first (enter: detail)"
    COLUMNS = ("Received", "Source", "Event", "Delivery id", "Signature", "Outcome")

    BINDINGS = [
        Binding("v", "detail", "View delivery"),
        Binding("R", "redeliver", "Redeliver"),
        RELOAD,
    ]

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """The deliveries shown, newest first."""
        return self.rows

    def row_cells(self, delivery: WebhookDelivery) -> tuple[Text, ...]:
        outcome = delivery["outcome"]
        return (
            safe_text(stamp(delivery["receivedAt"])),
            safe_text(delivery["source"]),
            safe_text(delivery["event"] or "—"),
            safe_text(delivery["deliveryId"] or "—"),
            safe_text("✓", "green") if delivery["signatureOk"] else safe_text("✗", "red"),
            safe_text(outcome, _OUTCOME_STYLE.get(outcome, "")),
        )

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
        if not await self.confirmed(question, "Redeliver"):
            return
        self.post_message(self.RedeliveryWanted(delivery))
