"""Authentication: sign-up, login, token refresh, logout, bearer checks, password change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from home_idp.server.errors import AuthenticationFailed, Conflict, ValidationFailed
from home_idp.server.names import validate_username
from home_idp.server.rbac.access_changes import AccessChanges
from home_idp.server.rbac.api_tokens import revoke_all_api_tokens
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.models import ApiToken, User, UserSession, UserStatus
from home_idp.server.rbac.passwords import (
    MAX_PASSWORD_LENGTH,
    PasswordHashing,
    validate_password,
)
from home_idp.server.rbac.principal import SCOPES, Principal
from home_idp.server.rbac.sessions import (
    ClientInfo,
    SessionReason,
    end_sessions,
    rotate_session,
    start_session,
)
from home_idp.server.rbac.throttle import LoginThrottles
from home_idp.server.rbac.tokens import API_TOKEN_PREFIX, JwtCodec, hash_api_token
from home_idp.server.settings import AuthSettings

__all__ = ["Authenticator", "TokenPair"]

_BAD_CREDENTIALS = "wrong username or password"
_REFRESH_REFUSED = "the refresh token is invalid or expired; log in again"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class Authenticator:
    """Everything that turns credentials into a Principal, and back into tokens."""

    def __init__(
        self,
        codec: JwtCodec,
        hashing: PasswordHashing,
        audit: AuditLog,
        access_ttl: int,
        settings: AuthSettings | None = None,
        access: AccessChanges | None = None,
    ) -> None:
        self._codec = codec
        self._hashing = hashing
        self._audit = audit
        self._access_ttl = access_ttl
        # Live subscriptions of a session that ends here end with it.
        self._access = access
        self._settings = settings or AuthSettings()
        self._throttles = LoginThrottles.from_settings(self._settings)

    def issue_tokens(self, user: User, session: UserSession | None = None) -> TokenPair:
        """Tokens of `user`; without a session (tools, tests) the refresh token is refused."""
        session_id = session.id if session is not None else None
        generation = session.generation if session is not None else None
        return TokenPair(
            access_token=self._codec.issue(user.id, user.token_version, "access", session_id),
            refresh_token=self._codec.issue(
                user.id, user.token_version, "refresh", session_id, generation
            ),
            expires_in=self._access_ttl,
        )

    async def start_session(self, user: User, client: ClientInfo | None = None) -> TokenPair:
        """A new login session for `user` and its first pair of tokens."""
        session = await start_session(
            user,
            client or ClientInfo(),
            self._codec.refresh_ttl,
            self._settings.max_sessions_per_user,
        )
        return self.issue_tokens(user, session)

    async def sign_up(self, username: str, password: str, client: ClientInfo | None = None) -> User:
        """A new user starts pending and can do nothing until an admin approves."""
        validate_username(username)
        validate_password(password)
        # Every well-formed attempt counts, taken names too, so the address
        # can neither flood the user list nor probe it for names quickly.
        await self._throttles.sign_up_per_address.admit((client or ClientInfo()).address)
        password_hash = await self._hashing.hash(password)
        async with in_transaction():
            if await User.exists(username=username):
                raise Conflict(f"the username {username!r} is taken")
            user = await User.create(
                username=username, password_hash=password_hash, status=UserStatus.PENDING
            )
            await self._audit.record(username, "user.sign_up", f"user:{username}")
        return user

    async def login(
        self, username: str, password: str, client: ClientInfo | None = None
    ) -> TokenPair:
        if len(password) > MAX_PASSWORD_LENGTH or len(username) > 64:
            # No stored password is this long; refuse before argon2 spends
            # time on it (the answer does not depend on the user existing).
            raise AuthenticationFailed(_BAD_CREDENTIALS)
        client = client or ClientInfo()
        # Counted per typed-in username, known or not, and per address: the
        # answer and its cost are the same whether the user exists.
        await self._throttles.per_address.admit(client.address)
        await self._throttles.per_username.admit(username)
        user = await User.get_or_none(username=username)
        # Always verify, also for unknown users, so timing does not tell them apart.
        if not await self._hashing.verify(user.password_hash if user else None, password):
            await self._audit.record(username, "auth.login", f"user:{username}", outcome="failed")
            raise AuthenticationFailed(_BAD_CREDENTIALS)
        assert user is not None
        if self._hashing.needs_rehash(user.password_hash):
            # The cost setting changed since this hash was made: the typed
            # password is at hand only now, so this is when it moves over.
            user.password_hash = await self._hashing.hash(password)
            await user.save(update_fields=["password_hash"])
        await self._throttles.per_username.succeeded(username, forget=True)
        await self._throttles.per_address.succeeded(client.address, forget=False)
        if user.status is UserStatus.PENDING:
            raise AuthenticationFailed("your account is waiting for an administrator's approval")
        if user.status is UserStatus.DISABLED:
            raise AuthenticationFailed("your account is disabled")
        await self._audit.record(user.username, "auth.login", f"user:{user.username}")
        return await self.start_session(user, client)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the session's next refresh token replaces this one, which never works again.

        A refresh token that was already used revokes its whole session: one
        of the two holders is not its owner.
        """
        claims = self._codec.decode(refresh_token, "refresh")
        if claims is None or claims.session_id is None or claims.generation is None:
            raise AuthenticationFailed(_REFRESH_REFUSED)
        user = await User.get_or_none(id=claims.user_id)
        if (
            user is None
            or user.status is not UserStatus.ACTIVE
            or user.token_version != claims.token_version
        ):
            raise AuthenticationFailed(_REFRESH_REFUSED)
        rotation = await rotate_session(
            claims.session_id, user.id, claims.generation, self._codec.refresh_ttl
        )
        if rotation.reused:
            await self._audit.record(
                user.username,
                "auth.refresh",
                f"session:{claims.session_id}",
                outcome="denied",
                detail={"reason": "refresh token used twice; session revoked"},
            )
            await self._announce(user.id)
        if rotation.session is None:
            raise AuthenticationFailed(_REFRESH_REFUSED)
        await self._audit.record(user.username, "auth.refresh", f"session:{claims.session_id}")
        return self.issue_tokens(user, rotation.session)

    async def logout(self, principal: Principal, refresh_token: str | None) -> int:
        """End the session of `refresh_token`, else the caller's own; returns its id.

        The refresh token is enough on its own (the access token may have
        expired); any refresh token of the session ends it, an old one too.
        """
        session_id, user_id = principal.session_id, principal.user_id
        if refresh_token:
            claims = self._codec.decode(refresh_token, "refresh")
            if claims is None or claims.session_id is None:
                raise AuthenticationFailed(_REFRESH_REFUSED)
            session_id, user_id = claims.session_id, claims.user_id
        if session_id is None or user_id is None:
            raise AuthenticationFailed("this login has no session to end (an API token?)")
        ended = await UserSession.filter(id=session_id, user_id=user_id, revoked_at=None).update(
            revoked_at=datetime.now(UTC), revoke_reason=SessionReason.LOGOUT
        )
        if not ended:
            raise AuthenticationFailed("the session has already ended")
        user = await User.get_or_none(id=user_id)
        actor = user.username if user else f"user:{user_id}"
        await self._audit.record(actor, "auth.logout", f"session:{session_id}")
        await self._announce(user_id)
        return session_id

    async def change_password(
        self,
        principal: Principal,
        current_password: str,
        new_password: str,
        revoke_api_tokens: bool = False,
        client: ClientInfo | None = None,
    ) -> TokenPair:
        """Change one's own password; every session ends and the caller gets a new one.

        API tokens keep working unless `revoke_api_tokens` is set.
        """
        if principal.user_id is None or principal.via_api_token:
            raise AuthenticationFailed("log in with your password to change it")
        user = await User.get(id=principal.user_id)
        if not await self._hashing.verify(user.password_hash, current_password):
            raise AuthenticationFailed("the current password is wrong")
        validate_password(new_password, "newPassword")
        if current_password == new_password:
            raise ValidationFailed.for_field("newPassword", "must differ from the current one")
        async with in_transaction():
            user.password_hash = await self._hashing.hash(new_password)
            user.token_version += 1
            await user.save(update_fields=["password_hash", "token_version", "updated_at"])
            sessions = await end_sessions(user.id, SessionReason.PASSWORD_CHANGED)
            api_tokens = await revoke_all_api_tokens(user.id) if revoke_api_tokens else 0
            await self._audit.record(
                principal,
                "user.change_password",
                f"user:{user.username}",
                detail={"sessions_ended": sessions, "api_tokens_revoked": api_tokens},
            )
        await self._announce(user.id)
        return await self.start_session(user, client)

    async def _announce(self, user_id: int) -> None:
        if self._access is not None:
            await self._access.announce([user_id])

    async def authenticate_bearer(self, token: str) -> Principal | None:
        """The principal behind a JWT access token or an API token, else None."""
        if token.startswith(API_TOKEN_PREFIX):
            return await self._authenticate_api_token(token)
        claims = self._codec.decode(token, "access")
        if claims is None:
            return None
        if claims.session_id is not None:
            # An ended session (logout, revoked, refresh token reused) takes
            # its access tokens with it; one query for the session and user.
            session = await UserSession.get_or_none(
                id=claims.session_id, user_id=claims.user_id, revoked_at=None
            ).select_related("user")
            user = session.user if session is not None else None
        else:
            user = await User.get_or_none(id=claims.user_id)
        if (
            user is None
            or user.status is not UserStatus.ACTIVE
            or user.token_version != claims.token_version
        ):
            return None
        return Principal(user.id, user.username, user.is_admin, session_id=claims.session_id)

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
