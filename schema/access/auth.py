"""Sign-up, login, token refresh, logout and password change."""

from __future__ import annotations

from typing import Annotated, Self

import strawberry
from strawberry import relay

from home_idp.schema.access.types import User
from home_idp.schema.core.client_info import client_info
from home_idp.schema.core.context import Info
from home_idp.schema.core.errors import Error, ErrorTypes
from home_idp.schema.core.from_row import from_row
from home_idp.schema.core.mutations import mutation
from home_idp.server import errors as domain
from home_idp.server.rbac.auth import TokenPair
from home_idp.server.rbac.sessions import ClientInfo

__all__ = ["AuthMutation"]


@strawberry.type(description="A short-lived access token and the refresh token that renews it.")
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int = strawberry.field(description="Seconds until the access token expires.")

    @classmethod
    def from_pair(cls, pair: TokenPair) -> Tokens:
        return from_row(cls, pair)


@strawberry.type(description="Too many attempts from this username or address; wait, then retry.")
class TooManyAttempts(Error):
    retry_after_seconds: int

    @classmethod
    def of(cls, error: domain.TooManyAttempts) -> Self:
        return cls(message=error.message, retry_after_seconds=error.retry_after_seconds)


def _client(info: Info) -> ClientInfo:
    return client_info(info.context.request, info.context.runtime.settings.auth.trusted_proxies)


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
    revoke_api_tokens: bool = strawberry.field(
        default=False, description="Also revoke every API token you have."
    )


@strawberry.input(description="Which session to end: the refresh token's, else this request's.")
class LogoutInput:
    refresh_token: str | None = None


@strawberry.type
class LogoutSuccess:
    session_id: relay.GlobalID = strawberry.field(description="The session that ended.")


SignUpResult = Annotated[
    SignUpSuccess | TooManyAttempts | ErrorTypes, strawberry.union("SignUpResult")
]
LoginResult = Annotated[Tokens | TooManyAttempts | ErrorTypes, strawberry.union("LoginResult")]
LogoutResult = Annotated[LogoutSuccess | ErrorTypes, strawberry.union("LogoutResult")]
RefreshTokenResult = Annotated[Tokens | ErrorTypes, strawberry.union("RefreshTokenResult")]
ChangePasswordResult = Annotated[Tokens | ErrorTypes, strawberry.union("ChangePasswordResult")]


@strawberry.type
class AuthMutation:
    @mutation("user.sign_up", description="Create an account; it waits for an admin's approval.")
    async def sign_up(self, info: Info, input: SignUpInput) -> SignUpResult:
        try:
            user = await info.context.rbac.auth.sign_up(
                input.username, input.password, _client(info)
            )
        except domain.TooManyAttempts as error:
            return TooManyAttempts.of(error)
        return SignUpSuccess(
            user=User.from_model(user),
            message="account created; an administrator must approve it before you can log in",
        )

    @mutation(
        "auth.login",
        description="Exchange a username and password for tokens; this starts a session.",
    )
    async def login(self, info: Info, input: LoginInput) -> LoginResult:
        try:
            pair = await info.context.rbac.auth.login(input.username, input.password, _client(info))
        except domain.TooManyAttempts as error:
            return TooManyAttempts.of(error)
        return Tokens.from_pair(pair)

    @mutation(
        "auth.logout",
        description="End a session on the server: its refresh and access tokens stop working.",
    )
    async def logout(self, info: Info, input: LogoutInput) -> LogoutResult:
        session_id = await info.context.rbac.auth.logout(
            info.context.principal, input.refresh_token
        )
        return LogoutSuccess(session_id=relay.GlobalID("Session", str(session_id)))

    @mutation(
        "auth.refresh",
        description="Exchange a refresh token for a new pair of tokens. Each refresh token "
        "works once; using one again ends its session.",
    )
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> RefreshTokenResult:
        return Tokens.from_pair(await info.context.rbac.auth.refresh(input.refresh_token))

    @mutation(
        "user.change_password",
        description="Change your password. Every session ends (you get a new one); API "
        "tokens keep working unless revokeApiTokens is set.",
    )
    async def change_password(self, info: Info, input: ChangePasswordInput) -> ChangePasswordResult:
        context = info.context
        pair = await context.rbac.auth.change_password(
            context.principal,
            input.current_password,
            input.new_password,
            input.revoke_api_tokens,
            _client(info),
        )
        return Tokens.from_pair(pair)
