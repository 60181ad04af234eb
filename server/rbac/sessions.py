"""Login sessions: each is a family of refresh tokens, rotated on every use.

A refresh token names its session and its generation. Refreshing moves the
session to the next generation, so every refresh token works once; an older
one presented again means a copy is in someone else's hands, and the whole
session is revoked (reuse detection). Logging out, revoking a session, a
password change and a disable end sessions on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from home_idp.server.errors import Conflict, NotFound
from home_idp.server.rbac.caller_service import CallerService
from home_idp.server.rbac.models import User, UserSession

__all__ = [
    "ClientInfo",
    "Rotation",
    "SessionReason",
    "Sessions",
    "end_sessions",
    "live_sessions",
    "rotate_session",
    "start_session",
]

_MAX_ADDRESS = 64
_MAX_USER_AGENT = 200


class SessionReason:
    """Why a session ended, as stored in `revoke_reason`."""

    LOGOUT = "logout"
    REVOKED = "revoked"
    REUSE = "refresh_token_reused"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a secret
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a reason, not a secret
    DISABLED = "user_disabled"
    ROLE_CHANGED = "admin_role_changed"
    TOO_MANY = "too_many_sessions"


@dataclass(frozen=True)
class ClientInfo:
    """Where a login came from, as far as the server can tell."""

    address: str = ""
    user_agent: str = ""

    def clipped(self) -> ClientInfo:
        return ClientInfo(self.address[:_MAX_ADDRESS], self.user_agent[:_MAX_USER_AGENT])


@dataclass(frozen=True)
class Rotation:
    """The outcome of presenting a refresh token."""

    session: UserSession | None
    # True when an already-used refresh token came back and the session was revoked.
    reused: bool = False


def live_sessions(user_id: int) -> QuerySet[UserSession]:
    """A user's sessions that still accept their refresh token."""
    return UserSession.filter(user_id=user_id, revoked_at=None, expires_at__gt=datetime.now(UTC))


async def start_session(
    user: User, client: ClientInfo, refresh_ttl: int, max_sessions: int
) -> UserSession:
    """A new session at generation 1; the user's oldest end beyond `max_sessions`."""
    now = datetime.now(UTC)
    client = client.clipped()
    async with in_transaction():
        # Expired sessions are of no further use; keep the table small.
        await UserSession.filter(user_id=user.id, expires_at__lte=now).delete()
        session = await UserSession.create(
            user_id=user.id,
            client_address=client.address,
            user_agent=client.user_agent,
            last_used_at=now,
            expires_at=now + timedelta(seconds=refresh_ttl),
        )
        surplus = (
            await live_sessions(user.id)
            .order_by("-last_used_at", "-id")
            .offset(max_sessions)
            .values_list("id", flat=True)
        )
        if surplus:
            await UserSession.filter(id__in=list(surplus)).update(
                revoked_at=now, revoke_reason=SessionReason.TOO_MANY
            )
    return session


async def rotate_session(
    session_id: int, user_id: int, generation: int, refresh_ttl: int
) -> Rotation:
    """Move a session past `generation`, or revoke it when that token was used before."""
    now = datetime.now(UTC)
    # One conditional update: of two requests with the same token, one wins.
    moved = await UserSession.filter(
        id=session_id,
        user_id=user_id,
        generation=generation,
        revoked_at=None,
        expires_at__gt=now,
    ).update(
        generation=generation + 1,
        last_used_at=now,
        expires_at=now + timedelta(seconds=refresh_ttl),
    )
    if moved:
        return Rotation(await UserSession.get(id=session_id))
    session = await UserSession.get_or_none(id=session_id, user_id=user_id)
    if session is None or session.revoked_at is not None or generation >= session.generation:
        return Rotation(None)
    await UserSession.filter(id=session_id, revoked_at=None).update(
        revoked_at=now, revoke_reason=SessionReason.REUSE
    )
    return Rotation(None, reused=True)


async def end_sessions(user_id: int, reason: str) -> int:
    """End every live session of a user; returns how many ended."""
    return await UserSession.filter(user_id=user_id, revoked_at=None).update(
        revoked_at=datetime.now(UTC), revoke_reason=reason
    )


class Sessions(CallerService):
    """The caller's own login sessions: list them, end one."""

    def mine(self) -> QuerySet[UserSession]:
        principal = self._authz.require_user()
        assert principal.user_id is not None
        return live_sessions(principal.user_id)

    async def revoke(self, session_id: int) -> UserSession:
        """End one of one's own sessions; its tokens stop working at once."""
        principal = self._authz.require_write()
        async with in_transaction():
            session = await UserSession.get_or_none(id=session_id, user_id=principal.user_id)
            if session is None:
                # Someone else's session is as invisible as a missing one.
                raise NotFound("no such session")
            if session.revoked_at is not None:
                raise Conflict("the session has already ended")
            session.revoked_at = datetime.now(UTC)
            session.revoke_reason = SessionReason.REVOKED
            await session.save(update_fields=["revoked_at", "revoke_reason"])
            await self._audit.record(principal, "session.revoke", f"session:{session.id}")
        # Its live subscriptions end too (after the commit, on every replica).
        assert principal.user_id is not None
        await self._access.announce([principal.user_id])
        return session
