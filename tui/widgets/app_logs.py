"""An app's live output, followed only while the Logs tab is shown.

Opening the tab subscribes to `appLogs` (the last lines of each running pod
or container, then new ones); hiding it, choosing another app or leaving
the screen cancels the worker, which closes the subscription and so the
server's log streams. Each line reads `source │ text`, the source dimmed.
The view keeps the newest `MAX_LINES` lines; `f` follows, `/` searches.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label
from textual.worker import Worker

from home_idp.tui.app import home_of
from home_idp.tui.widgets.build_log import BuildLogView

__all__ = ["MAX_LINES", "SEPARATOR", "AppLogs", "running_instances"]

MAX_LINES = 10_000
SEPARATOR = " │ "
TAIL_LINES = 100
# How often to look again for a running pod while there is none.
RETRY_SECONDS = 5.0


def running_instances(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pods (or, in local mode, containers) that run now."""
    return [
        r
        for r in resources
        if r["kind"] in {"Pod", "Container"} and str(r.get("phase") or "").lower() == "running"
    ]


class AppLogs(Vertical):
    """The Logs tab: call `follow_app(app_id)` when shown and `stop()` when hidden."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.app_id: str | None = None
        self.worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Label("not following", id="logs-status", classes="tab-hint")
        yield BuildLogView(id="app-log", max_lines=MAX_LINES, dim_prefix=SEPARATOR)

    @property
    def view(self) -> BuildLogView:
        return self.query_one(BuildLogView)

    @property
    def following(self) -> bool:
        return self.worker is not None and not self.worker.is_finished

    def _status(self, text: str) -> None:
        self.query_one("#logs-status", Label).update(text)

    def follow_app(self, app_id: str) -> None:
        """Follow this app's output (nothing changes if it is followed already)."""
        if self.following and app_id == self.app_id:
            return
        self.stop()
        if app_id != self.app_id:
            self.view.clear()  # another app's lines
        self.app_id = app_id
        self.worker = self._follow(app_id)

    def stop(self) -> None:
        """Cancel the worker: its subscription closes and the server stops reading logs."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None
            self._status("stopped (shown again when the tab is)")

    @work(exclusive=True, group="app-logs", exit_on_error=False)
    async def _follow(self, app_id: str) -> None:
        home = home_of(self)
        view = self.view
        with home.reporting():
            while True:
                self._status("looking for running pods…")
                found = (await home.gateway.execute("AppResources", app=app_id))["appResources"]
                running = running_instances(found)
                if not running:
                    self._status(f"not running (looking again every {RETRY_SECONDS:.0f} s)")
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                kind = "container" if running[0]["kind"] == "Container" else "pod"
                count = len(running)
                self._status(f"following {count} {kind}{'s' if count != 1 else ''}")
                # Each stream starts with the last lines again: start from a clean view.
                view.clear()
                async for line in home.gateway.subscribe(
                    "AppLogs", appId=app_id, follow=True, tailLines=TAIL_LINES
                ):
                    view.append(f"{line['source']}{SEPARATOR}{line['text']}")
                # Every stream ended: the app stopped or was replaced by a new release.
                self._status("the app's output ended; looking again…")
                await asyncio.sleep(RETRY_SECONDS)
