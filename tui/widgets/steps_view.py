"""A release's pipeline steps: state, duration, attempts and a progress bar each."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from home_idp.tui.results import ReleaseStep
from home_idp.tui.widgets.formatting import duration, safe_text, state_label

__all__ = ["StepRow", "StepsView"]

_DONE = {"SUCCEEDED", "FAILED", "CANCELLED"}


class StepRow(Horizontal):
    """One step; `update_step` refreshes it in place.

    A row shows the newest state it was given: one given before its labels
    exist (two updates in quick succession, the first mounting it) is shown
    once they do.
    """

    def __init__(self, name: str) -> None:
        super().__init__(classes="step-row")
        self.step_name = name
        self.state = "PENDING"
        self._step: ReleaseStep | None = None
        self._composed = False

    def compose(self) -> ComposeResult:
        yield Label(self.step_name, classes="step-name")
        yield Label("", classes="step-state")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, classes="step-bar")
        yield Label("", classes="step-time")

    def on_mount(self) -> None:
        self._composed = True
        if self._step is not None:
            self._show(self._step)

    def update_step(self, step: ReleaseStep) -> None:
        self.state = step["state"]
        self._step = step
        if self._composed:
            self._show(step)

    def _show(self, step: ReleaseStep) -> None:
        self.query_one(".step-state", Label).update(state_label(self.state))
        attempts = step["attempts"]
        tries = f" · try {attempts}" if attempts > 1 else ""
        self.query_one(".step-time", Label).update(duration(step["durationMs"]) + tries)
        bar = self.query_one(ProgressBar)
        if self.state in _DONE:
            bar.update(total=1, progress=1)
        elif self.state in {"RUNNING", "WAITING"}:
            bar.update(total=None)  # indeterminate: a step has no measurable progress
        else:
            bar.update(total=1, progress=0)
        self.set_class(self.state == "FAILED", "failed")
        self.tooltip = safe_text(step["error"]) if step["error"] else None


class StepsView(Vertical):
    """Rows for the release's steps, in pipeline order, plus the failure reason."""

    def compose(self) -> ComposeResult:
        yield Label("", id="steps-error")

    def show(self, steps: list[ReleaseStep]) -> None:
        rows = {row.step_name: row for row in self.query(StepRow).results(StepRow)}
        for step in steps:
            row = rows.get(step["name"])
            if row is None:
                row = StepRow(step["name"])
                self.mount(row, before="#steps-error")
                rows[row.step_name] = row
            row.update_step(step)
        errors = Text()
        for step in steps:
            if step["error"]:
                errors.append_text(safe_text(f"{step['name']}: ", "bold red"))
                errors.append_text(safe_text(step["error"]))
                errors.append("\n")
        errors.rstrip()
        self.query_one("#steps-error", Label).update(errors)

    def states(self) -> dict[str, str]:
        """Each step's state as shown (for tests and the summary)."""
        return {row.step_name: row.state for row in self.query(StepRow).results(StepRow)}
