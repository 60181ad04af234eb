"""The Users tab of the admin screen: approve, disable, enable, reset, grant admin.

Every action works on the highlighted row and replaces that row with the user
the server sends back, so the table shows the server's truth without a reload.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Label, Select

from home_idp.tui.app import home_of
from home_idp.tui.dialogs import ConfirmDialog, FormDialog, FormField
from home_idp.tui.widgets.formatting import clean, safe_text, stamp

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


class AdminUsers(Vertical):
    """All users in a table with a status filter and the account actions."""

    DEFAULT_CSS = """
    AdminUsers { height: 1fr; }
    AdminUsers .admin-toolbar { height: auto; }
    AdminUsers .admin-toolbar Label { padding: 1 1 0 0; }
    AdminUsers #users-filter { width: 30; }
    AdminUsers #users-table { height: 1fr; }
    """

    BINDINGS = [
        Binding("a", "approve", "Approve"),
        Binding("d", "disable", "Disable"),
        Binding("e", "enable", "Enable"),
        Binding("p", "reset_password", "Reset password"),
        Binding("g", "toggle_admin", "Grant/revoke admin"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.users: list[dict[str, Any]] = []
        self._loaded = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="admin-toolbar"):
            yield Label("Show")
            yield Select(
                _FILTERS, value=_ALL, allow_blank=False, type_to_search=False, id="users-filter"
            )
        yield DataTable(id="users-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Username", "Status", "Admin", "Created")

    def on_show(self) -> None:
        # Loaded when the tab is first shown, not when the admin screen opens.
        if not self._loaded:
            self._loaded = True
            self.reload()

    def reload(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.reload()

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

    @work(exclusive=True, group="admin-users", exit_on_error=False)
    async def load(self) -> None:
        home = home_of(self)
        with home.reporting():
            data = await home.gateway.execute("AdminUsers", status=self.status_filter)
            self.show([edge["node"] for edge in data["users"]["edges"]])

    def show(self, users: list[dict[str, Any]]) -> None:
        """Fill the table, keeping the highlight on the same user."""
        table = self.query_one(DataTable)
        keep = self.selected()
        self.users = users
        table.clear()
        for user in users:
            status = str(user["status"])
            table.add_row(
                safe_text(user["username"]),
                safe_text(status.lower(), _STATUS_STYLE.get(status, "")),
                "✓ admin" if user["isAdmin"] else "",
                safe_text(stamp(user["createdAt"])),
                key=str(user["id"]),
            )
        if keep is not None and any(u["id"] == keep["id"] for u in users):
            table.move_cursor(row=table.get_row_index(str(keep["id"])))
        self.refresh_bindings()

    def selected(self) -> dict[str, Any] | None:
        """The highlighted user, if the table has any."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return next((user for user in self.users if str(user["id"]) == key), None)

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

    def replace(self, changed: dict[str, Any]) -> None:
        """Show a user the server sent back; drop it if the filter no longer fits."""
        wanted = self.status_filter
        users = [
            changed if user["id"] == changed["id"] else user
            for user in self.users
            if user["id"] != changed["id"] or wanted in (None, changed["status"])
        ]
        self.show(users)

    # -- actions ------------------------------------------------------------

    def action_approve(self) -> None:
        self.change("AdminApproveUser", "approved")

    def action_disable(self) -> None:
        user = self.selected()
        if user is not None:
            question = f"Disable {user['username']}? Their sessions and tokens stop at once."
            self.change("AdminDisableUser", "disabled", question=question, confirm="Disable")

    def action_enable(self) -> None:
        self.change("AdminEnableUser", "enabled")

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
            "AdminSetUserAdmin",
            "made an administrator" if grant else "no longer an administrator",
            question=question,
            confirm="Grant" if grant else "Revoke",
            admin=grant,
        )

    @work(exclusive=True, group="admin-users-action", exit_on_error=False)
    async def change(
        self,
        operation: str,
        done: str,
        *,
        question: str | None = None,
        confirm: str = "Yes",
        **extra: Any,
    ) -> None:
        """Run a user mutation on the highlighted user, after a question if given."""
        user = self.selected()
        if user is None:
            self.notify("Highlight a user first.", severity="warning")
            return
        if question is not None and not await self.app.push_screen_wait(
            ConfirmDialog(question, confirm)
        ):
            return
        home = home_of(self)
        with home.reporting():
            result = await home.gateway.mutate(operation, input={"userId": user["id"], **extra})
            self.replace(result["user"])
            self.notify(clean(f"{user['username']}: {done}."), markup=False)

    def action_reset_password(self) -> None:
        user = self.selected()
        if user is None:
            self.notify("Highlight a user first.", severity="warning")
            return
        gateway = home_of(self).gateway

        async def reset(values: dict[str, Any]) -> Any:
            return await gateway.mutate(
                "AdminResetUserPassword",
                input={"userId": user["id"], "newPassword": values["newPassword"]},
            )

        dialog = FormDialog(
            f"New password for {user['username']} (their sessions end)",
            [FormField("newPassword", "New password", password=True)],
            reset,
            "Reset password",
        )
        self.app.push_screen(dialog, self._password_reset)

    def _password_reset(self, result: Any) -> None:
        if result:
            self.replace(result["user"])
            self.notify(clean(f"Password of {result['user']['username']} reset."), markup=False)
