"""The Users tab of the admin screen: approve, disable, enable, reset, grant admin.

Every action works on the highlighted row: the tab asks its screen for it, and
the screen replaces that row with the user the server sends back (`replace`),
so the table shows the server's truth without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, Select

from home_idp.tui.results import (
    ADMIN_APPROVE_USER,
    ADMIN_DISABLE_USER,
    ADMIN_ENABLE_USER,
    ADMIN_SET_USER_ADMIN,
    AdminUser,
    Mutation,
    UserResult,
)
from home_idp.tui.widgets.admin_tab import RELOAD, AdminTab, row_table
from home_idp.tui.widgets.formatting import safe_text, stamp

__all__ = ["AdminUsers"]

_ALL = "ALL"
_FILTERS: list[tuple[str, str]] = [
    ("All users", _ALL),
    ("Pending approval", "PENDING"),
    ("Active", "ACTIVE"),
    ("Disabled", "DISABLED"),
]
_STATUS_STYLE = {"PENDING": "yellow", "ACTIVE": "green", "DISABLED": "red"}
# The status a user must be in for an action to make sense; the footer dims the rest.
_NEEDS_STATUS = {"approve": "PENDING", "disable": "ACTIVE", "enable": "DISABLED"}


class AdminUsers(AdminTab[AdminUser], Vertical):
    """All users in a table with a status filter and the account actions."""

    @dataclass
    class ChangeWanted(Message):
        """The user asked for `change` of an account; `done` says what it did, for a note."""

        user: AdminUser
        change: Mutation[UserResult]
        done: str
        extra: dict[str, object]

    @dataclass
    class PasswordResetWanted(Message):
        """The user asked to set a new password for an account."""

        user: AdminUser

    TABLE_ID = "users-table"
    COLUMNS = ("Username", "Status", "Admin", "Created")

    DEFAULT_CSS = """
    AdminUsers .admin-toolbar { height: auto; }
    AdminUsers .admin-toolbar Label { padding: 1 1 0 0; }
    AdminUsers #users-filter { width: 30; }
    """

    BINDINGS = [
        Binding("a", "approve", "Approve"),
        Binding("d", "disable", "Disable"),
        Binding("e", "enable", "Enable"),
        Binding("p", "reset_password", "Reset password"),
        Binding("g", "toggle_admin", "Grant/revoke admin"),
        RELOAD,
    ]

    def compose(self) -> ComposeResult:
        # The status filter stands where other tabs have their heading.
        with Horizontal(classes="admin-toolbar"):
            yield Label("Show")
            yield Select(
                _FILTERS, value=_ALL, allow_blank=False, type_to_search=False, id="users-filter"
            )
        yield row_table(self.TABLE_ID)

    @on(Select.Changed, "#users-filter")
    def filter_changed(self) -> None:
        if self._loaded:
            self.reload()

    @on(DataTable.RowHighlighted)
    def row_highlighted(self) -> None:
        # The footer dims the actions that do not fit the highlighted user.
        self.refresh_bindings()

    @property
    def status_filter(self) -> str | None:
        value = self.query_one("#users-filter", Select).value
        return None if value == _ALL or not isinstance(value, str) else value

    def row_cells(self, user: AdminUser) -> tuple[Text, Text, str, Text]:
        status = user["status"]
        return (
            safe_text(user["username"]),
            safe_text(status.lower(), _STATUS_STYLE.get(status, "")),
            "✓ admin" if user["isAdmin"] else "",
            safe_text(stamp(user["createdAt"])),
        )

    def show(self, users: list[AdminUser]) -> None:
        """Fill the table, keeping the highlight on the same user."""
        super().show(users)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        user = self.selected()
        if action == "toggle_admin" and user is not None and not user["isAdmin"]:
            # Only active users may become admins; revoking is always allowed.
            return True if user["status"] == "ACTIVE" else None
        needed = _NEEDS_STATUS.get(action)
        if needed is None:
            return True
        # None dims the binding in the footer rather than hiding it.
        return True if user is not None and user["status"] == needed else None

    def replace(self, changed: AdminUser) -> None:
        """Show a user the server sent back; drop it if the filter no longer fits."""
        wanted = self.status_filter
        users = [
            changed if user["id"] == changed["id"] else user
            for user in self.rows
            if user["id"] != changed["id"] or wanted in (None, changed["status"])
        ]
        self.show(users)

    # -- actions ------------------------------------------------------------

    def action_approve(self) -> None:
        self.change(ADMIN_APPROVE_USER, "approved")

    def action_disable(self) -> None:
        user = self.selected()
        if user is not None:
            question = f"Disable {user['username']}? Their sessions and tokens stop at once."
            self.change(ADMIN_DISABLE_USER, "disabled", question=question, confirm="Disable")

    def action_enable(self) -> None:
        self.change(ADMIN_ENABLE_USER, "enabled")

    def action_toggle_admin(self) -> None:
        user = self.selected()
        if user is None:
            return
        grant = not user["isAdmin"]
        name = user["username"]
        question = (
            f"Make {name} an administrator?" if grant else f"Take the admin role from {name}?"
        )
        self.change(
            ADMIN_SET_USER_ADMIN,
            "made an administrator" if grant else "no longer an administrator",
            question=question,
            confirm="Grant" if grant else "Revoke",
            admin=grant,
        )

    @work(exclusive=True, group="admin-users-action", exit_on_error=False)
    async def change(
        self,
        mutation: Mutation[UserResult],
        done: str,
        *,
        question: str | None = None,
        confirm: str = "Yes",
        **extra: object,
    ) -> None:
        """Ask for a user mutation on the highlighted user, after a question if given."""
        user = self.selected()
        if user is None:
            self.notify("Highlight a user first.", severity="warning")
            return
        if question is not None and not await self.confirmed(question, confirm):
            return
        self.post_message(self.ChangeWanted(user, mutation, done, extra))

    def action_reset_password(self) -> None:
        user = self.selected()
        if user is None:
            self.notify("Highlight a user first.", severity="warning")
            return
        self.post_message(self.PasswordResetWanted(user))
