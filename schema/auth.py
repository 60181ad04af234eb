"""Sign-up, login, token refresh and password change."""

from __future__ import annotations

from typing import Annotated

import strawberry

from home_idp.schema.context import Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.rbac_types import User
from home_idp.server.rbac.auth import TokenPair

__all__ = ["AuthMutation", "AuthQuery"]


@strawberry.type(description="A short-lived access token and the refresh token that renews it.")
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int = strawberry.field(description="Seconds until the access token expires.")

    @classmethod
    def from_pair(cls, pair: TokenPair) -> Tokens:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
        )


@strawberry.type
class SignUpSuccess:
    user: User
    message: str


@strawberry.input
class SignUpInput:
    username: str
    password: str


@strawberry.input
class LoginInput:
    username: str
    password: str


@strawberry.input
class RefreshTokenInput:
    refresh_token: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


SignUpResult = Annotated[SignUpSuccess | ErrorTypes, strawberry.union("SignUpResult")]
LoginResult = Annotated[Tokens | ErrorTypes, strawberry.union("LoginResult")]
RefreshTokenResult = Annotated[Tokens | ErrorTypes, strawberry.union("RefreshTokenResult")]
ChangePasswordResult = Annotated[Tokens | ErrorTypes, strawberry.union("ChangePasswordResult")]


@strawberry.type
class AuthQuery:
    @strawberry.field(description="The logged-in user.", permission_classes=[IsAuthenticated])
    async def me(self, info: Info) -> User:
        user = await info.context.loaders.user.load(info.context.principal.user_id or 0)
        assert user is not None  # the authentication middleware just loaded it
        return User.from_model(user)


@strawberry.type
class AuthMutation:
    @strawberry.mutation(description="Create an account; it waits for an admin's approval.")
    async def sign_up(self, info: Info, input: SignUpInput) -> SignUpResult:
        async def body() -> SignUpSuccess:
            user = await info.context.rbac.auth.sign_up(input.username, input.password)
            return SignUpSuccess(
                user=User.from_model(user),
                message="account created; an administrator must approve it before you can log in",
            )

        return await run_mutation(info, "user.sign_up", body)

    @strawberry.mutation(description="Exchange a username and password for tokens.")
    async def login(self, info: Info, input: LoginInput) -> LoginResult:
        async def body() -> Tokens:
            return Tokens.from_pair(
                await info.context.rbac.auth.login(input.username, input.password)
            )

        return await run_mutation(info, "auth.login", body)

    @strawberry.mutation(description="Exchange a refresh token for a new pair of tokens.")
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> RefreshTokenResult:
        async def body() -> Tokens:
            return Tokens.from_pair(await info.context.rbac.auth.refresh(input.refresh_token))

        return await run_mutation(info, "auth.refresh", body)

    @strawberry.mutation(
        description="Change your password. Every other session and token pair stops working."
    )
    async def change_password(self, info: Info, input: ChangePasswordInput) -> ChangePasswordResult:
        async def body() -> Tokens:
            context = info.context
            pair = await context.rbac.auth.change_password(
                context.principal, input.current_password, input.new_password
            )
            return Tokens.from_pair(pair)

        return await run_mutation(info, "user.change_password", body)
