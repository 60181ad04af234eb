"""The Roles tab of the admin screen: built-in and custom roles with their policies.

Custom roles are created from a one-line policy list ("allow app deploy shop-*,
deny project delete") and deleted when nobody holds them; built-in roles are
read-only (the server refuses to change them).
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

from home_idp.tui.errors import ActionFailed, FieldError
from home_idp.tui.results import Policy, Role
from home_idp.tui.widgets.admin_tab import RELOAD, AdminTab, row_table
from home_idp.tui.widgets.formatting import safe_text

__all__ = ["AdminRoles", "parse_policies", "policy_errors_on_one_field"]


def parse_policies(text: str) -> list[Policy]:
    """Policies from 'effect resource action [project-pattern]', comma-separated.

    Raises ActionFailed with a field error, so the form shows it beside the input
    just as it shows the server's own validation errors.
    """
    policies: list[Policy] = []
    for number, part in enumerate((p.strip() for p in text.split(",")), start=1):
        if not part:
            continue
        words = part.split()
        if len(words) not in (3, 4):
            raise ActionFailed(
                "ValidationError",
                "the policies are not valid",
                [
                    FieldError(
                        "policies", f"policy {number}: say 'effect resource action [pattern]'"
                    )
                ],
            )
        effect, resource, action = words[:3]
        pattern = words[3] if len(words) == 4 else "*"
        policies.append(
            {"effect": effect, "resource": resource, "action": action, "projectPattern": pattern}
        )
    return policies


def policy_errors_on_one_field(error: ActionFailed) -> ActionFailed:
    """The server names each bad policy ("policies[1].resource"); the form has one input.

    The errors are gathered under "policies", numbered as the user typed them,
    so the form shows them beside that input.
    """
    mine = [e for e in error.field_errors if e.field.startswith("policies[")]
    if not mine:
        return error
    messages = []
    for field_error in mine:
        index, _, part = field_error.field.removeprefix("policies[").partition("].")
        number = int(index) + 1 if index.isdigit() else index
        messages.append(f"policy {number} {part}: {field_error.message}")
    others = [e for e in error.field_errors if e not in mine]
    return ActionFailed(
        error.typename, error.message, [*others, FieldError("policies", "; ".join(messages))]
    )


class AdminRoles(AdminTab[Role], Horizontal):
    """Roles on the left, the highlighted role's policies on the right."""

    class CreateWanted(Message):
        """The user asked for a new role."""

    @dataclass
    class DeleteWanted(Message):
        """The user confirmed deleting a custom role."""

        role: Role

    TABLE_ID = "roles-table"
    HEADING = "Roles"
    COLUMNS = ("Name", "Kind", "Policies", "Description")

    DEFAULT_CSS = """
    AdminRoles > Vertical { width: 1fr; height: 1fr; }
    """

    BINDINGS = [
        Binding("n", "new_role", "New role"),
        Binding("x", "delete_role", "Delete role"),
        RELOAD,
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield from super().compose()
        with Vertical():
            yield Label(
                "Policies (deny wins over allow)", classes="admin-heading", id="policies-heading"
            )
            yield row_table("policies-table")

    def on_mount(self) -> None:
        # AdminTab's own on_mount, which Textual runs as well, sets up the roles table.
        self.query_one("#policies-table", DataTable).add_columns(
            "Effect", "Resource", "Action", "Projects"
        )

    def row_cells(self, role: Role) -> tuple[Text | str, ...]:
        return (
            safe_text(role["name"]),
            "built-in" if role["builtin"] else "custom",
            str(len(role["policies"])),
            safe_text(role["description"]),
        )

    def show(self, roles: list[Role]) -> None:
        super().show(roles)
        self.show_policies()

    @on(DataTable.RowHighlighted, "#roles-table")
    def show_policies(self) -> None:
        role = self.selected()
        table = self.query_one("#policies-table", DataTable)
        table.clear()
        heading = self.query_one("#policies-heading", Label)
        if role is None:
            heading.update("Policies")
            return
        heading.update(safe_text(f"Policies of {role['name']} (deny wins over allow)"))
        for policy in role["policies"]:
            effect = policy["effect"]
            table.add_row(
                safe_text(effect, "green" if effect == "allow" else "red"),
                safe_text(policy["resource"]),
                safe_text(policy["action"]),
                safe_text(policy["projectPattern"]),
            )

    # -- actions ------------------------------------------------------------

    def action_new_role(self) -> None:
        self.post_message(self.CreateWanted())

    def action_delete_role(self) -> None:
        self.delete_role()

    @work(exclusive=True, group="admin-roles-action", exit_on_error=False)
    async def delete_role(self) -> None:
        role = self.selected()
        if role is None:
            return
        if role["builtin"]:
            self.notify("Built-in roles cannot be deleted.", severity="warning")
            return
        question = f"Delete the role {role['name']}? Nobody may hold it."
        if not await self.confirmed(question, "Delete"):
            return
        self.post_message(self.DeleteWanted(role))
