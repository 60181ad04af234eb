"""Tabs that a late focus message does not switch back."""

from __future__ import annotations

from textual.widgets import TabbedContent, TabPane

__all__ = ["FocusTabs"]


class FocusTabs(TabbedContent):
    """A TabbedContent that opens a pane for a focus only while the pane still holds it.

    Textual opens the pane of a widget focused in code, through a message that
    comes after the focus. Opening a tab focuses its first field: with two tabs
    opened quickly (alt+2, alt+3), the first tab's message could arrive after the
    second tab opened, and switch back to the first.
    """

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        focused = self.app.focused
        if focused is None or event.tab_pane not in focused.ancestors_with_self:
            # The focus has moved on since: TabbedContent's own handler (which
            # Textual calls after this one, as the base class's) is skipped.
            event.stop()
            event.prevent_default()
