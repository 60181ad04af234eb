"""Subscriptions of identity and access: the audit log, live and resumable."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry

from home_idp.schema.access.types import AuditEvent
from home_idp.schema.core.context import Info
from home_idp.schema.core.live_rights import still_admin, while_allowed
from home_idp.schema.core.permissions import IsAdmin
from home_idp.schema.core.relay import decode_cursor
from home_idp.server.rbac import models
from home_idp.server.rbac.audit import AUDIT_TOPIC

__all__ = ["AccessSubscription"]

_REPLAY_BATCH = 500


@strawberry.type
class AccessSubscription:
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
            while_allowed(info, _audit_events(info, after), still_admin)
        ) as events:
            async for event in events:
                yield event


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
