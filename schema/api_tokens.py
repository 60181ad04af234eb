"""API tokens of the caller."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from home_idp.schema.context import Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.rbac_types import ApiToken
from home_idp.schema.relay import Connection, check_page_size, connection_from_queryset, decode_id

__all__ = ["ApiTokenMutation", "ApiTokenQuery"]


@strawberry.input
class CreateApiTokenInput:
    name: str
    scopes: list[str] | None = strawberry.field(
        default=None, description="read and/or write; both when omitted."
    )
    expires_in_days: int | None = strawberry.field(default=None, description="Never when omitted.")


@strawberry.input
class RevokeApiTokenInput:
    id: relay.GlobalID


@strawberry.type
class CreateApiTokenSuccess:
    api_token: ApiToken
    token: str = strawberry.field(description="The secret. Shown this once; store it now.")


@strawberry.type
class RevokeApiTokenSuccess:
    api_token: ApiToken


CreateApiTokenResult = Annotated[
    CreateApiTokenSuccess | ErrorTypes, strawberry.union("CreateApiTokenResult")
]
RevokeApiTokenResult = Annotated[
    RevokeApiTokenSuccess | ErrorTypes, strawberry.union("RevokeApiTokenResult")
]


@strawberry.type
class ApiTokenQuery:
    @strawberry.field(description="Your API tokens.", permission_classes=[IsAuthenticated])
    async def api_tokens(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[ApiToken]:
        check_page_size(first, info.context.max_page_size)
        return await connection_from_queryset(
            info.context.rbac.api_tokens.mine(), first, after, ApiToken.from_model
        )


@strawberry.type
class ApiTokenMutation:
    @strawberry.mutation(description="Create an API token; the answer holds its secret once.")
    async def create_api_token(
        self, info: Info, input: CreateApiTokenInput
    ) -> CreateApiTokenResult:
        async def body() -> CreateApiTokenSuccess:
            created = await info.context.rbac.api_tokens.create(
                input.name, input.scopes, input.expires_in_days
            )
            return CreateApiTokenSuccess(
                api_token=ApiToken.from_model(created.api_token), token=created.secret
            )

        return await run_mutation(info, "api_token.create", body)

    @strawberry.mutation(description="Revoke an API token; it stops working at once.")
    async def revoke_api_token(
        self, info: Info, input: RevokeApiTokenInput
    ) -> RevokeApiTokenResult:
        async def body() -> RevokeApiTokenSuccess:
            token = await info.context.rbac.api_tokens.revoke(decode_id(input.id, "ApiToken"))
            return RevokeApiTokenSuccess(api_token=ApiToken.from_model(token))

        return await run_mutation(info, "api_token.revoke", body)
