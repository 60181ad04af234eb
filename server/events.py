"""In-process event bus: managers publish, GraphQL subscriptions listen.

Each subscriber has a bounded queue. A subscriber that falls behind is cut
off (its iterator raises `SubscriberLagged`) instead of slowing the
publisher; clients then resume from the last cursor they saw, which the
subscription replays from the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Protocol

__all__ = ["EventBus", "KeyedBroadcast", "Notifier", "SubscriberLagged", "merged"]

_QUEUE_SIZE = 1000


class Notifier(Protocol):
    """Reaches every replica's listener (Postgres NOTIFY), when replicas share one."""

    @property
    def shared(self) -> bool: ...

    async def notify(self, channel: str, payload: str) -> None: ...

    def on_notification(self, channel: str, handler: Callable[[str], Awaitable[None]]) -> None: ...


class SubscriberLagged(Exception):
    """The subscriber did not keep up and missed events."""


class _Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        self.lagged = False

    def offer(self, event: Any) -> None:
        if self.lagged:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagged = True


class EventBus:
    """Topic-based fan-out with bounded, non-blocking delivery."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_Subscriber]] = {}

    def publish(self, topic: str, event: Any) -> None:
        for subscriber in self._subscribers.get(topic, ()):
            subscriber.offer(event)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[Any]]:
        """Register before replaying history, so nothing falls between the two."""
        subscriber = _Subscriber()
        self._subscribers.setdefault(topic, set()).add(subscriber)
        try:
            yield self._drain(subscriber)
        finally:
            self._subscribers[topic].discard(subscriber)

    async def _drain(self, subscriber: _Subscriber) -> AsyncIterator[Any]:
        while True:
            if subscriber.lagged and subscriber.queue.empty():
                raise SubscriberLagged("subscriber fell behind; resume from the last cursor")
            yield await subscriber.queue.get()

    def subscriber_count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))


class KeyedBroadcast:
    """Wakes the subscribers of some keys: on this replica's bus, or on every replica's.

    A wake-up names keys only, comma-separated (one NOTIFY payload across
    replicas); each key's subscribers get the key itself, and read what
    changed from the database.
    """

    def __init__(self, bus: EventBus, channel: str, topic: Callable[[str], str]) -> None:
        self._bus = bus
        self._channel = channel
        self._topic = topic
        self._notifier: Notifier | None = None

    def share_through(self, notifier: Notifier) -> None:
        """Reach every replica through `notifier` (register before it starts)."""
        self._notifier = notifier
        notifier.on_notification(self._channel, self._on_notification)

    @property
    def _shared_notifier(self) -> Notifier | None:
        """The notifier, when replicas share one; None: this replica is the only one."""
        return self._notifier if self._notifier is not None and self._notifier.shared else None

    def _deliver(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._bus.publish(self._topic(key), key)

    async def _on_notification(self, payload: str) -> None:
        self._deliver(payload.split(","))


@asynccontextmanager
async def merged(*streams: AsyncIterator[Any]) -> AsyncIterator[AsyncIterator[Any]]:
    """One iterator over the items of several, in the order they come.

    An error of any stream (a lagged subscriber) is raised by the merged one.
    """
    queue: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()

    async def forward(stream: AsyncIterator[Any]) -> None:
        try:
            async for item in stream:
                await queue.put((item, None))
        except Exception as error:
            await queue.put((None, error))

    async def items() -> AsyncIterator[Any]:
        while True:
            item, error = await queue.get()
            if error is not None:
                raise error
            yield item

    tasks = [asyncio.create_task(forward(stream)) for stream in streams]
    try:
        yield items()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
