"""A running app: its objects (resource view), its live logs, and deleting a pod."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Annotated, Self

import strawberry
from strawberry import relay

from home_idp.plugins.deployer import contract as deployer_contract
from home_idp.schema.apps import App, app_id
from home_idp.schema.context import Context, Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.live_rights import while_allowed
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.relay import decode_id

__all__ = ["AppRuntimeMutation", "AppRuntimeQuery", "AppRuntimeSubscription"]


@strawberry.type(
    description="An object that runs an app: Deployment, Pod, Service, Ingress, ConfigMap, "
    "Secret, or a Container in local mode."
)
class AppResource:
    kind: str
    name: str
    status: str = strawberry.field(description="A short summary of its state.")
    ready: bool | None
    phase: str | None = strawberry.field(description="A pod's phase or a container's state.")
    restarts: int | None
    release: int | None = strawberry.field(description="The release it belongs to, if known.")
    keys: list[str] = strawberry.field(
        description="A ConfigMap's or Secret's keys (never a Secret's values); a container's "
        "mounted files."
    )
    created_at: str | None

    @classmethod
    def from_plugin(cls, found: deployer_contract.AppResource) -> Self:
        return cls(
            kind=found.kind,
            name=found.name,
            status=found.status,
            ready=found.ready,
            phase=found.phase,
            restarts=found.restarts,
            release=found.release,
            keys=list(found.keys),
            created_at=found.created_at,
        )


@strawberry.type(description="One line an app wrote; secrets are masked.")
class AppLogLine:
    source: str = strawberry.field(description="The pod (or container) that wrote it.")
    text: str


@strawberry.input
class DeletePodInput:
    app: relay.GlobalID
    name: str = strawberry.field(description="The pod's name, as the resource view shows it.")


@strawberry.type
class DeletePodSuccess:
    app: App
    deleted_pod: str


DeletePodResult = Annotated[DeletePodSuccess | ErrorTypes, strawberry.union("DeletePodResult")]


@strawberry.type
class AppRuntimeQuery:
    @strawberry.field(
        description="The objects that run an app now, with their status (viewers and up).",
        permission_classes=[IsAuthenticated],
    )
    async def app_resources(self, info: Info, app: relay.GlobalID) -> list[AppResource]:
        found = await info.context.deploy.runtime.resources(app_id(app))
        return [AppResource.from_plugin(r) for r in found]


@strawberry.type
class AppRuntimeSubscription:
    @strawberry.subscription(
        description="An app's output: the last `tailLines` lines of each pod (or container), "
        "then, with `follow`, new lines as they come, until the client goes away.",
        permission_classes=[IsAuthenticated],
    )
    async def app_logs(
        self, info: Info, app_id: relay.GlobalID, follow: bool = True, tail_lines: int = 100
    ) -> AsyncGenerator[AppLogLine, None]:
        runtime = info.context.deploy.runtime
        app = decode_id(app_id, "App", "appId")

        async def lines() -> AsyncGenerator[AppLogLine, None]:
            # aclosing: the deployer's streams close as soon as the client goes away.
            async with contextlib.aclosing(
                runtime.logs(app, follow=follow, tail_lines=tail_lines)
            ) as found:
                async for line in found:
                    yield AppLogLine(source=line.source, text=line.text)

        async def may_still_read(context: Context) -> None:
            await context.deploy.runtime.check_log_reader(app)

        async with contextlib.aclosing(while_allowed(info, lines(), may_still_read)) as followed:
            async for line in followed:
                yield line


@strawberry.type
class AppRuntimeMutation:
    @strawberry.mutation(
        description="Delete one of an app's pods so it restarts (maintainers); in local mode "
        "the container restarts."
    )
    async def delete_pod(self, info: Info, input: DeletePodInput) -> DeletePodResult:
        async def body() -> DeletePodSuccess:
            app = await info.context.deploy.runtime.delete_pod(app_id(input.app), input.name)
            return DeletePodSuccess(app=App.from_model(app), deleted_pod=input.name)

        return await run_mutation(info, "app.delete_pod", body)
