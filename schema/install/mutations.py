"""Mutations of install-manager: install and uninstall components."""

from __future__ import annotations

from typing import Annotated

import strawberry

from home_idp.schema.core.context import Info
from home_idp.schema.core.errors import ErrorTypes
from home_idp.schema.core.mutations import mutation
from home_idp.schema.install.types import Component

__all__ = ["InstallMutation"]


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
class InstallMutation:
    @mutation(
        "component.install",
        description="Install or upgrade a component (administrators); follow installProgress.",
    )
    async def install_component(self, info: Info, input: ComponentInput) -> ComponentResult:
        view = await info.context.install.install(input.name)
        return ComponentSuccess(component=Component.of(view))

    @mutation(
        "component.uninstall", description="Uninstall a component nothing installed depends on."
    )
    async def uninstall_component(self, info: Info, input: ComponentInput) -> ComponentResult:
        view = await info.context.install.uninstall(input.name)
        return ComponentSuccess(component=Component.of(view))

    @mutation("component.install_all", description="Install every component, dependencies first.")
    async def install_all(self, info: Info, input: InstallAllInput) -> InstallAllResult:
        views = await info.context.install.install_all(input.components)
        return InstallAllSuccess(components=[Component.of(view) for view in views])
