"""trace-manager's long-lived state: the store, the SDK set-up and retention."""

from __future__ import annotations

from home_idp.server.events import EventBus, Notifier
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.settings import TraceSettings
from home_idp.server.trace.retention import Retention
from home_idp.server.trace.service import TraceService
from home_idp.server.trace.store import SpanStore
from home_idp.server.trace.tracing import Tracing

__all__ = ["TraceManager"]


class TraceManager:
    """Owns the span store and home-idp's own tracer provider."""

    def __init__(self, settings: TraceSettings, bus: EventBus) -> None:
        self.settings = settings
        self.store = SpanStore(bus)
        self.tracing = Tracing(settings, self.store)
        self.retention = Retention(settings, self.store)

    def share_through(self, notifier: Notifier) -> None:
        """Wake live readers on every replica (call before the notifier starts)."""
        self.store.share_through(notifier)

    async def start(self) -> None:
        self.tracing.start()
        self.retention.start()

    async def stop(self) -> None:
        await self.retention.stop()
        await self.tracing.stop()

    def session(self, authz: Authorizer) -> TraceService:
        return TraceService(authz, self.store)
