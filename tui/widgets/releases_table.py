"""An app's releases as a table; its screen keeps it current as releases change.

Each row names the source commit the release builds (short sha, the first line
of its message, its author) once the server knows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from home_idp.tui.results import Release
from home_idp.tui.widgets.formatting import ago, duration, release_state, safe_text, source_commit
from home_idp.tui.widgets.keyed_rows import highlighted_key, refill

__all__ = ["ReleasesTable"]

COLUMNS = ("#", "Status", "Trigger", "Source commit", "Image", "By", "When", "Took")
# A commit message's first line is cut to this in the table; the release screen has it whole.
_SUBJECT_WIDTH = 40


def _release_key(release: Release) -> str:
    return release["id"]


def _release_cells(release: Release) -> tuple[str | Text, ...]:
    image = (release["image"] or "—").rsplit("/", 1)[-1]
    status = release_state(release)
    if release["isLive"]:
        status.append(" (live)", "bold")
    return (
        f"{release['number']}",
        status,
        safe_text(release["trigger"]),
        source_commit(release["sourceCommit"], message_width=_SUBJECT_WIDTH),
        safe_text(image),
        safe_text(release["createdBy"]),
        ago(release["createdAt"]),
        duration(release["durationMs"]),
    )


class ReleasesTable(DataTable[str | Text]):
    """Set `app_id` and call `reload()`: the screen answers with `show(releases)` and
    follows the app's release events. Enter posts `ReleaseChosen` for the screen to open.
    """

    @dataclass
    class Stale(Message):
        """The releases of `app_id` are to be fetched (again) and followed."""

        app_id: str

    @dataclass
    class ReleaseChosen(Message):
        """The user (or a just-saved Dockerfile) asks to open a release."""

        release_id: str

    BINDINGS = [Binding("enter", "open", "Open release", show=True)]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.app_id: str | None = None
        self.releases: list[Release] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def reload(self) -> None:
        if self.app_id is not None:
            # Sent as from the table itself, so it bubbles to the screen whoever calls.
            self.post_message(self.Stale(self.app_id).set_sender(self))

    def show(self, releases: list[Release]) -> None:
        """Show `releases`; the highlight stays on the release it was on, wherever
        newer releases put its row."""
        self.releases = releases
        refill(self, releases, _release_key, _release_cells, keep=highlighted_key(self))

    def action_open(self) -> None:
        release_id = highlighted_key(self)
        if release_id is not None:
            self.open_release(release_id)

    def open_release(self, release_id: str) -> None:
        """Ask the screen to open a release."""
        self.post_message(self.ReleaseChosen(release_id).set_sender(self))
