"""The audit log: who did what to which target, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.queryset import QuerySet

from home_idp.server.events import EventBus
from home_idp.server.rbac.models import AuditEvent
from home_idp.server.rbac.principal import Principal

__all__ = ["AUDIT_TOPIC", "AuditFilter", "AuditLog"]

AUDIT_TOPIC = "audit"


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    project: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditLog:
    """Writes audit events and publishes them for live followers."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def record(
        self,
        actor: Principal | str,
        action: str,
        target: str,
        *,
        project: str | None = None,
        outcome: str = "ok",
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Record one event. `detail` must never hold secrets."""
        event = await AuditEvent.create(
            actor=actor if isinstance(actor, str) else actor.username,
            action=action,
            target=target,
            project=project,
            outcome=outcome,
            detail=detail or {},
        )
        self._bus.publish(AUDIT_TOPIC, event)
        return event

    async def record_app(
        self,
        actor: Principal | str,
        action: str,
        project: str,
        app: str,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Record one event about an app (its target is `app:<project>/<app>`)."""
        target = f"app:{project}/{app}"
        return await self.record(actor, action, target, project=project, detail=detail)

    @staticmethod
    def query(audit_filter: AuditFilter) -> QuerySet[AuditEvent]:
        """Newest first."""
        query = AuditEvent.all()
        if audit_filter.actor:
            query = query.filter(actor=audit_filter.actor)
        if audit_filter.action:
            # "project." matches every project action.
            query = (
                query.filter(action__startswith=audit_filter.action)
                if audit_filter.action.endswith(".")
                else query.filter(action=audit_filter.action)
            )
        if audit_filter.target:
            query = query.filter(target=audit_filter.target)
        if audit_filter.project:
            query = query.filter(project=audit_filter.project)
        if audit_filter.outcome:
            query = query.filter(outcome=audit_filter.outcome)
        if audit_filter.since:
            query = query.filter(created_at__gte=audit_filter.since)
        if audit_filter.until:
            query = query.filter(created_at__lt=audit_filter.until)
        return query
