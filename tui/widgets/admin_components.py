"""The Components tab of the admin screen: what home-idp depends on, and installing it.

The table holds the profile's components (Helm charts in the cluster, the
local registry on a laptop) with their last known state. Installs run in the
server's background; the `installProgress` subscription updates the rows and
writes each step to the log panel as it happens.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Label, RichLog
from textual.worker import Worker

from home_idp.tui.app import home_of
from home_idp.tui.dialogs import ConfirmDialog
from home_idp.tui.widgets.formatting import safe_text, stamp

__all__ = ["AdminComponents", "status_label"]

_STATUS_STYLE = {
    "ABSENT": "dim",
    "INSTALLING": "bold yellow",
    "READY": "green",
    "FAILED": "bold red",
}
# Progress that ends an operation: the row's revision changed, so reload it.
_SETTLED = {"READY", "FAILED", "ABSENT"}


def status_label(status: str) -> Text:
    """A component status as coloured text."""
    return safe_text(status.lower(), _STATUS_STYLE.get(status, ""))


class AdminComponents(Vertical):
    """Components in a table with install actions and a live progress log."""

    DEFAULT_CSS = """
    AdminComponents { height: 1fr; }
    AdminComponents .admin-heading { padding: 0 1; text-style: bold; }
    AdminComponents DataTable { height: 1fr; }
    AdminComponents RichLog { height: 10; border-top: solid $primary; }
    """

    BINDINGS = [
        Binding("i", "install", "Install/upgrade"),
        Binding("u", "uninstall", "Uninstall"),
        Binding("I", "install_all", "Install all"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.components: list[dict[str, Any]] = []
        self._loaded = False
        self._follower: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Label("Components of this profile", classes="admin-heading")
        yield DataTable(id="components-table", cursor_type="row", zebra_stripes=True)
        yield RichLog(id="install-log", markup=False, wrap=True, max_lines=1000)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in (
            ("Name", "name"),
            ("Chart", "chart"),
            ("Version", "version"),
            ("Namespace", "namespace"),
            ("Status", "status"),
            ("Message", "message"),
            ("Revision", "revision"),
        ):
            table.add_column(label, key=key)

    def on_show(self) -> None:
        if not self._loaded:
            self._loaded = True
            self.reload()

    def reload(self) -> None:
        self.load()
        follower = self._follower
        if follower is None or follower.is_finished:
            self._follower = self.follow()

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="admin-components", exit_on_error=False)
    async def load(self) -> None:
        home = home_of(self)
        with home.reporting():
            data = await home.gateway.execute("AdminComponents")
            self.show(list(data["components"]))

    def show(self, components: list[dict[str, Any]]) -> None:
        table = self.query_one(DataTable)
        keep = self.selected()
        self.components = components
        table.clear()
        for component in components:
            revision = component.get("revision")
            table.add_row(
                safe_text(component["name"]),
                safe_text(component["chart"]),
                safe_text(component["version"]),
                safe_text(component["namespace"]),
                status_label(str(component["status"])),
                safe_text(component["message"]),
                safe_text("—" if revision is None else revision),
                key=str(component["name"]),
            )
        if keep is not None and any(c["name"] == keep["name"] for c in components):
            table.move_cursor(row=table.get_row_index(str(keep["name"])))

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return next((c for c in self.components if str(c["name"]) == key), None)

    @work(exclusive=True, group="admin-components-live", exit_on_error=False)
    async def follow(self) -> None:
        home = home_of(self)
        with home.reporting():
            async for event in home.gateway.subscribe("AdminInstallProgress"):
                self.progress(event)

    def progress(self, event: dict[str, Any]) -> None:
        """Show one install step in its row and in the log."""
        name, status = str(event["component"]), str(event["status"])
        self.query_one(RichLog).write(
            Text.assemble(
                stamp(event["at"]),
                "  ",
                safe_text(name, "bold"),
                "  ",
                status_label(status),
                "  ",
                safe_text(event["message"]),
            )
        )
        table = self.query_one(DataTable)
        if name in {str(c["name"]) for c in self.components}:
            table.update_cell(name, "status", status_label(status))
            table.update_cell(name, "message", safe_text(event["message"]), update_width=True)
        if status in _SETTLED:
            # The revision and time come only with the component itself.
            self.load()

    # -- actions ------------------------------------------------------------

    def action_install(self) -> None:
        component = self.selected()
        if component is not None:
            self.start("AdminInstallComponent", {"name": component["name"]})

    def action_uninstall(self) -> None:
        component = self.selected()
        if component is not None:
            question = f"Uninstall {component['name']} from {component['namespace']}?"
            self.start("AdminUninstallComponent", {"name": component["name"]}, question)

    def action_install_all(self) -> None:
        question = "Install or upgrade every component, dependencies first?"
        self.start("AdminInstallAll", {"components": None}, question)

    @work(exclusive=True, group="admin-components-action", exit_on_error=False)
    async def start(self, operation: str, values: dict[str, Any], question: str = "") -> None:
        """Start an install operation; its progress arrives through the subscription."""
        if question and not await self.app.push_screen_wait(ConfirmDialog(question, "Go")):
            return
        home = home_of(self)
        with home.reporting():
            result = await home.gateway.mutate(operation, input=values)
            started = result.get("components") or [result["component"]]
            names = ", ".join(str(c["name"]) for c in started)
            self.query_one(RichLog).write(
                safe_text(f"started: {operation.removeprefix('Admin')} {names}")
            )
            self.load()
