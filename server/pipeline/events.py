"""Release events: stored with a sequence number, then fanned out to subscribers.

Events are written in the same transaction as the state change they report
and published after it commits. With one process the publish goes straight to
the in-process bus; with several replicas on Postgres it goes through
LISTEN/NOTIFY so every replica's subscribers see every event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

import asyncpg
from tortoise.connection import get_connection

from home_idp.server.events import EventBus
from home_idp.server.pipeline.models import Release, ReleaseEvent

__all__ = ["NOTIFY_CHANNEL", "ReleaseEventLog", "app_topic", "release_topic"]

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "home_idp_release_events"


def release_topic(release_id: int) -> str:
    return f"release:{release_id}"


def app_topic(app_id: int) -> str:
    return f"app:{app_id}"


class ReleaseEventLog:
    """Records release events and delivers them to live subscribers."""

    def __init__(self, bus: EventBus, postgres_url: str | None) -> None:
        self._bus = bus
        self._postgres_url = postgres_url
        self._listener: asyncpg.Connection | None = None
        # Notifications are handled one at a time, in the order they arrive,
        # so subscribers see a release's events in order.
        self._notified: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._consumer: asyncio.Task[None] | None = None
        self._handlers: dict[str, Callable[[str], Awaitable[None]]] = {
            NOTIFY_CHANNEL: self._deliver_notified_event
        }

    def on_notification(self, channel: str, handler: Callable[[str], Awaitable[None]]) -> None:
        """Hand another channel's notifications to `handler`, on the same listener.

        Register before `start`. Build logs use this to reach every replica.
        """
        self._handlers[channel] = handler

    @property
    def shared(self) -> bool:
        """Whether events go through Postgres to every replica (else in-process only)."""
        return self._listener is not None

    async def notify(self, channel: str, payload: str) -> None:
        """Send a notification to every replica's listener, this one's included."""
        await get_connection("default").execute_query(
            "SELECT pg_notify($1, $2)", [channel, payload]
        )

    async def record(
        self, release: Release, state: str, *, step: str | None = None, message: str = ""
    ) -> ReleaseEvent:
        """Store one event; call inside the transaction that makes the change."""
        return await ReleaseEvent.create(
            release_id=release.id,
            app_id=release.app_id,  # type: ignore[attr-defined]
            project=release.app.project.name,
            step=step,
            state=state,
            message=message,
        )

    async def publish(self, events: Iterable[ReleaseEvent]) -> None:
        """Deliver events whose transaction has committed."""
        events = list(events)
        if not events:
            return
        if self._listener is None:
            for event in events:
                self._deliver(event)
            return
        # Every replica, this one included, delivers from the notification.
        for event in events:
            await self.notify(NOTIFY_CHANNEL, str(event.id))

    def _deliver(self, event: ReleaseEvent) -> None:
        self._bus.publish(release_topic(event.release_id), event)  # type: ignore[attr-defined]
        self._bus.publish(app_topic(event.app_id), event)

    async def start(self) -> None:
        """On Postgres, listen for events published by any replica."""
        if self._postgres_url is None:
            return
        url = self._postgres_url.replace("postgres://", "postgresql://", 1)
        self._listener = await asyncpg.connect(url)
        self._consumer = asyncio.create_task(self._deliver_notified())
        for channel in self._handlers:
            await self._listener.add_listener(channel, self._on_notify)

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
            self._consumer = None

    def _on_notify(self, _connection: object, _pid: int, channel: str, payload: str) -> None:
        self._notified.put_nowait((channel, payload))

    async def _deliver_notified(self) -> None:
        while True:
            channel, payload = await self._notified.get()
            try:
                await self._handlers[channel](payload)
            except Exception:  # the database may be briefly away; drop, clients resume
                log.exception("could not handle notification %s on %s", payload[:80], channel)

    async def _deliver_notified_event(self, payload: str) -> None:
        event = await ReleaseEvent.get_or_none(id=int(payload))
        if event is None:
            log.warning("release event %s vanished before delivery", payload)
            return
        self._deliver(event)
