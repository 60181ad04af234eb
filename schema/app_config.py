"""Mutations of an app's config files and of a project's shared variables.

A change that reaches running apps starts config-only releases (same image,
new manifests); the result lists them.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from home_idp.schema.apps import App, app_id
from home_idp.schema.context import Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.rbac_types import Project
from home_idp.schema.relay import decode_id
from home_idp.schema.releases import Release
from home_idp.server.deploy.config_changes import AppChange, ProjectChange

__all__ = ["AppConfigMutation"]


@strawberry.input
class PutAppFileInput:
    app: relay.GlobalID
    name: str = strawberry.field(description="A file name: letters, digits, '.', '_', '-'.")
    mount_path: str = strawberry.field(
        description="The file's absolute path in the container, e.g. /config/app.yaml; "
        "not under system folders."
    )
    content: str = strawberry.field(description="Text, at most 1 MiB.")


@strawberry.input
class DeleteAppFileInput:
    app: relay.GlobalID
    name: str


@strawberry.input
class SetProjectVariableInput:
    project: relay.GlobalID
    name: str = strawberry.field(description="An environment variable name.")
    value: str = strawberry.field(description="A secret's value is stored encrypted.")
    is_secret: bool = False


@strawberry.input
class DeleteProjectVariableInput:
    project: relay.GlobalID
    name: str


@strawberry.type
class AppConfigSuccess:
    app: App
    releases: list[Release] = strawberry.field(
        description="The config-only releases the change started (none when nothing runs)."
    )

    @classmethod
    def of(cls, change: AppChange) -> AppConfigSuccess:
        return cls(
            app=App.from_model(change.app),
            releases=[Release.from_model(r) for r in change.releases],
        )


@strawberry.type
class ProjectConfigSuccess:
    project: Project
    releases: list[Release] = strawberry.field(
        description="The config-only releases of the apps that use the variable."
    )

    @classmethod
    def of(cls, change: ProjectChange) -> ProjectConfigSuccess:
        return cls(
            project=Project.from_model(change.project),
            releases=[Release.from_model(r) for r in change.releases],
        )


AppConfigResult = Annotated[AppConfigSuccess | ErrorTypes, strawberry.union("AppConfigResult")]
ProjectConfigResult = Annotated[
    ProjectConfigSuccess | ErrorTypes, strawberry.union("ProjectConfigResult")
]


def _project_id(global_id: relay.GlobalID) -> int:
    return decode_id(global_id, "Project", "project")


@strawberry.type
class AppConfigMutation:
    @strawberry.mutation(
        description="Add or replace a config file of an app (developers and up); apps "
        "running get a config-only release."
    )
    async def put_app_file(self, info: Info, input: PutAppFileInput) -> AppConfigResult:
        async def body() -> AppConfigSuccess:
            change = await info.context.deploy.config.put_file(
                app_id(input.app), input.name, input.mount_path, input.content
            )
            return AppConfigSuccess.of(change)

        return await run_mutation(info, "app.put_file", body)

    @strawberry.mutation(description="Remove a config file of an app.")
    async def delete_app_file(self, info: Info, input: DeleteAppFileInput) -> AppConfigResult:
        async def body() -> AppConfigSuccess:
            change = await info.context.deploy.config.delete_file(app_id(input.app), input.name)
            return AppConfigSuccess.of(change)

        return await run_mutation(info, "app.delete_file", body)

    @strawberry.mutation(
        description="Set a project variable or secret; the apps that use it get a "
        "config-only release."
    )
    async def set_project_variable(
        self, info: Info, input: SetProjectVariableInput
    ) -> ProjectConfigResult:
        async def body() -> ProjectConfigSuccess:
            change = await info.context.deploy.config.set_variable(
                _project_id(input.project), input.name, input.value, secret=input.is_secret
            )
            return ProjectConfigSuccess.of(change)

        return await run_mutation(info, "project.set_variable", body)

    @strawberry.mutation(description="Delete a project variable no app uses.")
    async def delete_project_variable(
        self, info: Info, input: DeleteProjectVariableInput
    ) -> ProjectConfigResult:
        async def body() -> ProjectConfigSuccess:
            change = await info.context.deploy.config.delete_variable(
                _project_id(input.project), input.name
            )
            return ProjectConfigSuccess.of(change)

        return await run_mutation(info, "project.delete_variable", body)
