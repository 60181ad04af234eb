"""The releases table keeps its highlight on a release, not on a row number."""

from __future__ import annotations

from textual.app import App, ComposeResult

from home_idp.tui.results import Release
from home_idp.tui.widgets.releases_table import ReleasesTable


def release(number: int) -> Release:
    return Release(
        id=f"release-{number}",
        number=number,
        status="SUCCEEDED",
        trigger="Dockerfile v1",
        image=None,
        createdBy="dev",
        createdAt="2026-12-07T10:00:00+00:00",
        finishedAt=None,
        durationMs=1200,
        isLive=False,
        verifyUntil=None,
        rolledBackBy=None,
        sourceCommit=None,
    )


class Releases(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield ReleasesTable()

    def on_releases_table_release_chosen(self, message: ReleasesTable.ReleaseChosen) -> None:
        self.chosen.append(message.release_id)


async def test_enter_opens_the_highlighted_release_after_newer_ones_arrive() -> None:
    app = Releases()
    async with app.run_test() as pilot:
        table = app.query_one(ReleasesTable)
        table.show([release(2), release(1)])
        table.focus()
        await pilot.press("down")  # on release #1
        # Two new releases arrive on top, newest first.
        table.show([release(4), release(3), release(2), release(1)])
        await pilot.press("enter")
        assert app.chosen == ["release-1"]
        # A release that is gone leaves the highlight on the first row.
        table.show([release(4), release(3)])
        await pilot.press("enter")
        assert app.chosen == ["release-1", "release-4"]
