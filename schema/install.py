"""install-manager: the components home-idp depends on, their state, and installing them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from typing import Annotated, Self

import strawberry

from home_idp.schema.context import Context, Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.live_rights import while_allowed
from home_idp.schema.permissions import IsAdmin, IsAuthenticated
from home_idp.server.install.manager import INSTALL_TOPIC, InstallEvent
from home_idp.server.install.service import ComponentView

__all__ = ["InstallMutation", "InstallQuery", "InstallSubscription"]


@strawberry.enum(description="Where a component stands.")
class ComponentStatus(Enum):
    ABSENT = "absent"
    INSTALLING = "installing"
    READY = "ready"
    FAILED = "failed"


@strawberry.type(description="A dependency of home-idp: a Helm chart, or the local registry.")
class Component:
    name: str
    description: str
    chart: str
    version: str = strawberry.field(description="The pinned version it is installed at.")
    namespace: str
    depends_on: list[str] = strawberry.field(description="Installed before this one.")
    status: ComponentStatus
    message: str = strawberry.field(description="What happened last, or why it failed.")
    revision: int | None = strawberry.field(description="The Helm release's revision.")
    updated_at: datetime | None

    @classmethod
    def of(cls, view: ComponentView) -> Self:
        spec, row = view.entry.spec, view.row
        return cls(
            name=spec.name,
            description=view.entry.description,
            chart=spec.chart,
            version=spec.version,
            namespace=spec.namespace,
            depends_on=list(spec.depends_on),
            status=ComponentStatus(view.status.value),
            message=row.message if row else "not installed by home-idp yet",
            revision=row.revision if row else None,
            updated_at=row.updated_at if row else None,
        )


@strawberry.type(description="A step of an install: a component's new state and why.")
class InstallProgress:
    component: str
    status: ComponentStatus
    message: str
    at: datetime

    @classmethod
    def of(cls, event: InstallEvent) -> Self:
        return cls(
            component=event.component,
            status=ComponentStatus(event.status.value),
            message=event.message,
            at=event.at,
        )


@strawberry.input
class ComponentInput:
    name: str = strawberry.field(description="postgres, harbor, argocd, or registry (local).")


@strawberry.input
class InstallAllInput:
    components: list[str] | None = strawberry.field(
        default=None, description="Only these (dependencies first); every component when null."
    )


@strawberry.type(description="The component, with its install or uninstall under way.")
class ComponentSuccess:
    component: Component


@strawberry.type(description="Every component, installing in dependency order.")
class InstallAllSuccess:
    components: list[Component]


ComponentResult = Annotated[ComponentSuccess | ErrorTypes, strawberry.union("ComponentResult")]
InstallAllResult = Annotated[InstallAllSuccess | ErrorTypes, strawberry.union("InstallAllResult")]


@strawberry.type
class InstallQuery:
    @strawberry.field(
        description="The components of this profile with their last known state.",
        permission_classes=[IsAuthenticated],
    )
    async def components(self, info: Info) -> list[Component]:
        return [Component.of(view) for view in await info.context.install.components()]


@strawberry.type
class InstallMutation:
    @strawberry.mutation(
        description="Install or upgrade a component (administrators); follow installProgress."
    )
    async def install_component(self, info: Info, input: ComponentInput) -> ComponentResult:
        async def body() -> ComponentSuccess:
            view = await info.context.install.install(input.name)
            return ComponentSuccess(component=Component.of(view))

        return await run_mutation(info, "component.install", body)

    @strawberry.mutation(description="Uninstall a component nothing installed depends on.")
    async def uninstall_component(self, info: Info, input: ComponentInput) -> ComponentResult:
        async def body() -> ComponentSuccess:
            view = await info.context.install.uninstall(input.name)
            return ComponentSuccess(component=Component.of(view))

        return await run_mutation(info, "component.uninstall", body)

    @strawberry.mutation(description="Install every component, dependencies first.")
    async def install_all(self, info: Info, input: InstallAllInput) -> InstallAllResult:
        async def body() -> InstallAllSuccess:
            views = await info.context.install.install_all(input.components)
            return InstallAllSuccess(components=[Component.of(view) for view in views])

        return await run_mutation(info, "component.install_all", body)


@strawberry.type
class InstallSubscription:
    @strawberry.subscription(
        description="Each step of installs as it happens (administrators).",
        permission_classes=[IsAdmin],
    )
    async def install_progress(self, info: Info) -> AsyncGenerator[InstallProgress, None]:
        async with contextlib.aclosing(
            while_allowed(info, _install_progress(info), _still_admin)
        ) as progress:
            async for step in progress:
                yield step


async def _still_admin(context: Context) -> None:
    context.rbac.authz.require_admin()


async def _install_progress(info: Info) -> AsyncGenerator[InstallProgress, None]:
    async with info.context.runtime.bus.subscribe(INSTALL_TOPIC) as events:
        async for event in events:
            yield InstallProgress.of(event)
