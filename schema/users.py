"""User administration (admins only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from strawberry import relay

from home_idp.schema.context import Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.permissions import IsAdmin
from home_idp.schema.rbac_types import User, UserStatus
from home_idp.schema.relay import Connection, check_page_size, connection_from_queryset, decode_id
from home_idp.server.rbac import models

__all__ = ["UserMutation", "UserQuery"]


@strawberry.type
class UserSuccess:
    user: User


@strawberry.type
class DeleteUserSuccess:
    deleted_username: str


@strawberry.input(description="Names one user.")
class UserInput:
    user_id: relay.GlobalID


@strawberry.input
class ResetPasswordInput:
    user_id: relay.GlobalID
    new_password: str


@strawberry.input
class SetUserAdminInput:
    user_id: relay.GlobalID
    admin: bool


UserResult = Annotated[UserSuccess | ErrorTypes, strawberry.union("UserResult")]
DeleteUserResult = Annotated[DeleteUserSuccess | ErrorTypes, strawberry.union("DeleteUserResult")]


@strawberry.type
class UserQuery:
    @strawberry.field(description="All users, oldest first.", permission_classes=[IsAdmin])
    async def users(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        status: UserStatus | None = None,
    ) -> Connection[User]:
        check_page_size(first, info.context.max_page_size)
        query = info.context.rbac.users.list(models.UserStatus(status.value) if status else None)
        return await connection_from_queryset(query, first, after, User.from_model)


async def _change_user(
    info: Info, name: str, user_id: relay.GlobalID, change: Callable[[int], Awaitable[models.User]]
) -> UserSuccess | ErrorTypes:
    async def body() -> UserSuccess:
        user = await change(decode_id(user_id, "User", "userId"))
        return UserSuccess(user=User.from_model(user))

    return await run_mutation(info, name, body)


@strawberry.type
class UserMutation:
    @strawberry.mutation(description="Let a pending user in.")
    async def approve_user(self, info: Info, input: UserInput) -> UserResult:
        return await _change_user(
            info, "user.approve", input.user_id, info.context.rbac.users.approve
        )

    @strawberry.mutation(description="Lock a user out; their tokens stop working at once.")
    async def disable_user(self, info: Info, input: UserInput) -> UserResult:
        return await _change_user(
            info, "user.disable", input.user_id, info.context.rbac.users.disable
        )

    @strawberry.mutation(description="Let a disabled user back in.")
    async def enable_user(self, info: Info, input: UserInput) -> UserResult:
        return await _change_user(
            info, "user.enable", input.user_id, info.context.rbac.users.enable
        )

    @strawberry.mutation(description="Delete a user, their memberships and API tokens.")
    async def delete_user(self, info: Info, input: UserInput) -> DeleteUserResult:
        async def body() -> DeleteUserSuccess:
            name = await info.context.rbac.users.delete(decode_id(input.user_id, "User", "userId"))
            return DeleteUserSuccess(deleted_username=name)

        return await run_mutation(info, "user.delete", body)

    @strawberry.mutation(description="Set a new password for a user; their sessions end.")
    async def reset_user_password(self, info: Info, input: ResetPasswordInput) -> UserResult:
        async def body() -> UserSuccess:
            user = await info.context.rbac.users.reset_password(
                decode_id(input.user_id, "User", "userId"), input.new_password
            )
            return UserSuccess(user=User.from_model(user))

        return await run_mutation(info, "user.reset_password", body)

    @strawberry.mutation(description="Grant or take away the global admin role.")
    async def set_user_admin(self, info: Info, input: SetUserAdminInput) -> UserResult:
        async def body() -> UserSuccess:
            user = await info.context.rbac.users.set_admin(
                decode_id(input.user_id, "User", "userId"), input.admin
            )
            return UserSuccess(user=User.from_model(user))

        return await run_mutation(info, "user.set_admin", body)
