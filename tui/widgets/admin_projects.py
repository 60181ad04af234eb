"""The Projects tab of the admin screen: every project and the members of the chosen one.

Admins see all projects; highlighting one loads its members beside it, where
members are added, given another role, or removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Label

from home_idp.tui.results import AdminProject, Member
from home_idp.tui.widgets.admin_tab import RELOAD, AdminTab, row_table
from home_idp.tui.widgets.formatting import safe_text, stamp
from home_idp.tui.widgets.keyed_rows import highlighted_key, refill

__all__ = ["AdminProjects"]


def _member_key(member: Member) -> str:
    return member["user"]["username"]


def _member_cells(member: Member) -> tuple[Text, ...]:
    return (
        safe_text(member["user"]["username"]),
        safe_text(member["role"]["name"]),
        safe_text(stamp(member["createdAt"])),
    )


class AdminProjects(AdminTab[AdminProject], Horizontal):
    """Projects on the left, the highlighted project's members on the right."""

    @dataclass
    class MembersStale(Message):
        """The highlighted project's members are to be fetched (again)."""

        project: AdminProject

    @dataclass
    class MemberFormWanted(Message):
        """The user asked to add a member (`username` "") or to change a member's role."""

        project: AdminProject
        username: str
        role: str

    @dataclass
    class RemovalWanted(Message):
        """The user confirmed removing a member from a project."""

        project: AdminProject
        username: str

    TABLE_ID = "projects-table"
    HEADING = "Projects"
    COLUMNS = ("Name", "Description", "Created")

    DEFAULT_CSS = """
    AdminProjects > Vertical { width: 1fr; height: 1fr; }
    """

    BINDINGS = [
        Binding("a", "add_member", "Add member"),
        Binding("c", "change_role", "Change role"),
        Binding("x", "remove_member", "Remove member"),
        RELOAD,
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.members: dict[str, Member] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield from super().compose()
        with Vertical():
            yield Label("Members", classes="admin-heading", id="members-heading")
            yield row_table("members-table")

    def on_mount(self) -> None:
        # AdminTab's own on_mount, which Textual runs as well, sets up the projects table.
        self.query_one("#members-table", DataTable).add_columns("Username", "Role", "Since")

    @property
    def member(self) -> Member | None:
        """The highlighted member of the highlighted project."""
        key = highlighted_key(self.query_one("#members-table", DataTable))
        return self.members.get(key) if key else None

    def row_cells(self, project: AdminProject) -> tuple[Text, ...]:
        return (
            safe_text(project["name"]),
            safe_text(project["description"]),
            safe_text(stamp(project["createdAt"])),
        )

    def show(self, projects: list[AdminProject]) -> None:
        super().show(projects)
        # An emptied table highlights nothing, so no RowHighlighted comes.
        self.load_members()

    @on(DataTable.RowHighlighted, "#projects-table")
    def project_highlighted(self) -> None:
        self.load_members()

    def load_members(self) -> None:
        """Show the highlighted project's members (asking the screen for them)."""
        project = self.selected()
        heading = self.query_one("#members-heading", Label)
        table = self.query_one("#members-table", DataTable)
        if project is None:
            heading.update("Members")
            self.members = {}
            table.clear()
            return
        heading.update(safe_text(f"Members of {project['name']}"))
        self.post_message(self.MembersStale(project))

    def show_members(self, members: list[Member]) -> None:
        table = self.query_one("#members-table", DataTable)
        keep = highlighted_key(table)
        # Keyed by username: mutations name members by it, and it is unique in a project.
        self.members = {_member_key(m): m for m in members}
        refill(table, members, _member_key, _member_cells, keep=keep)

    # -- actions ------------------------------------------------------------

    def _member_form(self, username: str, role: str) -> None:
        project = self.selected()
        if project is None:
            self.notify("Highlight a project first.", severity="warning")
            return
        self.post_message(self.MemberFormWanted(project, username, role))

    def action_add_member(self) -> None:
        self._member_form("", "developer")

    def action_change_role(self) -> None:
        member = self.member
        if member is None:
            self.notify("Highlight a member first.", severity="warning")
            return
        self._member_form(member["user"]["username"], member["role"]["name"])

    def action_remove_member(self) -> None:
        self.remove_member()

    @work(exclusive=True, group="admin-members-action", exit_on_error=False)
    async def remove_member(self) -> None:
        project, member = self.selected(), self.member
        if project is None or member is None:
            self.notify("Highlight a member first.", severity="warning")
            return
        username = member["user"]["username"]
        question = f"Remove {username} from {project['name']}?"
        if not await self.confirmed(question, "Remove"):
            return
        self.post_message(self.RemovalWanted(project, username))
