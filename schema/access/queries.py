"""Queries of identity and access: who you are, projects, users, roles, tokens,
sessions and the audit log."""

from __future__ import annotations

from datetime import datetime

import strawberry

from home_idp.schema.access.types import (
    ApiToken,
    AuditEvent,
    Project,
    Role,
    Session,
    User,
    UserStatus,
)
from home_idp.schema.core.context import Info
from home_idp.schema.core.from_row import from_row
from home_idp.schema.core.permissions import IsAdmin, IsAuthenticated
from home_idp.schema.core.relay import Connection, connection, connection_from_queryset
from home_idp.server.errors import NotFound
from home_idp.server.rbac.audit import AuditFilter, AuditLog

__all__ = ["AccessQuery", "AuditEventFilter"]


@strawberry.input(description="Every field narrows the result; all are optional.")
class AuditEventFilter:
    actor: str | None = None
    action: str | None = strawberry.field(
        default=None, description="Exact action, or a prefix ending in '.' (e.g. 'project.')."
    )
    target: str | None = None
    project: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_domain(self) -> AuditFilter:
        return from_row(AuditFilter, self)


@strawberry.type
class AccessQuery:
    @strawberry.field(description="The logged-in user.", permission_classes=[IsAuthenticated])
    async def me(self, info: Info) -> User:
        user = await info.context.loaders.user.load(info.context.principal.user_id or 0)
        assert user is not None  # the authentication middleware just loaded it
        return User.from_model(user)

    @connection(
        description="Projects you belong to (all of them for admins), oldest first.",
        permission_classes=[IsAuthenticated],
    )
    async def projects(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Project]:
        query = await info.context.rbac.projects.visible()
        return await connection_from_queryset(query, first, after, Project.from_model)

    @strawberry.field(description="One project by name.", permission_classes=[IsAuthenticated])
    async def project(self, info: Info, name: str) -> Project | None:
        try:
            return Project.from_model(await info.context.rbac.projects.get_by_name(name))
        except NotFound:
            return None

    @connection(description="All users, oldest first.", permission_classes=[IsAdmin])
    async def users(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        status: UserStatus | None = None,
    ) -> Connection[User]:
        query = info.context.rbac.users.list(status)
        return await connection_from_queryset(query, first, after, User.from_model)

    @connection(description="Built-in and custom roles.", permission_classes=[IsAuthenticated])
    async def roles(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Role]:
        return await connection_from_queryset(
            info.context.rbac.roles.list(), first, after, Role.from_model
        )

    @connection(description="Your API tokens.", permission_classes=[IsAuthenticated])
    async def api_tokens(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[ApiToken]:
        return await connection_from_queryset(
            info.context.rbac.api_tokens.mine(), first, after, ApiToken.from_model
        )

    @connection(
        description="Your sessions that are still open, newest first.",
        permission_classes=[IsAuthenticated],
    )
    async def sessions(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Session]:
        current = info.context.principal.session_id
        return await connection_from_queryset(
            info.context.rbac.sessions.mine(),
            first,
            after,
            lambda session: Session.from_model(session, current),
            newest_first=True,
        )

    @connection(description="The audit log, newest first.", permission_classes=[IsAdmin])
    async def audit_events(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        filter: AuditEventFilter | None = None,
    ) -> Connection[AuditEvent]:
        info.context.rbac.authz.require_admin()
        query = AuditLog.query(filter.to_domain() if filter else AuditFilter())
        return await connection_from_queryset(
            query, first, after, AuditEvent.from_model, newest_first=True
        )
