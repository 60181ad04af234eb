"""Authentication: sign-up, login, token refresh, bearer checks, password change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from home_idp.server.errors import AuthenticationFailed, Conflict, ValidationFailed
from home_idp.server.names import validate_username
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.models import ApiToken, User, UserStatus
from home_idp.server.rbac.passwords import (
    MAX_PASSWORD_LENGTH,
    PasswordHashing,
    validate_password,
)
from home_idp.server.rbac.principal import SCOPES, Principal
from home_idp.server.rbac.tokens import API_TOKEN_PREFIX, JwtCodec, hash_api_token

__all__ = ["Authenticator", "TokenPair"]

_BAD_CREDENTIALS = "wrong username or password"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class Authenticator:
    """Everything that turns credentials into a Principal, and back into tokens."""

    def __init__(
        self, codec: JwtCodec, hashing: PasswordHashing, audit: AuditLog, access_ttl: int
    ) -> None:
        self._codec = codec
        self._hashing = hashing
        self._audit = audit
        self._access_ttl = access_ttl

    def issue_tokens(self, user: User) -> TokenPair:
        return TokenPair(
            access_token=self._codec.issue(user.id, user.token_version, "access"),
            refresh_token=self._codec.issue(user.id, user.token_version, "refresh"),
            expires_in=self._access_ttl,
        )

    async def sign_up(self, username: str, password: str) -> User:
        """A new user starts pending and can do nothing until an admin approves."""
        validate_username(username)
        validate_password(password)
        password_hash = self._hashing.hash(password)
        async with in_transaction():
            if await User.exists(username=username):
                raise Conflict(f"the username {username!r} is taken")
            user = await User.create(
                username=username, password_hash=password_hash, status=UserStatus.PENDING
            )
            await self._audit.record(username, "user.sign_up", f"user:{username}")
        return user

    async def login(self, username: str, password: str) -> TokenPair:
        if len(password) > MAX_PASSWORD_LENGTH or len(username) > 64:
            # No stored password is this long; refuse before argon2 spends
            # time on it (the answer does not depend on the user existing).
            raise AuthenticationFailed(_BAD_CREDENTIALS)
        user = await User.get_or_none(username=username)
        # Always verify, also for unknown users, so timing does not tell them apart.
        if not self._hashing.verify(user.password_hash if user else None, password):
            await self._audit.record(username, "auth.login", f"user:{username}", outcome="failed")
            raise AuthenticationFailed(_BAD_CREDENTIALS)
        assert user is not None
        if user.status is UserStatus.PENDING:
            raise AuthenticationFailed("your account is waiting for an administrator's approval")
        if user.status is UserStatus.DISABLED:
            raise AuthenticationFailed("your account is disabled")
        await self._audit.record(user.username, "auth.login", f"user:{user.username}")
        return self.issue_tokens(user)

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self._codec.decode(refresh_token, "refresh")
        user = await User.get_or_none(id=claims.user_id) if claims else None
        if (
            claims is None
            or user is None
            or user.status is not UserStatus.ACTIVE
            or user.token_version != claims.token_version
        ):
            raise AuthenticationFailed("the refresh token is invalid or expired; log in again")
        await self._audit.record(user.username, "auth.refresh", f"user:{user.username}")
        return self.issue_tokens(user)

    async def change_password(
        self, principal: Principal, current_password: str, new_password: str
    ) -> TokenPair:
        """Change one's own password; every token issued before stops working."""
        if principal.user_id is None or principal.via_api_token:
            raise AuthenticationFailed("log in with your password to change it")
        user = await User.get(id=principal.user_id)
        if not self._hashing.verify(user.password_hash, current_password):
            raise AuthenticationFailed("the current password is wrong")
        validate_password(new_password, "newPassword")
        if current_password == new_password:
            raise ValidationFailed.for_field("newPassword", "must differ from the current one")
        async with in_transaction():
            user.password_hash = self._hashing.hash(new_password)
            user.token_version += 1
            await user.save(update_fields=["password_hash", "token_version", "updated_at"])
            await self._audit.record(principal, "user.change_password", f"user:{user.username}")
        return self.issue_tokens(user)

    async def authenticate_bearer(self, token: str) -> Principal | None:
        """The principal behind a JWT access token or an API token, else None."""
        if token.startswith(API_TOKEN_PREFIX):
            return await self._authenticate_api_token(token)
        claims = self._codec.decode(token, "access")
        if claims is None:
            return None
        user = await User.get_or_none(id=claims.user_id)
        if (
            user is None
            or user.status is not UserStatus.ACTIVE
            or user.token_version != claims.token_version
        ):
            return None
        return Principal(user.id, user.username, user.is_admin)

    async def _authenticate_api_token(self, token: str) -> Principal | None:
        api_token = await ApiToken.get_or_none(
            token_hash=hash_api_token(token), revoked_at=None
        ).select_related("user")
        if api_token is None:
            return None
        now = datetime.now(UTC)
        if api_token.expires_at is not None and api_token.expires_at <= now:
            return None
        user = api_token.user
        if user.status is not UserStatus.ACTIVE:
            return None
        # Coarse last-used stamp: one write per token per minute at most.
        if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
            await ApiToken.filter(id=api_token.id).update(last_used_at=now)
        scopes = frozenset(s for s in api_token.scopes if s in SCOPES)
        return Principal(user.id, user.username, user.is_admin, scopes, via_api_token=True)
