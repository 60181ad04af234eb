"""Mutations on an app's source credential: a token or a deploy key for its source repo."""

from __future__ import annotations

import strawberry
from strawberry import relay

from home_idp.schema.apps import App, AppResult, AppSuccess, app_id
from home_idp.schema.context import Info
from home_idp.schema.errors import run_mutation
from home_idp.server.apps.source_credentials import SourceCredentialInput

__all__ = ["SourceCredentialMutation"]


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


@strawberry.type
class SourceCredentialMutation:
    @strawberry.mutation(
        description="Set (or replace) how builds sign in to the app's source repository."
    )
    async def set_source_credential(self, info: Info, input: SetSourceCredentialInput) -> AppResult:
        async def body() -> AppSuccess:
            given = SourceCredentialInput(
                username=input.username,
                token=input.token,
                ssh_private_key=input.ssh_private_key,
                ssh_known_hosts=input.ssh_known_hosts,
            )
            app = await info.context.apps.source_credentials.set(app_id(input.app), given)
            return AppSuccess(app=App.from_model(app))

        return await run_mutation(info, "app.set_source_credential", body)

    @strawberry.mutation(description="Remove the app's source credential.")
    async def delete_source_credential(
        self, info: Info, input: DeleteSourceCredentialInput
    ) -> AppResult:
        async def body() -> AppSuccess:
            app = await info.context.apps.source_credentials.delete(app_id(input.app))
            return AppSuccess(app=App.from_model(app))

        return await run_mutation(info, "app.delete_source_credential", body)
