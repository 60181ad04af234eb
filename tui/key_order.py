"""Keys act in the order they were typed, however fast they come.

Textual hands every key to the focused widget's queue. A key the widget does
not take itself (End in the editor, Tab in a form) then travels back up the
widget tree, one queue at a time, to the app, which only then runs the
binding. Keys typed right after it (a paste, a script, a slow SSH link that
delivers in bursts) are meanwhile taken by the widget: End then "Q" put the
Q before the line's end, and a secret's name, Tab, then its value typed part
of the value into the name.

So the app runs such a key's binding as the key arrives, before it passes on
the next one, which is what Textual would do after the key's trip up the
tree, only in order. What the binding's action sets going for later (a
widget's `focus()` is such a call) is queued behind keys already typed, so
those keys wait until it has happened: "/" then "error" searches for
"error" instead of typing it into the log.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets import TextArea

__all__ = ["takes_key_itself"]


def takes_key_itself(widget: Widget, event: events.Key) -> bool:
    """Whether the focused `widget` handles `event` in its own key handler.

    Such a key must reach the widget, not a binding of the same key further up.
    """
    if widget.check_consume_key(event.key, event.character):
        return True
    # A TextArea takes Enter as a new line in its key handler without saying so.
    return isinstance(widget, TextArea) and not widget.read_only and event.key == "enter"
