"""GraphQL object types of the rbac-manager: users, projects, members, roles, tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Self

import strawberry
from strawberry import relay

from home_idp.schema.context import Info
from home_idp.schema.relay import (
    Connection,
    check_page_size,
    connection_from_list,
    resolve_visible_nodes,
)
from home_idp.server.errors import PermissionDenied
from home_idp.server.rbac import models

__all__ = ["ApiToken", "Member", "Policy", "Project", "Role", "User", "UserStatus"]


@strawberry.enum(description="Where a user stands: pending approval, active, or disabled.")
class UserStatus(Enum):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


@strawberry.type(description="A person who uses home-idp.")
class User(relay.Node):
    id: relay.NodeID[int]
    username: str
    status: UserStatus
    is_admin: bool = strawberry.field(description="Holds the global admin role.")
    created_at: datetime

    @classmethod
    def from_model(cls, user: models.User) -> Self:
        return cls(
            id=user.id,
            username=user.username,
            status=UserStatus(user.status.value),
            is_admin=user.is_admin,
            created_at=user.created_at,
        )

    @strawberry.field(description="Projects this user belongs to (admins, or the user).")
    async def memberships(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Member]:
        check_page_size(first, info.context.max_page_size)
        principal = info.context.principal
        if not (principal.is_admin or principal.user_id == self.id):
            raise PermissionDenied("only administrators may see another user's projects")
        memberships = await info.context.loaders.memberships_of_user.load(self.id)
        return connection_from_list(memberships, first, after, Member.from_model)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        principal = info.context.principal

        async def allowed(user: models.User) -> bool:
            return principal.is_admin or principal.user_id == user.id

        return await resolve_visible_nodes(models.User, node_ids, cls.from_model, allowed)


@strawberry.type(description="A team's space: a namespace and a registry project.")
class Project(relay.Node):
    id: relay.NodeID[int]
    name: str
    description: str
    created_at: datetime

    @classmethod
    def from_model(cls, project: models.Project) -> Self:
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            created_at=project.created_at,
        )

    @strawberry.field(description="Who belongs to the project, with their role.")
    async def members(
        self, info: Info, first: int = 100, after: str | None = None
    ) -> Connection[Member]:
        check_page_size(first, info.context.max_page_size)
        await info.context.rbac.authz.require("member", "read", self.name)
        memberships = await info.context.loaders.members_of_project.load(self.id)
        return connection_from_list(memberships, first, after, Member.from_model)

    @strawberry.field(description="The caller's role in this project, if a member.")
    async def my_role(self, info: Info) -> str | None:
        principal = info.context.principal
        for membership in await info.context.loaders.members_of_project.load(self.id):
            if membership.user_id == principal.user_id:
                role = await info.context.loaders.role.load(membership.role_id)
                return role.name if role else None
        return None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        authz = info.context.rbac.authz

        async def allowed(project: models.Project) -> bool:
            return await authz.can("project", "read", project.name)

        return await resolve_visible_nodes(models.Project, node_ids, cls.from_model, allowed)


@strawberry.type(description="A user's membership of a project, with a role.")
class Member(relay.Node):
    id: relay.NodeID[int]
    user_id: strawberry.Private[int]
    project_id: strawberry.Private[int]
    role_id: strawberry.Private[int]
    created_at: datetime

    @classmethod
    def from_model(cls, membership: models.Membership) -> Self:
        return cls(
            id=membership.id,
            user_id=membership.user_id,
            project_id=membership.project_id,
            role_id=membership.role_id,
            created_at=membership.created_at,
        )

    @strawberry.field
    async def user(self, info: Info) -> User:
        user = await info.context.loaders.user.load(self.user_id)
        assert user is not None  # memberships are deleted with their user
        return User.from_model(user)

    @strawberry.field
    async def project(self, info: Info) -> Project:
        project = await info.context.loaders.project.load(self.project_id)
        assert project is not None
        return Project.from_model(project)

    @strawberry.field
    async def role(self, info: Info) -> Role:
        role = await info.context.loaders.role.load(self.role_id)
        assert role is not None
        return Role.from_model(role)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        authz = info.context.rbac.authz

        async def allowed(membership: models.Membership) -> bool:
            project = await info.context.loaders.project.load(membership.project_id)
            return project is not None and await authz.can("member", "read", project.name)

        return await resolve_visible_nodes(
            models.Membership, list(node_ids), cls.from_model, allowed
        )


@strawberry.type(description="One rule of a role. Deny wins over allow.")
class Policy:
    effect: str = strawberry.field(description="allow or deny")
    resource: str = strawberry.field(description="project, member, app, … or *")
    action: str = strawberry.field(description="read, create, update, delete, deploy or *")
    project_pattern: str = strawberry.field(description="Projects it applies to (glob).")


@strawberry.type(description="A named set of policies, granted per project.")
class Role(relay.Node):
    id: relay.NodeID[int]
    name: str
    description: str
    builtin: bool

    @classmethod
    def from_model(cls, role: models.Role) -> Self:
        return cls(id=role.id, name=role.name, description=role.description, builtin=role.builtin)

    @strawberry.field
    async def policies(self, info: Info) -> list[Policy]:
        return [
            Policy(
                effect=p.effect.value,
                resource=p.resource,
                action=p.action,
                project_pattern=p.project_pattern,
            )
            for p in await info.context.loaders.policies_of_role.load(self.id)
        ]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        principal = info.context.principal

        async def allowed(_: models.Role) -> bool:
            return principal.is_authenticated

        return await resolve_visible_nodes(models.Role, node_ids, cls.from_model, allowed)


@strawberry.type(description="A long-lived bearer token. Its secret is never shown again.")
class ApiToken(relay.Node):
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
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            scopes=list(token.scopes),
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            created_at=token.created_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        principal = info.context.principal

        async def allowed(token: models.ApiToken) -> bool:
            return principal.is_authenticated and token.user_id == principal.user_id

        return await resolve_visible_nodes(models.ApiToken, node_ids, cls.from_model, allowed)
