"""The server work the admin screen's tabs ask for: they post messages, the screen
runs the queries, mutations and subscriptions and hands the answers back.

`AdminRequests` is the part of the admin screen that answers its tabs; the
admin screen itself lays out the tabs and moves between them.
"""

from __future__ import annotations

from textual import on, work
from textual.screen import Screen
from textual.worker import Worker

from home_idp.tui.context import Home, home_of
from home_idp.tui.dialogs import FormDialog, FormField, FormValues
from home_idp.tui.errors import ActionFailed
from home_idp.tui.results import (
    ADMIN_ADD_PROJECT_MEMBER,
    ADMIN_AUDIT_EVENTS,
    ADMIN_AUDIT_FEED,
    ADMIN_COMPONENTS,
    ADMIN_CREATE_ROLE,
    ADMIN_DELETE_ROLE,
    ADMIN_INSTALL_ALL,
    ADMIN_INSTALL_COMPONENT,
    ADMIN_INSTALL_PROGRESS,
    ADMIN_PROJECT_MEMBERS,
    ADMIN_PROJECTS,
    ADMIN_REDELIVER_WEBHOOK,
    ADMIN_REMOVE_PROJECT_MEMBER,
    ADMIN_RESET_USER_PASSWORD,
    ADMIN_ROLES,
    ADMIN_SET_PROJECT_MEMBER_ROLE,
    ADMIN_UNINSTALL_COMPONENT,
    ADMIN_USERS,
    ADMIN_WEBHOOK_DELIVERIES,
    AdminUser,
    MemberResult,
    RoleResult,
    UserResult,
)
from home_idp.tui.widgets.admin_audit import AdminAudit
from home_idp.tui.widgets.admin_components import AdminComponents
from home_idp.tui.widgets.admin_projects import AdminProjects
from home_idp.tui.widgets.admin_roles import AdminRoles, parse_policies, policy_errors_on_one_field
from home_idp.tui.widgets.admin_tab import AdminTab
from home_idp.tui.widgets.admin_users import AdminUsers
from home_idp.tui.widgets.admin_webhooks import AdminWebhooks
from home_idp.tui.widgets.formatting import clean

__all__ = ["AdminRequests"]


