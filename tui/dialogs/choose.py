"""Tick some of a list of names (which project variables an app uses)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Label, SelectionList
from textual.widgets.selection_list import Selection

from home_idp.tui.dialogs.box import dialog_box
from home_idp.tui.widgets.formatting import safe_text

__all__ = ["ChoiceDialog"]


class ChoiceDialog(ModalScreen[list[str] | None]):
    """Dismissed with the ticked values, in the order given, or None."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]
    AUTO_FOCUS = "SelectionList"

    def __init__(
        self, title: str, choices: list[tuple[str, str, bool]], hint: str = "", action: str = "Save"
    ) -> None:
        """`choices`: (label, value, ticked) in the order shown."""
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.hint = hint
        self.action_label = action

    def compose(self) -> ComposeResult:
        with dialog_box(self.title_text):
            if self.hint:
                yield Label(safe_text(self.hint), classes="field-label")
            yield SelectionList[str](
                *(
                    Selection(safe_text(label), value, ticked)
                    for label, value, ticked in self.choices
                ),
                id="choices",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.action_label, variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#submit")
    def action_save(self) -> None:
        ticked = set(self.query_one(SelectionList).selected)
        self.dismiss([value for _label, value, _t in self.choices if value in ticked])
