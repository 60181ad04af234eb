"""An app's live output, followed only while the Logs tab is shown.

Opening the tab asks the screen to follow the app: its worker subscribes to
`appLogs` (the last lines of each running pod or container, then new ones)
and writes here. Hiding the tab, choosing another app or leaving the screen
cancels that worker, which closes the subscription and so the server's log
streams. Each line reads `source │ text`, the source dimmed. The view keeps
the newest `MAX_LINES` lines; `f` follows, `/` searches.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label
from textual.worker import Worker

from home_idp.tui.results import AppResource
from home_idp.tui.widgets.build_log import BuildLogView

__all__ = ["MAX_LINES", "RETRY_SECONDS", "SEPARATOR", "TAIL_LINES", "AppLogs", "running_instances"]

MAX_LINES = 10_000
SEPARATOR = " │ "
TAIL_LINES = 100
# How often to look again for a running pod while there is none.
RETRY_SECONDS = 5.0


def running_instances(resources: list[AppResource]) -> list[AppResource]:
    """The pods (or, in local mode, containers) that run now."""
    return [
        r
        for r in resources
        if r["kind"] in {"Pod", "Container"} and (r["phase"] or "").lower() == "running"
    ]


class AppLogs(Vertical):
    """The Logs tab: call `follow_app(app_id)` when shown and `stop()` when hidden.

    The screen answers `FollowWanted` with a worker (`worker`) that writes the
    lines to `view` and says what it does through `status`.
    """

    @dataclass
    class FollowWanted(Message):
        """The tab is shown: app `app_id`'s output is to be followed."""

        app_id: str

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.app_id: str | None = None
        self.wanted_app: str | None = None
        """The app whose output is wanted now (None once stopped)."""
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

    def status(self, text: str) -> None:
        self.query_one("#logs-status", Label).update(text)

    def follow_app(self, app_id: str) -> None:
        """Follow this app's output (nothing changes if it is followed already)."""
        if self.following and app_id == self.app_id:
            return
        self.stop()
        if app_id != self.app_id:
            self.view.clear()  # another app's lines
        self.app_id = self.wanted_app = app_id
        # Sent as from the tab itself, so it bubbles to the screen whoever calls.
        self.post_message(self.FollowWanted(app_id).set_sender(self))

    def stop(self) -> None:
        """Cancel the worker: its subscription closes and the server stops reading logs."""
        self.wanted_app = None
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None
            self.status("stopped (shown again when the tab is)")