class AdminRequests(Screen[None]):
    """Answers the messages of the admin screen's tabs (the admin screen's base)."""

    def __init__(self) -> None:
        super().__init__()
        # The live feeds: a dropped connection resumes inside the gateway; a
        # finished feed (logged out, refused) starts again on the tab's reload.
        self._audit_feed: Worker[None] | None = None
        self._install_feed: Worker[None] | None = None

    @property
    def home(self) -> Home:
        return home_of(self)

    # -- users ----------------------------------------------------------------

    @on(AdminTab.Stale, "#admin-users")
    @work(exclusive=True, group="admin-users", exit_on_error=False)
    async def load_users(self) -> None:
        tab = self.query_one(AdminUsers)
        with self.home.reporting():
            data = await self.home.gateway.execute(ADMIN_USERS, status=tab.status_filter)
            tab.show([edge["node"] for edge in data["users"]["edges"]])

    @on(AdminUsers.ChangeWanted)
    @work(exclusive=True, group="admin-users-action", exit_on_error=False)
    async def change_user(self, event: AdminUsers.ChangeWanted) -> None:
        user = event.user
        with self.home.reporting():
            result = await self.home.gateway.mutate(
                event.change, input={"userId": user["id"], **event.extra}
            )
            self.query_one(AdminUsers).replace(result["user"])
            self.notify(clean(f"{user['username']}: {event.done}."), markup=False)

    @on(AdminUsers.PasswordResetWanted)
    def reset_password(self, event: AdminUsers.PasswordResetWanted) -> None:
        user: AdminUser = event.user
        gateway = self.home.gateway

        async def reset(values: FormValues) -> UserResult:
            return await gateway.mutate(
                ADMIN_RESET_USER_PASSWORD,
                input={"userId": user["id"], "newPassword": values["newPassword"]},
            )

        dialog = FormDialog(
            f"New password for {user['username']} (their sessions end)",
            [FormField("newPassword", "New password", password=True)],
            reset,
            "Reset password",
        )
        self.app.push_screen(dialog, self._password_reset)

    def _password_reset(self, result: UserResult | None) -> None:
        if result:
            self.query_one(AdminUsers).replace(result["user"])
            self.notify(clean(f"Password of {result['user']['username']} reset."), markup=False)

    # -- projects and their members -------------------------------------------

    @on(AdminTab.Stale, "#admin-projects")
    @work(exclusive=True, group="admin-projects", exit_on_error=False)
    async def load_projects(self) -> None:
        with self.home.reporting():
            data = await self.home.gateway.execute(ADMIN_PROJECTS)
            self.query_one(AdminProjects).show([edge["node"] for edge in data["projects"]["edges"]])

    @on(AdminProjects.MembersStale)
    @work(exclusive=True, group="admin-members", exit_on_error=False)
    async def load_members(self, event: AdminProjects.MembersStale) -> None:
        with self.home.reporting():
            data = await self.home.gateway.execute(
                ADMIN_PROJECT_MEMBERS, project=event.project["name"]
            )
            found = data["project"]
            self.query_one(AdminProjects).show_members(
                [edge["node"] for edge in found["members"]["edges"]] if found else []
            )

    @on(AdminProjects.MemberFormWanted)
    def member_form(self, event: AdminProjects.MemberFormWanted) -> None:
        project, username = event.project, event.username
        gateway = self.home.gateway
        mutation = ADMIN_SET_PROJECT_MEMBER_ROLE if username else ADMIN_ADD_PROJECT_MEMBER
        fields = [
            FormField("role", "Role (maintainer, developer, viewer or a custom role)", event.role)
        ]
        if not username:
            fields.insert(0, FormField("username", "Username"))

        async def submit(values: FormValues) -> MemberResult:
            return await gateway.mutate(
                mutation,
                input={"projectId": project["id"], "username": username, **values},
            )

        if username:
            title, action = f"New role of {username}", "Change"
        else:
            title, action = f"Add a member to {project['name']}", "Add"
        self.app.push_screen(FormDialog(title, fields, submit, action), self._member_changed)

    def _member_changed(self, result: MemberResult | None) -> None:
        if result:
            member = result["member"]
            self.notify(
                clean(f"{member['user']['username']} is now {member['role']['name']}."),
                markup=False,
            )
            self.query_one(AdminProjects).load_members()

    @on(AdminProjects.RemovalWanted)
    @work(exclusive=True, group="admin-members-action", exit_on_error=False)
    async def remove_member(self, event: AdminProjects.RemovalWanted) -> None:
        project, username = event.project, event.username
        with self.home.reporting():
            await self.home.gateway.mutate(
                ADMIN_REMOVE_PROJECT_MEMBER,
                input={"projectId": project["id"], "username": username},
            )
            self.notify(clean(f"Removed {username} from {project['name']}."), markup=False)
            self.query_one(AdminProjects).load_members()

    # -- roles ----------------------------------------------------------------

    @on(AdminTab.Stale, "#admin-roles")
    @work(exclusive=True, group="admin-roles", exit_on_error=False)
    async def load_roles(self) -> None:
        with self.home.reporting():
            data = await self.home.gateway.execute(ADMIN_ROLES)
            self.query_one(AdminRoles).show([edge["node"] for edge in data["roles"]["edges"]])

    @on(AdminRoles.CreateWanted)
    def new_role(self) -> None:
        gateway = self.home.gateway

        async def create(values: FormValues) -> RoleResult:
            policies = parse_policies(str(values.pop("policies")))
            try:
                return await gateway.mutate(
                    ADMIN_CREATE_ROLE, input={**values, "policies": policies}
                )
            except ActionFailed as error:
                raise policy_errors_on_one_field(error) from None

        dialog = FormDialog(
            "New role",
            [
                FormField("name", "Name", placeholder="deployer"),
                FormField("description", "Description"),
                FormField(
                    "policies",
                    "Policies: effect resource action [projects], comma-separated",
                    placeholder="allow app deploy shop-*, allow project read",
                ),
            ],
            create,
            "Create",
        )
        self.app.push_screen(dialog, self._role_created)

    def _role_created(self, result: RoleResult | None) -> None:
        if result:
            self.notify(clean(f"Created role {result['role']['name']}."), markup=False)
            self.query_one(AdminRoles).reload()

    @on(AdminRoles.DeleteWanted)
    @work(exclusive=True, group="admin-roles-action", exit_on_error=False)
    async def delete_role(self, event: AdminRoles.DeleteWanted) -> None:
        with self.home.reporting():
            result = await self.home.gateway.mutate(
                ADMIN_DELETE_ROLE, input={"id": event.role["id"]}
            )
            self.notify(clean(f"Deleted role {result['deletedName']}."), markup=False)
            self.query_one(AdminRoles).reload()

    # -- audit log ------------------------------------------------------------

    @on(AdminTab.Stale, "#admin-audit")
    @work(exclusive=True, group="admin-audit", exit_on_error=False)
    async def load_audit(self) -> None:
        tab = self.query_one(AdminAudit)
        with self.home.reporting():
            data = await self.home.gateway.execute(ADMIN_AUDIT_EVENTS)
            tab.show([edge["node"] for edge in data["auditEvents"]["edges"]])
            feed = self._audit_feed
            if feed is None or feed.is_finished:
                self._audit_feed = self.follow_audit(tab.newest_cursor)

    @work(exclusive=True, group="admin-audit-live", exit_on_error=False)
    async def follow_audit(self, after: str | None) -> None:
        tab = self.query_one(AdminAudit)
        with self.home.reporting():
            async for event in self.home.gateway.subscribe(ADMIN_AUDIT_FEED, after=after):
                tab.add(event)

    # -- webhooks -------------------------------------------------------------

    @on(AdminTab.Stale, "#admin-webhooks")
    @work(exclusive=True, group="admin-webhooks", exit_on_error=False)
    async def load_webhooks(self) -> None:
        with self.home.reporting():
            data = await self.home.gateway.execute(ADMIN_WEBHOOK_DELIVERIES)
            self.query_one(AdminWebhooks).show(
                [edge["node"] for edge in data["webhookDeliveries"]["edges"]]
            )

    @on(AdminWebhooks.RedeliveryWanted)
    @work(exclusive=True, group="admin-webhooks-action", exit_on_error=False)
    async def redeliver(self, event: AdminWebhooks.RedeliveryWanted) -> None:
        with self.home.reporting():
            result = await self.home.gateway.mutate(
                ADMIN_REDELIVER_WEBHOOK, input={"id": event.delivery["id"]}
            )
            self.notify(clean(f"Redelivered: {result['delivery']['outcome']}."), markup=False)
            self.query_one(AdminWebhooks).reload()

    # -- components -------------------------------------------------------------

    @on(AdminTab.Stale, "#admin-components")
    def components_stale(self) -> None:
        self.load_components()
        feed = self._install_feed
        if feed is None or feed.is_finished:
            self._install_feed = self.follow_installs()

    @work(exclusive=True, group="admin-components", exit_on_error=False)
    async def load_components(self) -> None:
        with self.home.reporting():
            data = await self.home.gateway.execute(ADMIN_COMPONENTS)
            self.query_one(AdminComponents).show(data["components"])

    @work(exclusive=True, group="admin-components-live", exit_on_error=False)
    async def follow_installs(self) -> None:
        tab = self.query_one(AdminComponents)
        with self.home.reporting():
            async for event in self.home.gateway.subscribe(ADMIN_INSTALL_PROGRESS):
                tab.progress(event)

    @on(AdminComponents.InstallWanted)
    @work(exclusive=True, group="admin-components-action", exit_on_error=False)
    async def install(self, event: AdminComponents.InstallWanted) -> None:
        gateway = self.home.gateway
        with self.home.reporting():
            if event.name is None:
                result = await gateway.mutate(ADMIN_INSTALL_ALL, input={"components": None})
                what, started = "InstallAll", result["components"]
            else:
                mutation = ADMIN_UNINSTALL_COMPONENT if event.uninstall else ADMIN_INSTALL_COMPONENT
                one = await gateway.mutate(mutation, input={"name": event.name})
                what = "UninstallComponent" if event.uninstall else "InstallComponent"
                started = [one["component"]]
            self.query_one(AdminComponents).started(what, started)
