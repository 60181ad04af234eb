"""The Components tab of the admin screen: what home-idp depends on, and installing it.

The table holds the profile's components (Helm charts in the cluster, the
local registry on a laptop) with their last known state. Installs run in the
server's background; the screen follows their progress and hands each step to
`progress`, which updates the row and writes the step to the log panel.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import RichLog

from home_idp.tui.results import Component, InstallProgress
from home_idp.tui.widgets.admin_tab import RELOAD, AdminTab
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


class AdminComponents(AdminTab[Component], Vertical):
    """Components in a table with install actions and a live progress log."""

    @dataclass
    class InstallWanted(Message):
        """The user asked to install, upgrade or uninstall a component (`name`).

        `name` None means installing every component, dependencies first.
        """

        name: str | None
        uninstall: bool = False

    TABLE_ID = "components-table"
    HEADING = "Components of this profile"
    # `progress` finds two of them by their keys, "status" and "message".
    COLUMNS = ("Name", "Chart", "Version", "Namespace", "Status", "Message", "Revision")

    DEFAULT_CSS = """
    AdminComponents RichLog { height: 10; border-top: solid $primary; }
    """

    BINDINGS = [
        Binding("i", "install", "Install/upgrade"),
        Binding("u", "uninstall", "Uninstall"),
        Binding("I", "install_all", "Install all"),
        RELOAD,
    ]

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield RichLog(id="install-log", markup=False, wrap=True, max_lines=1000)

    @property
    def components(self) -> list[Component]:
        """The profile's components, as shown."""
        return self.rows

    def row_key(self, component: Component) -> str:
        # Install progress and the install mutations name a component, not an id.
        return component["name"]

    def row_cells(self, component: Component) -> tuple[Text, ...]:
        revision = component["revision"]
        return (
            safe_text(component["name"]),
            safe_text(component["chart"]),
            safe_text(component["version"]),
            safe_text(component["namespace"]),
            status_label(component["status"]),
            safe_text(component["message"]),
            safe_text("—" if revision is None else revision),
        )

    def progress(self, event: InstallProgress) -> None:
        """Show one install step in its row and in the log."""
        name, status = event["component"], event["status"]
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
        table = self.table
        if name in {c["name"] for c in self.components}:
            table.update_cell(name, "status", status_label(status))
            table.update_cell(name, "message", safe_text(event["message"]), update_width=True)
        if status in _SETTLED:
            # The revision and time come only with the component itself.
            self.reload()

    # -- actions ------------------------------------------------------------

    def action_install(self) -> None:
        component = self.selected()
        if component is not None:
            self.start(self.InstallWanted(component["name"]))

    def action_uninstall(self) -> None:
        component = self.selected()
        if component is not None:
            question = f"Uninstall {component['name']} from {component['namespace']}?"
            self.start(self.InstallWanted(component["name"], uninstall=True), question)

    def action_install_all(self) -> None:
        question = "Install or upgrade every component, dependencies first?"
        self.start(self.InstallWanted(None), question)

    @work(exclusive=True, group="admin-components-action", exit_on_error=False)
    async def start(self, wanted: AdminComponents.InstallWanted, question: str = "") -> None:
        """Ask the screen to start an operation, after a question if given."""
        if question and not await self.confirmed(question, "Go"):
            return
        self.post_message(wanted)

    def started(self, what: str, components: list[Component]) -> None:
        """Log an operation the server started; its progress arrives through `progress`."""
        names = ", ".join(c["name"] for c in components)
        self.query_one(RichLog).write(safe_text(f"started: {what} {names}"))
        self.reload()
