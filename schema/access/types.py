"""The object types of identity and access: users, projects, members, roles, tokens,
sessions and audit events."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Self, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from home_idp.schema.core.context import Info
from home_idp.schema.core.from_row import from_row
from home_idp.schema.core.loaders import Loaders, resolve_loaded
from home_idp.schema.core.relay import (
    Connection,
    VisibleNode,
    connection,
    connection_from_list,
    encode_cursor,
    list_window,
)
from home_idp.schema.core.selection import selected_node_fields
from home_idp.server.apps import models as app_models
from home_idp.server.apps.project_variables import apps_by_shared_name
from home_idp.server.errors import PermissionDenied
from home_idp.server.rbac import models
from home_idp.server.rbac.models import UserStatus

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Member",
    "Policy",
    "Project",
    "ProjectVariable",
    "Role",
    "Session",
    "User",
    "UserStatus",
]


# The model's own enum, so the two lists of states cannot drift apart.
strawberry.enum(
    UserStatus, description="Where a user stands: pending approval, active, or disabled."
)


@strawberry.type(description="A person who uses home-idp.")
class User(VisibleNode):
    id: relay.NodeID[int]
    username: str
    status: UserStatus
    is_admin: bool = strawberry.field(description="Holds the global admin role.")
    created_at: datetime

    @classmethod
    def from_model(cls, user: models.User) -> Self:
        return from_row(cls, user)

    @connection(description="Projects this user belongs to (admins, or the user).")
    async def memberships(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Member]:
        principal = info.context.principal
        if not (principal.is_admin or principal.user_id == self.id):
            raise PermissionDenied("only administrators may see another user's projects")
        memberships = await info.context.loaders.memberships_of_user.load(self.id)
        return await Member.connection(info, memberships, first, after)

    row_model = models.User

    @classmethod
    async def visible_to(cls, info: Info, user: models.User) -> bool:
        principal = info.context.principal
        return principal.is_admin or principal.user_id == user.id


@strawberry.type(description="A team's space: a namespace and a registry project.")
class Project(VisibleNode):
    id: relay.NodeID[int]
    name: str
    description: str
    created_at: datetime

    @connection(description="Who belongs to the project, with their role.")
    async def members(
        self, info: Info, first: int = 100, after: str | None = None
    ) -> Connection[Member]:
        await info.context.rbac.authz.require("member", "read", self.name)
        memberships = await info.context.loaders.members_of_project.load(self.id)
        return await Member.connection(info, memberships, first, after)

    @strawberry.field(
        description="Variables and secrets the project's apps may use (secrets without values)."
    )
    async def variables(self, info: Info) -> list[ProjectVariable]:
        project = await info.context.rbac.projects.get(self.id)
        variables = await info.context.apps.project_variables.of_project(project)
        users = await apps_by_shared_name(project.id)
        return [ProjectVariable.from_model(v, users.get(v.name, [])) for v in variables]

    @strawberry.field(description="The caller's role in this project, if a member.")
    async def my_role(self, info: Info) -> str | None:
        principal = info.context.principal
        for membership in await info.context.loaders.members_of_project.load(self.id):
            if membership.user_id == principal.user_id:
                role = await info.context.loaders.role.load(membership.role_id)
                return role.name if role else None
        return None

    row_model = models.Project

    @classmethod
    async def visible_to(cls, info: Info, project: models.Project) -> bool:
        return await info.context.rbac.authz.can("project", "read", project.name)


@strawberry.type(
    description="A variable or secret of a project that its apps may use; a secret's "
    "value is never returned."
)
class ProjectVariable:
    name: str
    is_secret: bool
    value: str | None = strawberry.field(description="Null for a secret.")
    used_by: list[str] = strawberry.field(description="The names of the apps that use it.")
    updated_by: str
    updated_at: datetime

    @classmethod
    def from_model(cls, variable: app_models.ProjectVariable, used_by: list[str]) -> Self:
        return from_row(
            cls, variable, value=None if variable.is_secret else variable.value, used_by=used_by
        )


@strawberry.type(description="One rule of a role. Deny wins over allow.")
class Policy:
    effect: str = strawberry.field(description="allow or deny")
    resource: str = strawberry.field(description="project, member, app, … or *")
    action: str = strawberry.field(description="read, create, update, delete, deploy or *")
    project_pattern: str = strawberry.field(description="Projects it applies to (glob).")


@strawberry.type(description="A named set of policies, granted per project.")
class Role(VisibleNode):
    id: relay.NodeID[int]
    name: str
    description: str
    builtin: bool

    @strawberry.field
    async def policies(self, info: Info) -> list[Policy]:
        return [
            from_row(Policy, policy, effect=policy.effect.value)
            for policy in await info.context.loaders.policies_of_role.load(self.id)
        ]

    row_model = models.Role

    @classmethod
    async def visible_to(cls, info: Info, role: models.Role) -> bool:
        return info.context.principal.is_authenticated


@strawberry.type(description="A user's membership of a project, with a role.")
class Member(VisibleNode):
    id: relay.NodeID[int]
    user_id: strawberry.Private[int]
    project_id: strawberry.Private[int]
    role_id: strawberry.Private[int]
    created_at: datetime
    # Plain fields rather than resolvers: each holds its node when the loader
    # already has it, else a `Deferred` that loads it through the loader when the
    # query asks. A page of 250 members then resolves its users and roles without
    # 500 resolver calls. See `Member.connection`; `tests/bench/api.py` measures it.
    user: User | Awaitable[User] = strawberry.field(graphql_type=User)
    project: Project | Awaitable[Project] = strawberry.field(graphql_type=Project)
    role: Role | Awaitable[Role] = strawberry.field(graphql_type=Role)

    @classmethod
    def from_model(  # type: ignore[override]  # a member's node needs the loaders too
        cls, membership: models.Membership, loaders: Loaders
    ) -> Self:
        return from_row(
            cls,
            membership,
            user=resolve_loaded(loaders.user, membership.user_id, _user_node),
            project=resolve_loaded(loaders.project, membership.project_id, _project_node),
            role=resolve_loaded(loaders.role, membership.role_id, _role_node),
        )

    @classmethod
    async def connection(
        cls, info: Info, memberships: Sequence[models.Membership], first: int, after: str | None
    ) -> Connection[Member]:
        """A page of members, with the users, roles and projects the query selects on
        them loaded ahead: one batch per loader, the queries the fields would make."""
        await cls.load_related(info, list_window(memberships, first, after))
        loaders = info.context.loaders
        return connection_from_list(
            memberships, first, after, lambda membership: cls.from_model(membership, loaders)
        )

    @staticmethod
    async def load_related(info: Info, memberships: Sequence[models.Membership]) -> None:
        wanted = selected_node_fields(info)
        loaders = info.context.loaders
        # Every key joins its loader's batch before anything is awaited, so the
        # pages of all projects share one batch per loader.
        pending: list[Awaitable[object]] = []
        if "user" in wanted:
            pending.extend(loaders.user.load(m.user_id) for m in memberships)
        if "role" in wanted:
            pending.extend(loaders.role.load(m.role_id) for m in memberships)
        if "project" in wanted:
            pending.extend(loaders.project.load(m.project_id) for m in memberships)
        for loaded in pending:  # once the batches are in, these do not suspend
            await loaded

    row_model = models.Membership

    @classmethod
    async def visible_to(cls, info: Info, membership: models.Membership) -> bool:
        project = await info.context.loaders.project.load(membership.project_id)
        return project is not None and await info.context.rbac.authz.can(
            "member", "read", project.name
        )

    @classmethod
    def node_of(cls, info: Info, membership: models.Membership) -> Self:
        return cls.from_model(membership, info.context.loaders)


@strawberry.type(description="A long-lived bearer token. Its secret is never shown again.")
class ApiToken(VisibleNode):
    id: relay.NodeID[int]
    name: str
    prefix: str = strawberry.field(description="The first characters, to tell tokens apart.")
    scopes: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime

    @classmethod
    def from_model(cls, token: models.ApiToken) -> Self:
        return from_row(cls, token, scopes=list(token.scopes))

    row_model = models.ApiToken

    @classmethod
    async def visible_to(cls, info: Info, token: models.ApiToken) -> bool:
        return _is_callers(info, token.user_id)


@strawberry.type(
    description="A login on one client. Its refresh token changes at every renewal; "
    "an old one presented again ends the session."
)
class Session(VisibleNode):
    id: relay.NodeID[int]
    client_address: str = strawberry.field(description="Where the login came from.")
    user_agent: str
    created_at: datetime
    last_used_at: datetime = strawberry.field(description="When its token was last renewed.")
    expires_at: datetime = strawberry.field(description="When it ends unless renewed.")
    current: bool = strawberry.field(description="Whether this request belongs to it.")

    @classmethod
    def from_model(  # type: ignore[override]  # whether it is current depends on the request
        cls, session: models.UserSession, current_id: int | None
    ) -> Self:
        return from_row(cls, session, current=session.id == current_id)

    row_model = models.UserSession

    @classmethod
    async def visible_to(cls, info: Info, session: models.UserSession) -> bool:
        return _is_callers(info, session.user_id)

    @classmethod
    def node_of(cls, info: Info, session: models.UserSession) -> Self:
        return cls.from_model(session, info.context.principal.session_id)


@strawberry.type(description="One recorded action: who did what to which target, and when.")
class AuditEvent(VisibleNode):
    id: relay.NodeID[int]
    actor: str
    action: str
    target: str
    project: str | None
    outcome: str = strawberry.field(description="ok, denied or failed")
    detail: JSON
    created_at: datetime

    @strawberry.field(description="Pass as `after` to resume a subscription from here.")
    def cursor(self) -> str:
        return encode_cursor(self.id)

    @classmethod
    def from_model(cls, event: models.AuditEvent) -> Self:
        return from_row(cls, event, detail=cast(JSON, event.detail))

    row_model = models.AuditEvent

    @classmethod
    async def visible_to(cls, info: Info, event: models.AuditEvent) -> bool:
        return info.context.principal.is_admin


def _is_callers(info: Info, owner_id: int) -> bool:
    """Whether a row of `owner_id`'s (a token, a session) belongs to the caller."""
    principal = info.context.principal
    return principal.is_authenticated and owner_id == principal.user_id


def _user_node(user: models.User | None) -> User:
    assert user is not None  # memberships are deleted with their user
    return User.from_model(user)


def _project_node(project: models.Project | None) -> Project:
    assert project is not None  # and with their project
    return Project.from_model(project)


def _role_node(role: models.Role | None) -> Role:
    assert role is not None  # a role in use cannot be deleted
    return Role.from_model(role)
