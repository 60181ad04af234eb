"""A yes/no question before something that cannot be undone."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button

from home_idp.tui.dialogs.box import dialog_box

__all__ = ["ConfirmDialog"]


class ConfirmDialog(ModalScreen[bool]):
    """Dismissed with True when the user confirms."""

    BINDINGS = [
        Binding("escape", "dismiss(False)", "No"),
        Binding("y", "dismiss(True)", "Yes"),
    ]

    def __init__(
        self, question: str, confirm_label: str = "Yes", decline_label: str = "Cancel"
    ) -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label
        # Another word where "Cancel" would be ambiguous (a question about cancelling).
        self.decline_label = decline_label

    def compose(self) -> ComposeResult:
        with dialog_box(self.question), Horizontal(classes="dialog-buttons"):
            yield Button(self.confirm_label, variant="warning", id="confirm")
            yield Button(self.decline_label, id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")
