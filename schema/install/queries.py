"""Queries of install-manager: the components and their last known state."""

from __future__ import annotations

import strawberry

from home_idp.schema.core.context import Info
from home_idp.schema.core.permissions import IsAuthenticated
from home_idp.schema.install.types import Component

__all__ = ["InstallQuery"]


@strawberry.type
class InstallQuery:
    @strawberry.field(
        description="The components of this profile with their last known state.",
        permission_classes=[IsAuthenticated],
    )
    async def components(self, info: Info) -> list[Component]:
        return [Component.of(view) for view in await info.context.install.components()]
