"""An app's Dockerfile versions; picking one shows its diff against the current one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from home_idp.tui.dialogs.box import dialog_box
from home_idp.tui.results import DockerfileVersionSummary
from home_idp.tui.widgets.formatting import safe_text

__all__ = ["VersionsDialog"]


class VersionsDialog(ModalScreen[DockerfileVersionSummary | None]):
    """Dismissed with the chosen version (id, number, ...) or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, versions: list[DockerfileVersionSummary]) -> None:
        super().__init__()
        self.versions = versions

    def compose(self) -> ComposeResult:
        with dialog_box("Dockerfile versions (enter: diff against the current one)", "wide"):
            yield OptionList(
                *(
                    Option(
                        safe_text(
                            f"v{v['number']:<4} {str(v['createdAt'])[:16].replace('T', ' ')}  "
                            f"{v['author']:<12} {v['message']}"
                        ),
                        id=str(v["id"]),
                    )
                    for v in self.versions
                ),
                id="versions",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = next(v for v in self.versions if str(v["id"]) == event.option.id)
        self.dismiss(chosen)
