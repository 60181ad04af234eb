"""A project chosen in the sidebar: its shared variables and secrets, as a tab.

Project variables are what the project's apps may use (each app picks some
in its Env tab). A secret's value is typed into a password field and never
comes back: the table shows dots. Changing a variable starts config-only
releases of the running apps that use it; a variable in use cannot be
deleted (the server says which apps use it).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Label, Static, TabbedContent, TabPane

from home_idp.tui.app import home_of
from home_idp.tui.dialogs import ConfirmDialog, FormDialog, FormField
from home_idp.tui.widgets.app_env import SECRET_DOTS
from home_idp.tui.widgets.editable_tab import EditableTab
from home_idp.tui.widgets.formatting import ago, releases_started, safe_text
from home_idp.tui.widgets.project_tree import ProjectNode

__all__ = ["ProjectVariables", "ProjectView"]

_READ_ONLY_ROLES = {"viewer"}


class ProjectVariables(EditableTab):
    """The Env/Secrets tab of a project. Set `project_id` and call `reload()`."""

    BINDINGS = [
        Binding("n", "new_variable", "New var"),
        Binding("s", "new_secret", "New secret"),
        Binding("e", "edit_variable", "Edit"),
        Binding("d", "delete_variable", "Delete"),
        Binding("n,s,e,d", "explain_read_only", show=False),
    ]
    EDIT_ACTIONS = frozenset({"new_variable", "new_secret", "edit_variable", "delete_variable"})
    READ_ONLY_MESSAGE = "Viewers cannot change project variables."

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.project_id: str | None = None
        self.variables: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Label("", id="variables-hint", classes="tab-hint")
        yield DataTable[str | Text](id="variables-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.table.add_columns("Name", "Secret", "Value", "Used by", "By", "When")

    @property
    def table(self) -> DataTable[str | Text]:
        return self.query_one("#variables-table", DataTable)

    @work(exclusive=True, group="variables", exit_on_error=False)
    async def reload(self) -> None:
        project_id = self.project_id
        if project_id is None:
            return
        home = home_of(self)
        with home.reporting():
            node = (await home.gateway.execute("ProjectVariables", id=project_id))["node"]
            if node is None:
                self.notify("This project is gone.", severity="warning")
            elif project_id == self.project_id:
                self.show(node)

    def show(self, project: dict[str, Any]) -> None:
        self.variables = sorted(project.get("variables", []), key=lambda v: str(v["name"]))
        table = self.table
        keep = table.cursor_row
        table.clear()
        for variable in self.variables:
            secret = bool(variable["isSecret"])
            used_by = ", ".join(variable.get("usedBy") or [])
            table.add_row(
                safe_text(variable["name"]),
                "secret" if secret else "",
                safe_text(SECRET_DOTS, "dim")
                if secret or variable.get("value") is None
                else safe_text(variable["value"]),
                safe_text(used_by or "—", "" if used_by else "dim"),
                safe_text(variable["updatedBy"]),
                ago(variable.get("updatedAt")),
                key=str(variable["name"]),
            )
        if self.variables:
            table.move_cursor(row=min(keep, len(self.variables) - 1))
        hint = "Apps pick the variables they use in their Env tab (u)."
        if not self.variables:
            hint = "No project variables yet." + (
                "" if self.read_only else " n: new variable · s: new secret."
            )
        self.query_one("#variables-hint", Label).update(hint)

    @property
    def current(self) -> dict[str, Any] | None:
        row = self.table.cursor_row
        return self.variables[row] if self.variables and 0 <= row < len(self.variables) else None

    def action_new_variable(self) -> None:
        self._ask("New project variable", secret=False)

    def action_new_secret(self) -> None:
        self._ask("New project secret (the value is never shown again)", secret=True)

    def action_edit_variable(self) -> None:
        variable = self.current
        if variable is None:
            self.notify("No variable to edit: press n or s to add one.", severity="warning")
            return
        secret = bool(variable["isSecret"])
        title = (
            f"New value of the secret {variable['name']}" if secret else f"Edit {variable['name']}"
        )
        self._ask(title, secret=secret, name=str(variable["name"]), value=variable.get("value"))

    def _ask(self, title: str, *, secret: bool, name: str | None = None, value: Any = None) -> None:
        project_id = self.project_id
        if project_id is None:
            return

        async def submit(values: dict[str, Any]) -> Any:
            return await home_of(self).gateway.mutate(
                "SetProjectVariable",
                input={
                    "project": project_id,
                    "name": name if name is not None else values["name"],
                    "value": values["value"],
                    "isSecret": secret,
                },
            )

        example = "DB_PASSWORD" if secret else "LOG_LEVEL"
        fields = [] if name is not None else [FormField("name", "Name", placeholder=example)]
        fields.append(
            FormField(
                "value",
                "Value (typed, never shown again)" if secret else "Value",
                # A secret's value never comes back, so there is nothing to fill in.
                value="" if secret or value is None else str(value),
                password=secret,
            )
        )
        self.app.push_screen(FormDialog(title, fields, submit, "Save"), self._changed)

    def _changed(self, result: dict[str, Any] | None) -> None:
        if not result:
            return
        note = releases_started(
            result["releases"], "no release started (nothing runs that uses it now)"
        )
        self.notify(f"Saved; {note}.", markup=False)
        self.show(result["project"])

    @work(exclusive=True, group="variables", exit_on_error=False)
    async def action_delete_variable(self) -> None:
        variable, project_id = self.current, self.project_id
        if variable is None or project_id is None:
            return
        name = str(variable["name"])
        if not await self.app.push_screen_wait(ConfirmDialog(f"Delete {name}?", "Delete")):
            return
        home = home_of(self)
        with home.reporting():
            result = await home.gateway.mutate(
                "DeleteProjectVariable", input={"project": project_id, "name": name}
            )
            self.notify(f"Deleted {name}.", markup=False)
            self.show(result["project"])


class ProjectView(Vertical):
    """Set `project_node` and the pane shows that project."""

    project_node: reactive[ProjectNode | None] = reactive(None, init=False, always_update=True)

    def compose(self) -> ComposeResult:
        yield Static("", id="project-title")
        with TabbedContent(id="project-tabs"), TabPane("Env/Secrets", id="tab-project-env"):
            yield ProjectVariables(id="project-variables")

    def watch_project_node(self, project: ProjectNode | None) -> None:
        if project is None:
            return
        title = safe_text(project.name, "bold")
        title.append(f"  ({project.role or 'not a member'})", "dim")
        self.query_one("#project-title", Static).update(title)
        variables = self.query_one(ProjectVariables)
        if variables.project_id != project.id:
            variables.variables = []
            variables.table.clear()
        variables.project_id = project.id
        variables.read_only = not home_of(self).is_admin and (
            project.role is None or project.role in _READ_ONLY_ROLES
        )
        variables.refresh_bindings()
        variables.reload()
