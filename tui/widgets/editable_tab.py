"""A tab whose keys change things: hidden for read-only users, explained when pressed.

Viewers see the tab without its editing keys in the footer; pressing one
still gets an answer (a notification saying why) instead of nothing.
"""

from __future__ import annotations

from typing import ClassVar

from textual.containers import Vertical

__all__ = ["EditableTab"]


class EditableTab(Vertical):
    """Set `read_only` (then `refresh_bindings()`); subclasses name their editing actions
    in `EDIT_ACTIONS` and bind the same keys to `explain_read_only`, unshown."""

    EDIT_ACTIONS: ClassVar[frozenset[str]] = frozenset()
    READ_ONLY_MESSAGE: ClassVar[str] = "Viewers cannot change this."

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.read_only = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.EDIT_ACTIONS:
            return not self.read_only
        if action == "explain_read_only":
            return self.read_only
        return True

    def action_explain_read_only(self) -> None:
        self.notify(self.READ_ONLY_MESSAGE, severity="warning")
