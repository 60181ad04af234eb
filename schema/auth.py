"""Sign-up, login, token refresh, logout and password change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import strawberry
from strawberry import relay

from home_idp.schema.client_info import client_info
from home_idp.schema.context import Info
from home_idp.schema.errors import Error, ErrorTypes, run_mutation
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.rbac_types import User
from home_idp.server import errors as domain
from home_idp.server.rbac.auth import TokenPair
from home_idp.server.rbac.sessions import ClientInfo

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


T = TypeVar("T")


@strawberry.type(description="Too many attempts from this username or address; wait, then retry.")
class TooManyAttempts(Error):
    retry_after_seconds: int


async def _throttled(body: Callable[[], Awaitable[T]]) -> T | TooManyAttempts:
    """Run `body`, turning a throttled attempt into its own typed answer."""
    try:
        return await body()
    except domain.TooManyAttempts as error:
        return TooManyAttempts(message=error.message, retry_after_seconds=error.retry_after_seconds)


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
            user = await info.context.rbac.auth.sign_up(
                input.username, input.password, _client(info)
            )
            return SignUpSuccess(
                user=User.from_model(user),
                message="account created; an administrator must approve it before you can log in",
            )

        return await run_mutation(info, "user.sign_up", lambda: _throttled(body))

    @strawberry.mutation(
        description="Exchange a username and password for tokens; this starts a session."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginResult:
        async def body() -> Tokens:
            return Tokens.from_pair(
                await info.context.rbac.auth.login(input.username, input.password, _client(info))
            )

        return await run_mutation(info, "auth.login", lambda: _throttled(body))

    @strawberry.mutation(
        description="End a session on the server: its refresh and access tokens stop working."
    )
    async def logout(self, info: Info, input: LogoutInput) -> LogoutResult:
        async def body() -> LogoutSuccess:
            session_id = await info.context.rbac.auth.logout(
                info.context.principal, input.refresh_token
            )
            return LogoutSuccess(session_id=relay.GlobalID("Session", str(session_id)))

        return await run_mutation(info, "auth.logout", body)

    @strawberry.mutation(
        description="Exchange a refresh token for a new pair of tokens. Each refresh token "
        "works once; using one again ends its session."
    )
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> RefreshTokenResult:
        async def body() -> Tokens:
            return Tokens.from_pair(await info.context.rbac.auth.refresh(input.refresh_token))

        return await run_mutation(info, "auth.refresh", body)

    @strawberry.mutation(
        description="Change your password. Every session ends (you get a new one); API "
        "tokens keep working unless revokeApiTokens is set."
    )
    async def change_password(self, info: Info, input: ChangePasswordInput) -> ChangePasswordResult:
        async def body() -> Tokens:
            context = info.context
            pair = await context.rbac.auth.change_password(
                context.principal,
                input.current_password,
                input.new_password,
                input.revoke_api_tokens,
                _client(info),
            )
            return Tokens.from_pair(pair)

        return await run_mutation(info, "user.change_password", body)
