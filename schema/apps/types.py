"""The object types of apps: an app, its Dockerfile versions, secrets, files,
variables and source credential."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self, cast

import strawberry
from strawberry import relay
from strawberry.types.base import StrawberryObjectDefinition

from home_idp.schema.access.types import Project
from home_idp.schema.core.context import Info
from home_idp.schema.core.from_row import FromRow, from_row
from home_idp.schema.core.relay import (
    Connection,
    VisibleNode,
    connection,
    connection_from_queryset,
    decode_id,
)
from home_idp.server.apps import config as app_config
from home_idp.server.apps import models as app_models
from home_idp.server.apps.fields import without_credentials
from home_idp.server.deploy.source_hooks import source_hook_url
from home_idp.server.errors import NotFound

if TYPE_CHECKING:
    from home_idp.schema.releases.types import Release

__all__ = [
    "App",
    "AppFile",
    "DockerfileVersion",
    "EnvEntry",
    "EnvVar",
    "LintFinding",
    "SecretStatus",
    "SourceCredentialStatus",
    "SourceWebhook",
    "app_id",
    "readable_app",
]

# A release names its app, so the releases room imports this one; here its types
# are named lazily (strawberry.lazy) and taken from the schema when resolved.
_RELEASES = "home_idp.schema.releases.types"


@strawberry.type(description="A plain environment variable of an app.")
class EnvVar:
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


@strawberry.type(
    description="How builds sign in to the app's source repository; its secret is never shown."
)
class SourceCredentialStatus(FromRow):
    kind: str = strawberry.field(description="`token` (https) or `ssh-key` (a deploy key).")
    username: str | None
    updated_by: str
    updated_at: datetime


@strawberry.type(
    description="The push webhook of an app's source repository: GitHub, Gitea, Forgejo "
    "and GitLab formats."
)
class SourceWebhook:
    url: str = strawberry.field(description="The payload URL to give the git host.")
    secret_set: bool = strawberry.field(
        description="Whether a secret was made (newSourceWebhookSecret); pushes are "
        "accepted only when signed with it."
    )


@strawberry.type(description="A config file the app's containers see read-only at mountPath.")
class AppFile(FromRow):
    name: str = strawberry.field(description="The file name (the ConfigMap key).")
    mount_path: str = strawberry.field(description="The file's absolute path in the container.")
    size: int = strawberry.field(description="In bytes.")
    content: str
    updated_by: str
    updated_at: datetime


@strawberry.type(description="A variable the app names, and where its value comes from.")
class EnvEntry:
    name: str
    source: str = strawberry.field(description="`app` or `project`.")
    is_secret: bool
    value: str | None = strawberry.field(description="Null for a secret.")
    overridden: bool = strawberry.field(
        description="A project variable the app overrides with its own value."
    )

    @classmethod
    def from_entry(cls, entry: app_config.EnvEntry) -> Self:
        return from_row(cls, entry, is_secret=entry.secret)


@strawberry.type(description="One saved Dockerfile; versions never change.")
class DockerfileVersion(VisibleNode):
    id: relay.NodeID[int]
    number: int
    content: str
    author: str
    message: str
    created_at: datetime
    lint_findings: list[LintFinding]

    @classmethod
    def from_model(cls, version: app_models.DockerfileVersion) -> Self:
        return from_row(
            cls,
            version,
            lint_findings=[LintFinding(**finding) for finding in version.lint_findings],
        )

    row_model = app_models.DockerfileVersion

    @classmethod
    async def visible_to(cls, info: Info, version: app_models.DockerfileVersion) -> bool:
        return await readable_app(info, version.app_id, "dockerfile") is not None  # type: ignore[attr-defined]


@strawberry.type(description="Something a project runs: built from a Dockerfile, deployed.")
class App(VisibleNode):
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
    auto_deploy: bool = strawberry.field(
        description="Whether a new commit on the app's branch starts a release."
    )
    watch_paths: list[str] = strawberry.field(
        description="gitignore-style globs: a commit touching none of them starts no "
        "release. Empty means every path."
    )
    stability_seconds: int | None = strawberry.field(
        description="How long a rolled-out release is watched before it succeeds; null: "
        "the server's setting."
    )
    auto_rollback: bool = strawberry.field(
        description="Whether a release that fails its rollout or its watch is rolled back "
        "to the release it replaced."
    )
    source_error: str | None = strawberry.field(
        description="Why the source repository could not be read the last time it was "
        "asked for its newest commit; null when it could."
    )
    source_checked_at: datetime | None = strawberry.field(
        description="When the source repository was last asked for its newest commit."
    )
    created_at: datetime
    updated_at: datetime
    project_id: strawberry.Private[int]
    live_release_id: strawberry.Private[int | None]
    webhook_secret_set: strawberry.Private[bool]

    @classmethod
    def from_model(cls, app: app_models.App) -> Self:
        return from_row(
            cls,
            app,
            source_repo=without_credentials(app.source_repo),
            env=[EnvVar(name=k, value=v) for k, v in sorted(app.env.items())],
            ingress_host=app.ingress_host or None,
            shared_env=list(app.shared_env),
            watch_paths=list(app.watch_paths),
            webhook_secret_set=app.source_webhook_ciphertext is not None,
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
        return [from_row(SecretStatus, secret, is_set=True) for secret in secrets]

    @strawberry.field(
        description="How builds sign in to the source repository, if set (setSourceCredential)."
    )
    async def source_credential(self, info: Info) -> SourceCredentialStatus | None:
        app = await self._model(info)
        credential = await info.context.apps.source_credentials.info(app)
        return SourceCredentialStatus.from_model(credential) if credential else None

    @strawberry.field(description="Where the source repository's host sends push webhooks.")
    async def source_webhook(self, info: Info) -> SourceWebhook:
        project = await info.context.loaders.project.load(self.project_id)
        if project is None:
            raise NotFound("the app's project is gone")
        return SourceWebhook(
            url=source_hook_url(info.context.runtime.settings.base_url, project.name, self.name),
            secret_set=self.webhook_secret_set,
        )

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

    @connection(description="Every saved Dockerfile version, newest first.")
    async def dockerfile_versions(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[DockerfileVersion]:
        query = await info.context.apps.dockerfiles.versions(await self._model(info))
        return await connection_from_queryset(
            query, first, after, DockerfileVersion.from_model, newest_first=True
        )

    @strawberry.field(
        description="Where the app answers while a release of it is live: the same address "
        "across releases and rollbacks where the server runs the apps itself (the container "
        "deployer), else the live release's own; null while none is live."
    )
    async def url(self, info: Info) -> str | None:
        if self.live_release_id is None:
            return None
        await self._require(info, "release")
        addresses = info.context.runtime.deploy.app_addresses
        if addresses is not None:
            project = await info.context.loaders.project.load(self.project_id)
            if project is not None:
                return addresses.url(project.name, self.name)
        release = await info.context.loaders.release.load(self.live_release_id)
        return release.url if release is not None else None

    @strawberry.field(description="The release that serves now, if one rolled out.")
    async def live_release(
        self, info: Info
    ) -> Annotated[Release, strawberry.lazy(_RELEASES)] | None:
        if self.live_release_id is None:
            return None
        await self._require(info, "release")
        release = await info.context.loaders.release.load(self.live_release_id)
        if release is None:
            raise NotFound("no such release")
        return _release_type(info).from_model(release)

    @connection(description="The app's releases, newest first.")
    async def releases(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[Annotated[Release, strawberry.lazy(_RELEASES)]]:
        query = await info.context.deploy.releases.of_app(await self._model(info))
        return await connection_from_queryset(
            query, first, after, _release_type(info).from_model, newest_first=True
        )

    row_model = app_models.App

    @classmethod
    async def visible_to(cls, info: Info, app: app_models.App) -> bool:
        await app.fetch_related("project")
        return await info.context.rbac.authz.can("app", "read", app.project.name)


def _release_type(info: Info) -> type[Release]:
    """The `Release` type of the schema being executed."""
    definition = info.schema.get_type_by_name("Release")
    assert isinstance(definition, StrawberryObjectDefinition)
    return cast("type[Release]", definition.origin)


def app_id(global_id: relay.GlobalID, field: str = "app") -> int:
    return decode_id(global_id, "App", field)


async def readable_app(info: Info, app_id: int, resource: str) -> app_models.App | None:
    """The app, if it exists and the caller may read `resource` in its project.

    Through the loaders, so a page of releases costs one query per hop, not per row.
    """
    loaders = info.context.loaders
    app = await loaders.app.load(app_id)
    project = await loaders.project.load(app.project_id) if app is not None else None  # type: ignore[attr-defined]
    if project is None or not await info.context.rbac.authz.can(resource, "read", project.name):
        return None
    return app
