"""The audit log: a filtered query and a live, resumable subscription."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterable
from datetime import datetime
from typing import Self, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from home_idp.schema.context import Context, Info
from home_idp.schema.live_rights import while_allowed
from home_idp.schema.permissions import IsAdmin
from home_idp.schema.relay import (
    Connection,
    check_page_size,
    connection_from_queryset,
    decode_cursor,
    encode_cursor,
    resolve_visible_nodes,
)
from home_idp.server.rbac import models
from home_idp.server.rbac.audit import AUDIT_TOPIC, AuditFilter, AuditLog

__all__ = ["AuditQuery", "AuditSubscription"]

_REPLAY_BATCH = 500


@strawberry.type(description="One recorded action: who did what to which target, and when.")
class AuditEvent(relay.Node):
    id: relay.NodeID[int]
    actor: str
    action: str
    target: str
    project: str | None
    outcome: str = strawberry.field(description="ok, denied or failed")
    detail: JSON
    created_at: datetime

    @strawberry.field(description="Pass as `after` to resume a subscription from here.")
    def cursor(self) -> str:
        return encode_cursor(self.id)

    @classmethod
    def from_model(cls, event: models.AuditEvent) -> Self:
        return cls(
            id=event.id,
            actor=event.actor,
            action=event.action,
            target=event.target,
            project=event.project,
            outcome=event.outcome,
            detail=cast(JSON, event.detail),
            created_at=event.created_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        principal = info.context.principal

        async def allowed(_: models.AuditEvent) -> bool:
            return principal.is_admin

        return await resolve_visible_nodes(models.AuditEvent, node_ids, cls.from_model, allowed)


@strawberry.input(description="Every field narrows the result; all are optional.")
class AuditEventFilter:
    actor: str | None = None
    action: str | None = strawberry.field(
        default=None, description="Exact action, or a prefix ending in '.' (e.g. 'project.')."
    )
    target: str | None = None
    project: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_domain(self) -> AuditFilter:
        return AuditFilter(
            actor=self.actor,
            action=self.action,
            target=self.target,
            project=self.project,
            outcome=self.outcome,
            since=self.since,
            until=self.until,
        )


@strawberry.type
class AuditQuery:
    @strawberry.field(description="The audit log, newest first.", permission_classes=[IsAdmin])
    async def audit_events(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        filter: AuditEventFilter | None = None,
    ) -> Connection[AuditEvent]:
        check_page_size(first, info.context.max_page_size)
        info.context.rbac.authz.require_admin()
        query = AuditLog.query(filter.to_domain() if filter else AuditFilter())
        return await connection_from_queryset(
            query, first, after, AuditEvent.from_model, newest_first=True
        )


@strawberry.type
class AuditSubscription:
    @strawberry.subscription(
        description="Audit events as they happen. Pass the last cursor you saw to get what "
        "you missed first.",
        permission_classes=[IsAdmin],
    )
    async def audit_events(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[AuditEvent, None]:
        info.context.rbac.authz.require_admin()
        async with contextlib.aclosing(
            while_allowed(info, _audit_events(info, after), _still_admin)
        ) as events:
            async for event in events:
                yield event


async def _still_admin(context: Context) -> None:
    context.rbac.authz.require_admin()


async def _audit_events(info: Info, after: str | None) -> AsyncGenerator[AuditEvent, None]:
    last_id = decode_cursor(after)
    async with info.context.runtime.bus.subscribe(AUDIT_TOPIC) as live:
        if last_id is not None:
            # Replay what was missed; live events queue up meanwhile.
            while True:
                batch = (
                    await models.AuditEvent.filter(id__gt=last_id)
                    .order_by("id")
                    .limit(_REPLAY_BATCH)
                )
                for event in batch:
                    last_id = event.id
                    yield AuditEvent.from_model(event)
                if len(batch) < _REPLAY_BATCH:
                    break
        async for event in live:
            if last_id is not None and event.id <= last_id:
                continue  # already sent during the replay
            last_id = event.id
            yield AuditEvent.from_model(event)
