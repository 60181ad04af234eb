"""The Projects tab of the admin screen: every project and the members of the chosen one.

Admins see all projects; highlighting one loads its members beside it, where
members are added, given another role, or removed.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Label

from home_idp.tui.app import home_of
from home_idp.tui.dialogs import ConfirmDialog, FormDialog, FormField
from home_idp.tui.widgets.formatting import clean, safe_text, stamp

__all__ = ["AdminProjects"]


def _highlighted(table: DataTable[Any]) -> str | None:
    """The row key under the cursor, or None for an empty table."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value


class AdminProjects(Horizontal):
    """Projects on the left, the highlighted project's members on the right."""

    DEFAULT_CSS = """
    AdminProjects { height: 1fr; }
    AdminProjects > Vertical { width: 1fr; height: 1fr; }
    AdminProjects .admin-heading { padding: 0 1; text-style: bold; }
    AdminProjects DataTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("a", "add_member", "Add member"),
        Binding("c", "change_role", "Change role"),
        Binding("x", "remove_member", "Remove member"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.projects: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self._loaded = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Projects", classes="admin-heading")
            yield DataTable(id="projects-table", cursor_type="row", zebra_stripes=True)
        with Vertical():
            yield Label("Members", classes="admin-heading", id="members-heading")
            yield DataTable(id="members-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#projects-table", DataTable).add_columns("Name", "Description", "Created")
        self.query_one("#members-table", DataTable).add_columns("Username", "Role", "Since")

    def on_show(self) -> None:
        if not self._loaded:
            self._loaded = True
            self.reload()

    def reload(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.reload()

    @property
    def project(self) -> dict[str, Any] | None:
        """The highlighted project."""
        key = _highlighted(self.query_one("#projects-table", DataTable))
        return self.projects.get(key) if key else None

    @property
    def member(self) -> dict[str, Any] | None:
        """The highlighted member of the highlighted project."""
        key = _highlighted(self.query_one("#members-table", DataTable))
        return self.members.get(key) if key else None

    @work(exclusive=True, group="admin-projects", exit_on_error=False)
    async def load(self) -> None:
        home = home_of(self)
        with home.reporting():
            data = await home.gateway.execute("AdminProjects")
            table = self.query_one("#projects-table", DataTable)
            keep = _highlighted(table)
            projects = [edge["node"] for edge in data["projects"]["edges"]]
            self.projects = {str(p["id"]): p for p in projects}
            table.clear()
            for project in projects:
                table.add_row(
                    safe_text(project["name"]),
                    safe_text(project["description"]),
                    safe_text(stamp(project["createdAt"])),
                    key=str(project["id"]),
                )
            if keep in self.projects:
                table.move_cursor(row=table.get_row_index(keep))
            # An emptied table highlights nothing, so no RowHighlighted comes.
            self.load_members()

    @on(DataTable.RowHighlighted, "#projects-table")
    def project_highlighted(self) -> None:
        self.load_members()

    @work(exclusive=True, group="admin-members", exit_on_error=False)
    async def load_members(self) -> None:
        project = self.project
        heading = self.query_one("#members-heading", Label)
        table = self.query_one("#members-table", DataTable)
        if project is None:
            heading.update("Members")
            self.members = {}
            table.clear()
            return
        heading.update(safe_text(f"Members of {project['name']}"))
        home = home_of(self)
        with home.reporting():
            data = await home.gateway.execute("AdminProjectMembers", project=project["name"])
            found = data["project"] or {"members": {"edges": []}}
            self.show_members([edge["node"] for edge in found["members"]["edges"]])

    def show_members(self, members: list[dict[str, Any]]) -> None:
        table = self.query_one("#members-table", DataTable)
        keep = _highlighted(table)
        # Keyed by username: mutations name members by it, and it is unique in a project.
        self.members = {str(m["user"]["username"]): m for m in members}
        table.clear()
        for member in members:
            table.add_row(
                safe_text(member["user"]["username"]),
                safe_text(member["role"]["name"]),
                safe_text(stamp(member["createdAt"])),
                key=str(member["user"]["username"]),
            )
        if keep in self.members:
            table.move_cursor(row=table.get_row_index(keep))

    # -- actions ------------------------------------------------------------

    def _member_form(self, title: str, username: str, role: str, action: str) -> None:
        project = self.project
        if project is None:
            self.notify("Highlight a project first.", severity="warning")
            return
        gateway = home_of(self).gateway
        operation = "AdminAddProjectMember" if not username else "AdminSetProjectMemberRole"
        fields = [FormField("role", "Role (maintainer, developer, viewer or a custom role)", role)]
        if not username:
            fields.insert(0, FormField("username", "Username"))

        async def submit(values: dict[str, Any]) -> Any:
            return await gateway.mutate(
                operation,
                input={"projectId": project["id"], "username": username, **values},
            )

        self.app.push_screen(FormDialog(title, fields, submit, action), self._member_changed)

    def action_add_member(self) -> None:
        project = self.project
        name = project["name"] if project else ""
        self._member_form(f"Add a member to {name}", "", "developer", "Add")

    def action_change_role(self) -> None:
        member = self.member
        if member is None:
            self.notify("Highlight a member first.", severity="warning")
            return
        username = str(member["user"]["username"])
        self._member_form(f"New role of {username}", username, member["role"]["name"], "Change")

    def _member_changed(self, result: Any) -> None:
        if result:
            member = result["member"]
            self.notify(
                clean(f"{member['user']['username']} is now {member['role']['name']}."),
                markup=False,
            )
            self.load_members()

    def action_remove_member(self) -> None:
        self.remove_member()

    @work(exclusive=True, group="admin-members-action", exit_on_error=False)
    async def remove_member(self) -> None:
        project, member = self.project, self.member
        if project is None or member is None:
            self.notify("Highlight a member first.", severity="warning")
            return
        username = str(member["user"]["username"])
        question = f"Remove {username} from {project['name']}?"
        if not await self.app.push_screen_wait(ConfirmDialog(question, "Remove")):
            return
        home = home_of(self)
        with home.reporting():
            await home.gateway.mutate(
                "AdminRemoveProjectMember",
                input={"projectId": project["id"], "username": username},
            )
            self.notify(clean(f"Removed {username} from {project['name']}."), markup=False)
            self.load_members()
