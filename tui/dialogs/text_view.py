"""A read-only view of a long text (a diff, a payload), scrollable, closed with escape."""

from __future__ import annotations

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from home_idp.tui.dialogs.box import dialog_box

__all__ = ["TextViewDialog"]


class TextViewDialog(ModalScreen[None]):
    """Shows `text`, highlighted as `language` (for example "diff" or "json")."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, title: str, text: str, language: str = "text") -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.language = language

    def compose(self) -> ComposeResult:
        with dialog_box(self.title_text, "wide"), VerticalScroll(classes="dialog-body"):
            yield Static(
                Syntax(self.text or "(empty)", self.language, word_wrap=True),
                id="text-view",
            )
