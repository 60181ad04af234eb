"""Queries of apps: a project's apps, and the diff between two Dockerfile versions."""

from __future__ import annotations

import strawberry
from strawberry import relay

from home_idp.schema.apps.types import App
from home_idp.schema.core.context import Info
from home_idp.schema.core.permissions import IsAuthenticated
from home_idp.schema.core.relay import (
    Connection,
    connection,
    connection_from_queryset,
    decode_id,
)

__all__ = ["AppQuery"]


@strawberry.type
class AppQuery:
    @connection(
        description="The apps of a project, oldest first.", permission_classes=[IsAuthenticated]
    )
    async def apps(
        self, info: Info, project: relay.GlobalID, first: int = 50, after: str | None = None
    ) -> Connection[App]:
        model = await info.context.rbac.projects.get(decode_id(project, "Project", "project"))
        query = await info.context.apps.apps.in_project(model)
        return await connection_from_queryset(query, first, after, App.from_model)

    @strawberry.field(
        description="A unified diff between two Dockerfile versions.",
        permission_classes=[IsAuthenticated],
    )
    async def dockerfile_diff(
        self, info: Info, from_version: relay.GlobalID, to_version: relay.GlobalID
    ) -> str:
        return await info.context.apps.dockerfiles.diff(
            decode_id(from_version, "DockerfileVersion", "fromVersion"),
            decode_id(to_version, "DockerfileVersion", "toVersion"),
        )
