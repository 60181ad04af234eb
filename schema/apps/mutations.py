"""Mutations of apps: create, change and delete them, their secrets and their source
credential."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from home_idp.schema.apps.types import App, app_id
from home_idp.schema.core.context import Info
from home_idp.schema.core.errors import ErrorTypes
from home_idp.schema.core.from_row import from_row
from home_idp.schema.core.mutations import mutation
from home_idp.schema.core.relay import decode_id
from home_idp.server.apps.service import AppChanges
from home_idp.server.apps.source_credentials import SourceCredentialInput
from home_idp.server.errors import ValidationFailed

__all__ = ["AppMutation", "AppResult", "AppSuccess"]


@strawberry.input(description="A plain environment variable; use setAppSecret for secrets.")
class EnvVarInput:
    name: str
    value: str


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
    auto_deploy: bool = strawberry.field(
        default=True, description="Whether a new commit on the branch starts a release."
    )
    watch_paths: list[str] | None = strawberry.field(
        default=None,
        description="gitignore-style globs relative to the repository; a commit touching "
        "none of them starts no release. Null or empty: every path.",
    )
    stability_seconds: int | None = strawberry.field(
        default=None,
        description="How long a rolled-out release is watched before it succeeds "
        "(0 to 3600; 0: no watch). Null: the server's setting.",
    )
    auto_rollback: bool = strawberry.field(
        default=True,
        description="Whether a release that fails its rollout or its watch is rolled back "
        "to the release it replaced.",
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
    auto_deploy: bool | None = strawberry.field(
        default=None, description="Whether a new commit on the branch starts a release."
    )
    watch_paths: list[str] | None = strawberry.field(
        default=None, description="Replaces the globs; an empty list watches every path."
    )
    stability_seconds: int | None = strawberry.field(
        default=None,
        description="How long a rolled-out release is watched before it succeeds "
        "(0 to 3600; 0: no watch).",
    )
    auto_rollback: bool | None = strawberry.field(
        default=None,
        description="Whether a release that fails its rollout or its watch is rolled back "
        "to the release it replaced.",
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


@strawberry.input(
    description="A token for an https source, or a deploy key for an ssh one; stored "
    "encrypted and never shown again."
)
class SetSourceCredentialInput:
    app: relay.GlobalID
    username: str | None = strawberry.field(
        default=None, description="The user name that goes with a token, if the host needs one."
    )
    token: str | None = strawberry.field(default=None, description="An access token (https).")
    ssh_private_key: str | None = strawberry.field(
        default=None, description="A deploy key (ssh): the private key, OpenSSH or PEM form."
    )
    ssh_known_hosts: str | None = strawberry.field(
        default=None,
        description="known_hosts lines for the source host; without them the host key is "
        "taken on first use for each build.",
    )


@strawberry.input
class DeleteSourceCredentialInput:
    app: relay.GlobalID


@strawberry.input
class NewSourceWebhookSecretInput:
    app: relay.GlobalID


@strawberry.type
class AppSuccess:
    app: App


@strawberry.type(description="The new secret, shown this once; the old one stops working.")
class SourceWebhookSecretSuccess:
    app: App
    secret: str = strawberry.field(
        description="Give it to the git host with the webhook's URL (app.sourceWebhook.url)."
    )
    registered: bool = strawberry.field(
        description="Whether home-idp registered (or updated) the push webhook on the app's "
        "repository itself, with this secret; only the github git plugin can, for "
        "repositories on its host that its token may manage hooks of."
    )
    note: str = strawberry.field(
        description='Where the webhook was registered ("registered on github.com/o/r"), or '
        "why it was not and that it must be added by hand."
    )


@strawberry.type
class DeleteAppSuccess:
    deleted_name: str


AppResult = Annotated[AppSuccess | ErrorTypes, strawberry.union("AppResult")]
SourceWebhookSecretResult = Annotated[
    SourceWebhookSecretSuccess | ErrorTypes, strawberry.union("SourceWebhookSecretResult")
]
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
    return from_row(AppChanges, input, env=_env(input.env))


@strawberry.type
class AppMutation:
    @mutation("app.create", description="Create an app in a project (developers and up).")
    async def create_app(self, info: Info, input: CreateAppInput) -> AppResult:
        app = await info.context.apps.apps.create(
            decode_id(input.project, "Project", "project"), input.name, _changes(input)
        )
        return AppSuccess(app=App.from_model(app))

    @mutation("app.update", description="Change an app's settings.")
    async def update_app(self, info: Info, input: UpdateAppInput) -> AppResult:
        app = await info.context.apps.apps.update(app_id(input.id, "id"), _changes(input))
        return AppSuccess(app=App.from_model(app))

    @mutation(
        "app.delete",
        description="Undeploy an app, remove its folder from the platform repo in one commit, "
        "and delete it with its versions and releases. A Conflict while a release of it "
        "runs, or when undeploying fails (the app is kept: delete it again to finish).",
    )
    async def delete_app(self, info: Info, input: DeleteAppInput) -> DeleteAppResult:
        app = await info.context.deploy.teardown.delete_app(app_id(input.id, "id"))
        return DeleteAppSuccess(deleted_name=app.name)

    @mutation("app.set_secret", description="Set (or replace) a secret; its value is never shown.")
    async def set_app_secret(self, info: Info, input: SetAppSecretInput) -> AppResult:
        app = await info.context.apps.apps.set_secret(app_id(input.app), input.name, input.value)
        return AppSuccess(app=App.from_model(app))

    @mutation("app.delete_secret", description="Remove a secret.")
    async def delete_app_secret(self, info: Info, input: DeleteAppSecretInput) -> AppResult:
        app = await info.context.apps.apps.delete_secret(app_id(input.app), input.name)
        return AppSuccess(app=App.from_model(app))

    @mutation(
        "app.set_source_credential",
        description="Set (or replace) how builds sign in to the app's source repository.",
    )
    async def set_source_credential(self, info: Info, input: SetSourceCredentialInput) -> AppResult:
        given = from_row(SourceCredentialInput, input)
        app = await info.context.apps.source_credentials.set(app_id(input.app), given)
        return AppSuccess(app=App.from_model(app))

    @mutation(
        "app.source_webhook_secret",
        description="Make a new secret for the app's source push webhooks (shown once), "
        "and register the webhook on the app's repository when the git plugin can.",
    )
    async def new_source_webhook_secret(
        self, info: Info, input: NewSourceWebhookSecretInput
    ) -> SourceWebhookSecretResult:
        app, secret = await info.context.apps.apps.new_webhook_secret(app_id(input.app))
        hook = await info.context.deploy.source_hooks.register(app, secret)
        app_type = App.from_model(await info.context.apps.apps.get(app.id))
        return SourceWebhookSecretSuccess(
            app=app_type, secret=secret, registered=hook.registered, note=hook.note
        )

    @mutation("app.delete_source_credential", description="Remove the app's source credential.")
    async def delete_source_credential(
        self, info: Info, input: DeleteSourceCredentialInput
    ) -> AppResult:
        app = await info.context.apps.source_credentials.delete(app_id(input.app))
        return AppSuccess(app=App.from_model(app))
