"""A project chosen in the sidebar: its shared variables and secrets, as a tab.

Project variables are what the project's apps may use (each app picks some
in its Env tab). A secret's value is typed into a password field and never
comes back: the table shows dots. Changing a variable starts config-only
releases of the running apps that use it; a variable in use cannot be
deleted (the server says which apps use it).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static, TabbedContent, TabPane

from home_idp.tui.dialogs import ConfirmDialog
from home_idp.tui.results import ProjectConfigResult, ProjectVariableDetail, ProjectWithVariables
from home_idp.tui.widgets.app_env import SECRET_DOTS
from home_idp.tui.widgets.editable_tab import EditableTab
from home_idp.tui.widgets.formatting import ago, releases_started, safe_text
from home_idp.tui.widgets.project_tree import ProjectNode
from home_idp.tui.widgets.table_tab import TableTab

__all__ = ["ProjectVariables", "ProjectView"]

_READ_ONLY_ROLES = {"viewer"}


def _variable_cells(variable: ProjectVariableDetail) -> tuple[str | Text, ...]:
    secret = variable["isSecret"]
    used_by = ", ".join(variable["usedBy"])
    return (
        safe_text(variable["name"]),
        "secret" if secret else "",
        safe_text(SECRET_DOTS, "dim")
        if secret or variable["value"] is None
        else safe_text(variable["value"]),
        safe_text(used_by or "—", "" if used_by else "dim"),
        safe_text(variable["updatedBy"]),
        ago(variable["updatedAt"]),
    )


def _variable_key(variable: ProjectVariableDetail) -> str:
    return variable["name"]


class ProjectVariables(EditableTab, TableTab):
    """The Env/Secrets tab of a project. Set `project_id` and call `reload()`.

    The screen fetches and changes the variables the tab asks about in its
    messages, and hands back the project (`show`) or a change (`changed`).
    """

    @dataclass
    class Stale(Message):
        """The variables of `project_id` are to be fetched (again)."""

        project_id: str

    @dataclass
    class EditWanted(Message):
        """The user asked to write a variable: a new one (`name` None) or `name`'s value."""

        project_id: str
        title: str
        _: KW_ONLY
        secret: bool
        name: str | None
        value: str | None

    @dataclass
    class DeleteWanted(Message):
        """The user confirmed deleting a variable."""

        project_id: str
        name: str

    BINDINGS = [
        Binding("n", "new_variable", "New var"),
        Binding("s", "new_secret", "New secret"),
        Binding("e", "edit_variable", "Edit"),
        Binding("d", "delete_variable", "Delete"),
        Binding("n,s,e,d", "explain_read_only", show=False),
    ]
    EDIT_ACTIONS = frozenset({"new_variable", "new_secret", "edit_variable", "delete_variable"})
    READ_ONLY_MESSAGE = "Viewers cannot change project variables."
    TABLE_ID = "variables-table"
    HINT_ID = "variables-hint"
    COLUMNS = ("Name", "Secret", "Value", "Used by", "By", "When")

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.project_id: str | None = None
        self.variables: list[ProjectVariableDetail] = []

    def reload(self) -> None:
        if self.project_id is not None:
            # Sent as from the tab itself, so it bubbles to the screen whoever calls.
            self.post_message(self.Stale(self.project_id).set_sender(self))

    def show(self, project: ProjectWithVariables) -> None:
        self.variables = sorted(project["variables"], key=lambda v: v["name"])
        self.fill(self.variables, _variable_cells, _variable_key)
        hint = "Apps pick the variables they use in their Env tab (u)."
        if not self.variables:
            hint = "No project variables yet." + (
                "" if self.read_only else " n: new variable · s: new secret."
            )
        self.hint(hint)

    @property
    def current(self) -> ProjectVariableDetail | None:
        return self.at_cursor(self.variables)

    def action_new_variable(self) -> None:
        self._ask("New project variable", secret=False)

    def action_new_secret(self) -> None:
        self._ask("New project secret (the value is never shown again)", secret=True)

    def action_edit_variable(self) -> None:
        variable = self.current
        if variable is None:
            self.notify("No variable to edit: press n or s to add one.", severity="warning")
            return
        secret = variable["isSecret"]
        title = (
            f"New value of the secret {variable['name']}" if secret else f"Edit {variable['name']}"
        )
        self._ask(title, secret=secret, name=variable["name"], value=variable["value"])

    def _ask(
        self, title: str, *, secret: bool, name: str | None = None, value: str | None = None
    ) -> None:
        if self.project_id is not None:
            self.post_message(
                self.EditWanted(self.project_id, title, secret=secret, name=name, value=value)
            )

    def changed(self, result: ProjectConfigResult) -> None:
        """Show a saved variable and what its change set off."""
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
        name = variable["name"]
        if not await self.app.push_screen_wait(ConfirmDialog(f"Delete {name}?", "Delete")):
            return
        self.post_message(self.DeleteWanted(project_id, name))


class ProjectView(Vertical):
    """Set `project_node` and the pane shows that project."""

    is_admin = False
    """Whether the user is an administrator, who may change any project."""

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
        variables.read_only = not self.is_admin and (
            project.role is None or project.role in _READ_ONLY_ROLES
        )
        variables.refresh_bindings()
        variables.reload()
