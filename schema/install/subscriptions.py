"""Subscriptions of install-manager: each step of installs as it happens."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry

from home_idp.schema.core.context import Info
from home_idp.schema.core.live_rights import still_admin, while_allowed
from home_idp.schema.core.permissions import IsAdmin
from home_idp.schema.install.types import InstallProgress
from home_idp.server.install.manager import INSTALL_TOPIC

__all__ = ["InstallSubscription"]


@strawberry.type
class InstallSubscription:
    @strawberry.subscription(
        description="Each step of installs as it happens (administrators).",
        permission_classes=[IsAdmin],
    )
    async def install_progress(self, info: Info) -> AsyncGenerator[InstallProgress, None]:
        async with contextlib.aclosing(
            while_allowed(info, _install_progress(info), still_admin)
        ) as progress:
            async for step in progress:
                yield step


async def _install_progress(info: Info) -> AsyncGenerator[InstallProgress, None]:
    async with info.context.runtime.bus.subscribe(INSTALL_TOPIC) as events:
        async for event in events:
            yield InstallProgress.of(event)
