"""The object types of install-manager: the components home-idp depends on, and their state."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from home_idp.plugins.installer.contract import ComponentStatus
from home_idp.schema.core.from_row import from_row
from home_idp.server.install.manager import InstallEvent
from home_idp.server.install.service import ComponentView

__all__ = ["Component", "ComponentStatus", "InstallProgress"]


# The installer contract's own enum, so the two lists of states cannot drift apart.
strawberry.enum(ComponentStatus, description="Where a component stands.")


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
            status=view.status,
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
        return from_row(cls, event)
