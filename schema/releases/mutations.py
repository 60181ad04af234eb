"""Mutations of releases: saving a Dockerfile starts one; cancel, retry and roll back;
config changes (an app's files, a project's variables) start config-only releases
(same image, new manifests) and list them; restart a pod; redeliver a webhook."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from home_idp.schema.access.types import Project
from home_idp.schema.apps.types import App, DockerfileVersion, app_id
from home_idp.schema.core.context import Info
from home_idp.schema.core.errors import ErrorTypes
from home_idp.schema.core.mutations import mutation
from home_idp.schema.core.relay import decode_id
from home_idp.schema.releases.types import Release, WebhookDelivery
from home_idp.server.deploy.config_changes import AppChange, ProjectChange

__all__ = ["ReleaseMutation"]


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


@strawberry.input
class DeletePodInput:
    app: relay.GlobalID
    name: str = strawberry.field(description="The pod's name, as the resource view shows it.")


@strawberry.type
class DeletePodSuccess:
    app: App
    deleted_pod: str


DeletePodResult = Annotated[DeletePodSuccess | ErrorTypes, strawberry.union("DeletePodResult")]


@strawberry.input
class SaveDockerfileInput:
    app: relay.GlobalID
    content: str = strawberry.field(description="At most 256 KiB; must parse.")
    message: str = strawberry.field(description="What changed, like a commit message.")


@strawberry.input
class ReleaseInput:
    id: relay.GlobalID


@strawberry.input
class RollbackInput:
    app: relay.GlobalID
    release: relay.GlobalID = strawberry.field(
        description="The earlier release (it must have succeeded) whose image to run again."
    )


@strawberry.input
class DeployAppInput:
    app: relay.GlobalID
    ref: str | None = strawberry.field(
        default=None, description="A branch, tag or commit; the app's branch when not given."
    )


@strawberry.type(description="The new version (with lint warnings) and the release it started.")
class SaveDockerfileSuccess:
    dockerfile_version: DockerfileVersion
    release: Release


@strawberry.type
class ReleaseSuccess:
    release: Release


SaveDockerfileResult = Annotated[
    SaveDockerfileSuccess | ErrorTypes, strawberry.union("SaveDockerfileResult")
]
ReleaseResult = Annotated[ReleaseSuccess | ErrorTypes, strawberry.union("ReleaseResult")]


@strawberry.input
class RedeliverWebhookInput:
    id: relay.GlobalID


@strawberry.type
class RedeliverWebhookSuccess:
    delivery: WebhookDelivery


RedeliverWebhookResult = Annotated[
    RedeliverWebhookSuccess | ErrorTypes, strawberry.union("RedeliverWebhookResult")
]


@strawberry.type
class ReleaseMutation:
    @mutation(
        "app.put_file",
        description="Add or replace a config file of an app (developers and up); apps "
        "running get a config-only release.",
    )
    async def put_app_file(self, info: Info, input: PutAppFileInput) -> AppConfigResult:
        change = await info.context.deploy.config.put_file(
            app_id(input.app), input.name, input.mount_path, input.content
        )
        return AppConfigSuccess.of(change)

    @mutation("app.delete_file", description="Remove a config file of an app.")
    async def delete_app_file(self, info: Info, input: DeleteAppFileInput) -> AppConfigResult:
        change = await info.context.deploy.config.delete_file(app_id(input.app), input.name)
        return AppConfigSuccess.of(change)

    @mutation(
        "project.set_variable",
        description="Set a project variable or secret; the apps that use it get a "
        "config-only release.",
    )
    async def set_project_variable(
        self, info: Info, input: SetProjectVariableInput
    ) -> ProjectConfigResult:
        change = await info.context.deploy.config.set_variable(
            _project_id(input.project), input.name, input.value, secret=input.is_secret
        )
        return ProjectConfigSuccess.of(change)

    @mutation("project.delete_variable", description="Delete a project variable no app uses.")
    async def delete_project_variable(
        self, info: Info, input: DeleteProjectVariableInput
    ) -> ProjectConfigResult:
        change = await info.context.deploy.config.delete_variable(
            _project_id(input.project), input.name
        )
        return ProjectConfigSuccess.of(change)

    @mutation(
        "app.delete_pod",
        description="Delete one of an app's pods so it restarts (maintainers); in local mode "
        "the container restarts.",
    )
    async def delete_pod(self, info: Info, input: DeletePodInput) -> DeletePodResult:
        app = await info.context.deploy.runtime.delete_pod(app_id(input.app), input.name)
        return DeletePodSuccess(app=App.from_model(app), deleted_pod=input.name)

    @mutation("dockerfile.save", description="Save a new Dockerfile version and start its release.")
    async def save_dockerfile(self, info: Info, input: SaveDockerfileInput) -> SaveDockerfileResult:
        version, release = await info.context.deploy.releases.save_dockerfile(
            app_id(input.app), input.content, input.message
        )
        return SaveDockerfileSuccess(
            dockerfile_version=DockerfileVersion.from_model(version),
            release=Release.from_model(release),
        )

    @mutation(
        "release.deploy",
        description="Build the newest commit of a ref with the app's current Dockerfile and "
        "settings, and deploy it (developers and up).",
    )
    async def deploy_app(self, info: Info, input: DeployAppInput) -> ReleaseResult:
        release = await info.context.deploy.releases.deploy(app_id(input.app), input.ref)
        return ReleaseSuccess(release=Release.from_model(release))

    @mutation("release.cancel", description="Stop a running release.")
    async def cancel_release(self, info: Info, input: ReleaseInput) -> ReleaseResult:
        release = await info.context.deploy.releases.cancel(decode_id(input.id, "Release"))
        return ReleaseSuccess(release=Release.from_model(release))

    @mutation(
        "release.retry",
        description="Run a failed or cancelled release again from its failed step.",
    )
    async def retry_release(self, info: Info, input: ReleaseInput) -> ReleaseResult:
        release = await info.context.deploy.releases.retry(decode_id(input.id, "Release"))
        return ReleaseSuccess(release=Release.from_model(release))

    @mutation(
        "release.rollback",
        description="Run an earlier release's exact image again, as a new release.",
    )
    async def rollback(self, info: Info, input: RollbackInput) -> ReleaseResult:
        release = await info.context.deploy.releases.rollback(
            app_id(input.app), decode_id(input.release, "Release", "release")
        )
        return ReleaseSuccess(release=Release.from_model(release))

    @mutation("webhook.redeliver", description="Process a signed delivery again (admins).")
    async def redeliver_webhook(
        self, info: Info, input: RedeliverWebhookInput
    ) -> RedeliverWebhookResult:
        delivery = await info.context.deploy.deliveries.redeliver(
            decode_id(input.id, "WebhookDelivery")
        )
        await delivery.refresh_from_db()
        return RedeliverWebhookSuccess(delivery=WebhookDelivery.from_model(delivery))
