"""The caller's login sessions: list them and end one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Self

import strawberry
from strawberry import relay

from home_idp.schema.context import Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.relay import (
    Connection,
    check_page_size,
    connection_from_queryset,
    decode_id,
    resolve_visible_nodes,
)
from home_idp.server.rbac import models

__all__ = ["Session", "SessionMutation", "SessionQuery"]


@strawberry.type(
    description="A login on one client. Its refresh token changes at every renewal; "
    "an old one presented again ends the session."
)
class Session(relay.Node):
    id: relay.NodeID[int]
    client_address: str = strawberry.field(description="Where the login came from.")
    user_agent: str
    created_at: datetime
    last_used_at: datetime = strawberry.field(description="When its token was last renewed.")
    expires_at: datetime = strawberry.field(description="When it ends unless renewed.")
    current: bool = strawberry.field(description="Whether this request belongs to it.")

    @classmethod
    def from_model(cls, session: models.UserSession, current_id: int | None) -> Self:
        return cls(
            id=session.id,
            client_address=session.client_address,
            user_agent=session.user_agent,
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            expires_at=session.expires_at,
            current=session.id == current_id,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        principal = info.context.principal

        async def allowed(session: models.UserSession) -> bool:
            return principal.is_authenticated and session.user_id == principal.user_id

        return await resolve_visible_nodes(
            models.UserSession,
            node_ids,
            lambda session: cls.from_model(session, principal.session_id),
            allowed,
        )


@strawberry.input(description="Names one of your sessions.")
class RevokeSessionInput:
    id: relay.GlobalID


@strawberry.type
class RevokeSessionSuccess:
    session: Session


RevokeSessionResult = Annotated[
    RevokeSessionSuccess | ErrorTypes, strawberry.union("RevokeSessionResult")
]


@strawberry.type
class SessionQuery:
    @strawberry.field(
        description="Your sessions that are still open, newest first.",
        permission_classes=[IsAuthenticated],
    )
    async def sessions(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Session]:
        check_page_size(first, info.context.max_page_size)
        current = info.context.principal.session_id
        return await connection_from_queryset(
            info.context.rbac.sessions.mine(),
            first,
            after,
            lambda session: Session.from_model(session, current),
            newest_first=True,
        )


@strawberry.type
class SessionMutation:
    @strawberry.mutation(
        description="End one of your sessions; its tokens stop working at once.",
    )
    async def revoke_session(self, info: Info, input: RevokeSessionInput) -> RevokeSessionResult:
        async def body() -> RevokeSessionSuccess:
            session = await info.context.rbac.sessions.revoke(decode_id(input.id, "Session", "id"))
            return RevokeSessionSuccess(
                session=Session.from_model(session, info.context.principal.session_id)
            )

        return await run_mutation(info, "session.revoke", body)
