"""The objects that run an app (Deployment, Pods, Service, ConfigMap, ... or, in
local mode, its containers), reloaded every few seconds while the tab is shown.

`x` deletes the pod under the cursor so it restarts; only maintainers (and
administrators) get the key, and the server still has the last word. The tab
asks, the screen fetches (`show`) and deletes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer

from home_idp.tui.dialogs import ConfirmDialog
from home_idp.tui.results import AppResource
from home_idp.tui.widgets.formatting import safe_text
from home_idp.tui.widgets.table_tab import TableTab

__all__ = ["DELETABLE_KINDS", "RELOAD_SECONDS", "AppResources"]

RELOAD_SECONDS = 5.0
DELETABLE_KINDS = {"Pod", "Container"}


def _ready(ready: bool | None) -> Text:
    if ready is None:
        return safe_text("—", "dim")
    return safe_text("✓", "green") if ready else safe_text("✗", "bold red")


def _resource_cells(resource: AppResource) -> tuple[str | Text, ...]:
    return (
        safe_text(resource["kind"]),
        safe_text(resource["name"]),
        safe_text(resource["status"]),
        _ready(resource["ready"]),
        "" if resource["restarts"] is None else str(resource["restarts"]),
        "" if resource["release"] is None else f"#{resource['release']}",
        safe_text(", ".join(resource["keys"])),
    )


class AppResources(TableTab):
    """The Resources tab: `watch_app(app_id)` while shown, `stop()` when hidden."""

    @dataclass
    class Stale(Message):
        """The objects of app `app_id` are to be fetched (again)."""

        app_id: str

    @dataclass
    class PodDeletionWanted(Message):
        """The user confirmed deleting a pod (or container) of app `app_id`."""

        app_id: str
        name: str

    BINDINGS = [
        Binding("r", "reload", "Reload"),
        Binding("x", "delete_pod", "Delete pod"),
        # Hidden from non-maintainers; the press still gets an answer.
        Binding("x", "explain_delete_pod", show=False),
    ]
    TABLE_ID = "resources-table"
    HINT_ID = "resources-status"
    COLUMNS = ("Kind", "Name", "Status", "Ready", "Restarts", "Release", "Keys")

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.app_id: str | None = None
        self.resources: list[AppResource] = []
        self.may_delete_pods = False
        self._timer: Timer | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "delete_pod":
            return self.may_delete_pods
        if action == "explain_delete_pod":
            return not self.may_delete_pods
        return True

    def watch_app(self, app_id: str) -> None:
        """Show this app's objects now and every few seconds until `stop()`."""
        if app_id != self.app_id:
            self.app_id = app_id
            self.resources = []
            self.table.clear()
        self.reload()
        if self._timer is None:
            self._timer = self.set_interval(RELOAD_SECONDS, self.reload)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def action_reload(self) -> None:
        self.reload()

    def reload(self) -> None:
        if self.app_id is not None:
            # Sent as from the tab itself, so it bubbles to the screen whoever calls.
            self.post_message(self.Stale(self.app_id).set_sender(self))

    def show(self, resources: list[AppResource]) -> None:
        self.resources = resources
        self.fill(resources, _resource_cells)
        status = f"{len(resources)} object(s)" if resources else "Nothing runs for this app yet."
        self.hint(f"{status} · reloaded every {RELOAD_SECONDS:.0f} s")

    def action_explain_delete_pod(self) -> None:
        self.notify("Only maintainers of the project may delete pods.", severity="warning")

    @work(exclusive=True, group="delete-pod", exit_on_error=False)
    async def action_delete_pod(self) -> None:
        chosen = self.at_cursor(self.resources)
        if chosen is None or self.app_id is None:
            return
        if chosen["kind"] not in DELETABLE_KINDS:
            self.notify("Put the cursor on a Pod (or Container) row first.", severity="warning")
            return
        name = chosen["name"]
        what = "container (it restarts)" if chosen["kind"] == "Container" else "pod"
        if not await self.app.push_screen_wait(
            ConfirmDialog(f"Delete the {what} {name}?", "Delete")
        ):
            return
        self.post_message(self.PodDeletionWanted(self.app_id, name))
