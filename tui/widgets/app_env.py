"""An app's environment as its containers get it: its own variables and secrets and
the project variables it uses, each with where it comes from.

Secret values never reach the dashboard: they show as dots. `u` chooses
which of the project's variables the app uses (its `sharedEnv`); the app's
own variables and secrets are edited in the Settings tab.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.binding import Binding
from textual.message import Message

from home_idp.tui.dialogs import ChoiceDialog
from home_idp.tui.results import AppConfig
from home_idp.tui.widgets.editable_tab import EditableTab
from home_idp.tui.widgets.formatting import safe_text
from home_idp.tui.widgets.table_tab import TableTab

__all__ = ["SECRET_DOTS", "AppEnv"]

SECRET_DOTS = "••••••"  # noqa: S105 (what shows instead of a secret)
_HINT = "u: choose project variables · the app's own ones: Settings tab (alt+3)"


class AppEnv(EditableTab, TableTab):
    """The Env tab. Call `show(config)`; posts `SharedEnvChosen` after `u` made a choice."""

    BINDINGS = [
        Binding("u", "choose_shared", "Use project vars"),
        Binding("u", "explain_read_only", show=False),
    ]
    EDIT_ACTIONS = frozenset({"choose_shared"})
    READ_ONLY_MESSAGE = "Viewers cannot change which variables an app uses."
    TABLE_ID = "env-table"
    HINT_ID = "env-hint"
    HINT = _HINT
    COLUMNS = ("Name", "From", "Value", "")

    @dataclass
    class SharedEnvChosen(Message):
        """The user chose the project variables app `app_id` uses."""

        app_id: str
        names: list[str]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.config: AppConfig | None = None

    def show(self, config: AppConfig) -> None:
        self.config = config
        table = self.table
        table.clear()
        for entry in config["environment"]:
            value = (
                safe_text(SECRET_DOTS, "dim")
                if entry["isSecret"] or entry["value"] is None
                else safe_text(entry["value"])
            )
            note = (
                safe_text("overridden by the app", "italic yellow") if entry["overridden"] else ""
            )
            table.add_row(
                safe_text(entry["name"]),
                safe_text(entry["source"], "cyan" if entry["source"] == "project" else ""),
                value,
                note,
            )
        self.hint(_HINT if config["environment"] else f"No variables yet. {_HINT}")
        self.refresh_bindings()

    @work(exclusive=True, group="env", exit_on_error=False)
    async def action_choose_shared(self) -> None:
        config = self.config
        if config is None:
            return
        used = config["sharedEnv"]
        variables = config["project"]["variables"]
        names = [v["name"] for v in variables]
        secret = {v["name"] for v in variables if v["isSecret"]}
        choices = [
            (f"{name}  (secret)" if name in secret else name, name, name in used) for name in names
        ]
        # A name the project lost stays listed, so unticking it is possible.
        choices += [
            (f"{name}  (gone from the project)", name, True) for name in used if name not in names
        ]
        if not choices:
            self.notify(
                "The project has no variables yet: add some in the project's pane "
                "(choose the project in the sidebar).",
                severity="warning",
            )
            return
        chosen = await self.app.push_screen_wait(
            ChoiceDialog(
                "Project variables this app uses",
                choices,
                hint="space: tick or untick · ctrl+s: save",
            )
        )
        if chosen is None:
            return
        self.post_message(self.SharedEnvChosen(config["id"], chosen))
