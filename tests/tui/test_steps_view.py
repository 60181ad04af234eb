"""The steps of a release as rows: each shows the newest state it was given."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Label

from home_idp.tui.results import ReleaseStep
from home_idp.tui.widgets.steps_view import StepRow, StepsView


def step(name: str, state: str, attempts: int = 1) -> ReleaseStep:
    return {
        "name": name,
        "state": state,
        "attempts": attempts,
        "error": None,
        "startedAt": None,
        "finishedAt": None,
        "durationMs": 1500 if state == "SUCCEEDED" else None,
    }


class StepsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StepsView()


async def test_updates_that_come_before_a_new_row_is_drawn_end_in_its_newest_state() -> None:
    async with StepsApp().run_test() as pilot:
        view = pilot.app.query_one(StepsView)
        # Release events arrive faster than a row is composed: the second update
        # reaches rows whose labels do not exist yet.
        view.show([step("build", "RUNNING"), step("push", "PENDING")])
        view.show([step("build", "SUCCEEDED", attempts=2), step("push", "RUNNING")])
        await pilot.pause()
        rows = {row.step_name: row for row in view.query(StepRow).results(StepRow)}
        assert view.states() == {"build": "SUCCEEDED", "push": "RUNNING"}
        shown = str(rows["build"].query_one(".step-time", Label).content)
        assert "try 2" in shown, shown
        assert rows["build"].query_one(".step-state", Label).content != ""
