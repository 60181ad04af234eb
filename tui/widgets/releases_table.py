"""An app's releases as a table that follows the app's release events live."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.widgets import DataTable

from home_idp.tui.app import home_of
from home_idp.tui.widgets.formatting import ago, duration, safe_text, state_label

__all__ = ["ReleasesTable"]

COLUMNS = ("#", "Status", "Trigger", "Image", "By", "When", "Took")


class ReleasesTable(DataTable[str | Text]):
    """Set `app_id`, call `reload()`; enter opens a release."""

    BINDINGS = [Binding("enter", "open", "Open release", show=True)]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.app_id: str | None = None
        self.releases: list[dict[str, Any]] = []
        self._reload_due = False

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def reload(self) -> None:
        self.load()
        self.follow()

    @work(exclusive=True, group="releases", exit_on_error=False)
    async def load(self) -> None:
        if self.app_id is None:
            return
        home = home_of(self)
        with home.reporting():
            data = await home.gateway.execute("AppReleases", id=self.app_id)
            node = data["node"] or {"releases": {"edges": []}}
            self.show([e["node"] for e in node["releases"]["edges"]])

    def show(self, releases: list[dict[str, Any]]) -> None:
        self.releases = releases
        keep = self.cursor_row
        self.clear()
        for release in releases:
            image = str(release.get("image") or "—").rsplit("/", 1)[-1]
            status = state_label(str(release["status"]))
            if release.get("isLive"):
                status.append(" (live)", "bold")
            self.add_row(
                f"{release['number']}",
                status,
                safe_text(release["trigger"]),
                safe_text(image),
                safe_text(release["createdBy"]),
                ago(release.get("createdAt")),
                duration(release.get("durationMs")),
                key=str(release["id"]),
            )
        if releases:
            self.move_cursor(row=min(keep, len(releases) - 1))

    @work(exclusive=True, group="release-events", exit_on_error=False)
    async def follow(self) -> None:
        """Reload when any release of the app changes (events are the trigger, rows the truth)."""
        if self.app_id is None:
            return
        home = home_of(self)
        with home.reporting():
            async for _event in home.gateway.subscribe("ReleaseEvents", appId=self.app_id):
                # Events come in bursts: the first one schedules a reload that covers them all.
                if not self._reload_due:
                    self._reload_due = True
                    self.set_timer(0.1, self._reload_now)

    def _reload_now(self) -> None:
        self._reload_due = False
        self.load()

    def action_open(self) -> None:
        if self.releases and self.cursor_row < len(self.releases):
            self.open_release(str(self.releases[self.cursor_row]["id"]))

    def open_release(self, release_id: str) -> None:
        from home_idp.tui.screens.release import ReleaseScreen

        self.app.push_screen(ReleaseScreen(release_id))
