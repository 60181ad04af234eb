"""The frame every dialog draws: a box with its title on top."""

from __future__ import annotations

from textual.containers import Vertical
from textual.widgets import Label

from home_idp.tui.widgets.formatting import safe_text

__all__ = ["dialog_box"]


def dialog_box(title: str, classes: str = "") -> Vertical:
    """A dialog's box, titled; what a `compose` yields inside `with dialog_box(...)`
    comes below the title. `classes` adds to "dialog" (for example "wide")."""
    return Vertical(
        Label(safe_text(title), classes="dialog-title"), classes=f"dialog {classes}".strip()
    )
