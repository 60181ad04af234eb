"""Apps, their secrets and their Dockerfile versions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self, cast

import strawberry
from strawberry import relay

from home_idp.schema.config_types import AppFile, EnvEntry, SourceCredentialStatus
from home_idp.schema.context import Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.rbac_types import Project
from home_idp.schema.relay import (
    Connection,
    check_page_size,
    connection_from_queryset,
    decode_id,
    resolve_visible_nodes,
)
from home_idp.server.apps import config as app_config
from home_idp.server.apps import models as app_models
from home_idp.server.apps.fields import without_credentials
from home_idp.server.apps.service import AppChanges
from home_idp.server.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from home_idp.schema.releases import Release

__all__ = ["App", "AppMutation", "AppQuery", "DockerfileVersion"]


@strawberry.type(description="A plain environment variable of an app.")
class EnvVar:
    name: str
    value: str


@strawberry.input(description="A plain environment variable; use setAppSecret for secrets.")
class EnvVarInput:
    name: str
    value: str


@strawberry.type(description="A secret of an app: only whether it is set, never its value.")
class SecretStatus:
    name: str
    is_set: bool
    updated_by: str
    updated_at: datetime


@strawberry.type(description="A hadolint finding; a warning that never blocks a save.")
class LintFinding:
    line: int
    code: str
    level: str
    message: str


@strawberry.type(description="One saved Dockerfile; versions never change.")
class DockerfileVersion(relay.Node):
    id: relay.NodeID[int]
    number: int
    content: str
    author: str
    message: str
    created_at: datetime
    lint_findings: list[LintFinding]

    @classmethod
    def from_model(cls, version: app_models.DockerfileVersion) -> Self:
        return cls(
            id=version.id,
            number=version.number,
            content=version.content,
            author=version.author,
            message=version.message,
            created_at=version.created_at,
            lint_findings=[LintFinding(**finding) for finding in version.lint_findings],
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        authz = info.context.rbac.authz

        async def allowed(version: app_models.DockerfileVersion) -> bool:
            await version.fetch_related("app__project")
            return await authz.can("dockerfile", "read", version.app.project.name)

        return await resolve_visible_nodes(
            app_models.DockerfileVersion, node_ids, cls.from_model, allowed
        )


@strawberry.type(description="Something a project runs: built from a Dockerfile, deployed.")
class App(relay.Node):
    id: relay.NodeID[int]
    name: str
    source_repo: str = strawberry.field(description="The repo the image is built from.")
    source_ref: str
    context_path: str = strawberry.field(description="The build context inside the repo.")
    port: int
    replicas: int
    health_path: str
    env: list[EnvVar]
    ingress_host: str | None = strawberry.field(
        description="The host name of the app's Ingress (cluster mode), if any."
    )
    shared_env: list[str] = strawberry.field(
        description="The project variables and secrets the app uses; its own value of the "
        "same name wins."
    )
    created_at: datetime
    updated_at: datetime
    project_id: strawberry.Private[int]
    live_release_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, app: app_models.App) -> Self:
        return cls(
            id=app.id,
            name=app.name,
            source_repo=without_credentials(app.source_repo),
            source_ref=app.source_ref,
            context_path=app.context_path,
            port=app.port,
            replicas=app.replicas,
            health_path=app.health_path,
            env=[EnvVar(name=k, value=v) for k, v in sorted(app.env.items())],
            ingress_host=app.ingress_host or None,
            shared_env=list(app.shared_env),
            created_at=app.created_at,
            updated_at=app.updated_at,
            project_id=app.project_id,  # type: ignore[attr-defined]
            live_release_id=app.live_release_id,
        )

    @strawberry.field
    async def project(self, info: Info) -> Project:
        project = await info.context.loaders.project.load(self.project_id)
        if project is None:
            raise NotFound("the app's project is gone")
        return Project.from_model(project)

    async def _require(self, info: Info, resource: str) -> None:
        """Read access to `resource` in the app's project, checked through the loaders."""
        project = await info.context.loaders.project.load(self.project_id)
        if project is None:
            raise NotFound("no such app")
        await info.context.rbac.authz.require(resource, "read", project.name)

    async def _model(self, info: Info) -> app_models.App:
        return await info.context.apps.apps.get(self.id)

    @strawberry.field(description="Which secrets are set; values are never returned.")
    async def secrets(self, info: Info) -> list[SecretStatus]:
        await self._require(info, "secret")
        secrets = await info.context.loaders.secrets_of_app.load(self.id)
        return [
            SecretStatus(name=s.name, is_set=True, updated_by=s.updated_by, updated_at=s.updated_at)
            for s in secrets
        ]

    @strawberry.field(
        description="How builds sign in to the source repository, if set (setSourceCredential)."
    )
    async def source_credential(self, info: Info) -> SourceCredentialStatus | None:
        app = await self._model(info)
        credential = await info.context.apps.source_credentials.info(app)
        return SourceCredentialStatus.from_model(credential) if credential else None

    @strawberry.field(description="The config files mounted into the app's containers.")
    async def files(self, info: Info) -> list[AppFile]:
        await self._require(info, "config")
        files = await info.context.loaders.files_of_app.load(self.id)
        return [AppFile.from_model(f) for f in files]

    @strawberry.field(
        description="Every variable the app names, its own and its project's, with where "
        "each comes from; secrets without values."
    )
    async def environment(self, info: Info) -> list[EnvEntry]:
        await self._require(info, "config")
        model = await self._model(info)
        return [EnvEntry.from_entry(e) for e in await app_config.environment(model)]

    @strawberry.field(description="The newest Dockerfile version, if any was saved.")
    async def dockerfile(self, info: Info) -> DockerfileVersion | None:
        await self._require(info, "dockerfile")
        version = await info.context.loaders.latest_dockerfile.load(self.id)
        return DockerfileVersion.from_model(version) if version else None

    @strawberry.field(description="Every saved Dockerfile version, newest first.")
    async def dockerfile_versions(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[DockerfileVersion]:
        check_page_size(first, info.context.max_page_size)
        query = await info.context.apps.dockerfiles.versions(await self._model(info))
        return await connection_from_queryset(
            query, first, after, DockerfileVersion.from_model, newest_first=True
        )

    @strawberry.field(description="The release that serves now, if one rolled out.")
    async def live_release(
        self, info: Info
    ) -> Annotated[Release, strawberry.lazy("home_idp.schema.releases")] | None:
        from home_idp.schema.releases import Release

        if self.live_release_id is None:
            return None
        await self._require(info, "release")
        release = await info.context.deploy.releases.get(self.live_release_id)
        return Release.from_model(release)

    @strawberry.field(description="The app's releases, newest first.")
    async def releases(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[Annotated[Release, strawberry.lazy("home_idp.schema.releases")]]:
        from home_idp.schema.releases import Release

        check_page_size(first, info.context.max_page_size)
        query = await info.context.deploy.releases.of_app(await self._model(info))
        return cast(
            Connection[Release],
            await connection_from_queryset(
                query, first, after, Release.from_model, newest_first=True
            ),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        authz = info.context.rbac.authz

        async def allowed(app: app_models.App) -> bool:
            await app.fetch_related("project")
            return await authz.can("app", "read", app.project.name)

        return await resolve_visible_nodes(app_models.App, node_ids, cls.from_model, allowed)


@strawberry.input
class CreateAppInput:
    project: relay.GlobalID = strawberry.field(description="The project's id.")
    name: str = strawberry.field(description="DNS-1123 label, unique in the project.")
    source_repo: str
    source_ref: str = "main"
    context_path: str = "."
    port: int = 8080
    replicas: int = 1
    health_path: str = "/"
    env: list[EnvVarInput] | None = None
    ingress_host: str | None = None
    shared_env: list[str] | None = strawberry.field(
        default=None, description="Names of project variables and secrets the app uses."
    )


@strawberry.input(description="Only the fields given are changed.")
class UpdateAppInput:
    id: relay.GlobalID
    source_repo: str | None = None
    source_ref: str | None = None
    context_path: str | None = None
    port: int | None = None
    replicas: int | None = None
    health_path: str | None = None
    env: list[EnvVarInput] | None = strawberry.field(
        default=None, description="Replaces every plain variable."
    )
    ingress_host: str | None = strawberry.field(
        default=None, description="An empty string removes the Ingress."
    )
    shared_env: list[str] | None = strawberry.field(
        default=None, description="Replaces the names of the project variables the app uses."
    )


@strawberry.input
class DeleteAppInput:
    id: relay.GlobalID


@strawberry.input
class SetAppSecretInput:
    app: relay.GlobalID
    name: str = strawberry.field(description="An environment variable name.")
    value: str = strawberry.field(description="Stored encrypted; never shown again.")


@strawberry.input
class DeleteAppSecretInput:
    app: relay.GlobalID
    name: str


@strawberry.type
class AppSuccess:
    app: App


@strawberry.type
class DeleteAppSuccess:
    deleted_name: str


AppResult = Annotated[AppSuccess | ErrorTypes, strawberry.union("AppResult")]
DeleteAppResult = Annotated[DeleteAppSuccess | ErrorTypes, strawberry.union("DeleteAppResult")]


def _env(items: list[EnvVarInput] | None) -> dict[str, str] | None:
    if items is None:
        return None
    env = {item.name: item.value for item in items}
    if len(env) < len(items):
        # A dict would silently keep only the last of two values for one name.
        raise ValidationFailed.for_field("env", "each variable name may appear only once")
    return env


def _changes(input: CreateAppInput | UpdateAppInput) -> AppChanges:
    return AppChanges(
        source_repo=input.source_repo,
        source_ref=input.source_ref,
        context_path=input.context_path,
        port=input.port,
        replicas=input.replicas,
        health_path=input.health_path,
        env=_env(input.env),
        ingress_host=input.ingress_host,
        shared_env=input.shared_env,
    )


def app_id(global_id: relay.GlobalID, field: str = "app") -> int:
    return decode_id(global_id, "App", field)


@strawberry.type
class AppQuery:
    @strawberry.field(
        description="The apps of a project, oldest first.", permission_classes=[IsAuthenticated]
    )
    async def apps(
        self, info: Info, project: relay.GlobalID, first: int = 50, after: str | None = None
    ) -> Connection[App]:
        check_page_size(first, info.context.max_page_size)
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


@strawberry.type
class AppMutation:
    @strawberry.mutation(description="Create an app in a project (developers and up).")
    async def create_app(self, info: Info, input: CreateAppInput) -> AppResult:
        async def body() -> AppSuccess:
            app = await info.context.apps.apps.create(
                decode_id(input.project, "Project", "project"), input.name, _changes(input)
            )
            return AppSuccess(app=App.from_model(app))

        return await run_mutation(info, "app.create", body)

    @strawberry.mutation(description="Change an app's settings.")
    async def update_app(self, info: Info, input: UpdateAppInput) -> AppResult:
        async def body() -> AppSuccess:
            app = await info.context.apps.apps.update(app_id(input.id, "id"), _changes(input))
            return AppSuccess(app=App.from_model(app))

        return await run_mutation(info, "app.update", body)

    @strawberry.mutation(description="Delete an app with its versions and releases.")
    async def delete_app(self, info: Info, input: DeleteAppInput) -> DeleteAppResult:
        async def body() -> DeleteAppSuccess:
            app = await info.context.apps.apps.delete(app_id(input.id, "id"))
            return DeleteAppSuccess(deleted_name=app.name)

        return await run_mutation(info, "app.delete", body)

    @strawberry.mutation(description="Set (or replace) a secret; its value is never shown.")
    async def set_app_secret(self, info: Info, input: SetAppSecretInput) -> AppResult:
        async def body() -> AppSuccess:
            app = await info.context.apps.apps.set_secret(
                app_id(input.app), input.name, input.value
            )
            return AppSuccess(app=App.from_model(app))

        return await run_mutation(info, "app.set_secret", body)

    @strawberry.mutation(description="Remove a secret.")
    async def delete_app_secret(self, info: Info, input: DeleteAppSecretInput) -> AppResult:
        async def body() -> AppSuccess:
            app = await info.context.apps.apps.delete_secret(app_id(input.app), input.name)
            return AppSuccess(app=App.from_model(app))

        return await run_mutation(info, "app.delete_secret", body)
