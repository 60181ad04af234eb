"""User administration: approve, disable, enable, delete, reset password, grant admin."""

from __future__ import annotations

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from home_idp.server.errors import Conflict, NotFound
from home_idp.server.names import validate_username
from home_idp.server.rbac.access_changes import AccessChanges
from home_idp.server.rbac.api_tokens import revoke_all_api_tokens
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.rbac.caller_service import CallerService
from home_idp.server.rbac.models import User, UserStatus
from home_idp.server.rbac.passwords import PasswordHashing, validate_password
from home_idp.server.rbac.sessions import SessionReason, end_sessions

__all__ = ["UserAdmin", "create_admin"]


class UserAdmin(CallerService):
    """Administrator-only operations on users."""

    def __init__(
        self,
        authz: Authorizer,
        hashing: PasswordHashing,
        audit: AuditLog,
        access: AccessChanges,
    ) -> None:
        super().__init__(authz, audit, access)
        self._hashing = hashing

    def list(self, status: UserStatus | None = None) -> QuerySet[User]:
        self._authz.require_admin()
        query = User.all()
        return query.filter(status=status) if status else query

    async def get(self, user_id: int) -> User:
        self._authz.require_admin()
        return await _get_user(user_id)

    async def approve(self, user_id: int) -> User:
        return await self._set_status(
            user_id, UserStatus.ACTIVE, "user.approve", {UserStatus.PENDING}
        )

    async def enable(self, user_id: int) -> User:
        return await self._set_status(
            user_id, UserStatus.ACTIVE, "user.enable", {UserStatus.DISABLED}
        )

    async def disable(self, user_id: int) -> User:
        return await self._set_status(
            user_id, UserStatus.DISABLED, "user.disable", {UserStatus.ACTIVE, UserStatus.PENDING}
        )

    async def _set_status(
        self, user_id: int, status: UserStatus, action: str, allowed_from: set[UserStatus]
    ) -> User:
        principal = self._authz.require_admin()
        self._authz.require_write()
        async with in_transaction():
            user = await _get_user(user_id)
            if user.status not in allowed_from:
                raise Conflict(f"user {user.username!r} is {user.status.value}")
            detail: dict[str, object] = {}
            if status is UserStatus.DISABLED:
                await _keep_one_admin(user)
                user.token_version += 1  # kill every session at once
                # Enabling again must not bring old credentials back to life.
                detail["sessions_ended"] = await end_sessions(user.id, SessionReason.DISABLED)
                detail["api_tokens_revoked"] = await revoke_all_api_tokens(user.id)
            user.status = status
            await user.save(update_fields=["status", "token_version", "updated_at"])
            await self._audit.record(principal, action, f"user:{user.username}", detail=detail)
        await self._access.announce([user.id])
        return user

    async def delete(self, user_id: int) -> str:
        """Delete a user with their memberships and API tokens; returns the username."""
        principal = self._authz.require_admin()
        self._authz.require_write()
        async with in_transaction():
            user = await _get_user(user_id)
            await _keep_one_admin(user)
            user_id = user.id
            await user.delete()  # memberships and tokens cascade
            await self._audit.record(principal, "user.delete", f"user:{user.username}")
        await self._access.announce([user_id])
        return user.username

    async def reset_password(self, user_id: int, new_password: str) -> User:
        principal = self._authz.require_admin()
        self._authz.require_write()
        validate_password(new_password, "newPassword")
        password_hash = await self._hashing.hash(new_password)
        async with in_transaction():
            user = await _get_user(user_id)
            user.password_hash = password_hash
            user.token_version += 1
            await user.save(update_fields=["password_hash", "token_version", "updated_at"])
            # A reset means the account may be in the wrong hands: every
            # credential made with the old password goes.
            sessions = await end_sessions(user.id, SessionReason.PASSWORD_RESET)
            api_tokens = await revoke_all_api_tokens(user.id)
            await self._audit.record(
                principal,
                "user.reset_password",
                f"user:{user.username}",
                detail={"sessions_ended": sessions, "api_tokens_revoked": api_tokens},
            )
        await self._access.announce([user.id])
        return user

    async def set_admin(self, user_id: int, is_admin: bool) -> User:
        principal = self._authz.require_admin()
        self._authz.require_write()
        async with in_transaction():
            user = await _get_user(user_id)
            if user.is_admin == is_admin:
                return user
            if is_admin and user.status is not UserStatus.ACTIVE:
                raise Conflict(f"user {user.username!r} must be active to become an admin")
            if not is_admin:
                await _keep_one_admin(user)
            user.is_admin = is_admin
            user.token_version += 1  # tokens carry no role, but sessions restart cleanly
            await user.save(update_fields=["is_admin", "token_version", "updated_at"])
            await end_sessions(user.id, SessionReason.ROLE_CHANGED)
            await self._audit.record(
                principal, "user.set_admin", f"user:{user.username}", detail={"admin": is_admin}
            )
        await self._access.announce([user.id])
        return user


async def _get_user(user_id: int) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound("no such user")
    return user


async def _keep_one_admin(user: User) -> None:
    """Refuse to remove the last active administrator, which would lock everyone out."""
    if not (user.is_admin and user.status is UserStatus.ACTIVE):
        return
    others = await User.filter(is_admin=True, status=UserStatus.ACTIVE).exclude(id=user.id).count()
    if others == 0:
        raise Conflict("this is the last active administrator; make another admin first")


async def create_admin(
    username: str, password: str, hashing: PasswordHashing, audit: AuditLog
) -> User:
    """Bootstrap an active administrator (the CLI's `admin create`)."""
    validate_username(username)
    validate_password(password)
    password_hash = await hashing.hash(password)
    async with in_transaction():
        if await User.exists(username=username):
            raise Conflict(f"the username {username!r} is taken")
        user = await User.create(
            username=username,
            password_hash=password_hash,
            status=UserStatus.ACTIVE,
            is_admin=True,
        )
        await audit.record("cli", "user.create_admin", f"user:{username}")
    return user
