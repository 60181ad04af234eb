"""In-process event bus: managers publish, GraphQL subscriptions listen.

Each subscriber has a bounded queue. A subscriber that falls behind is cut
off (its iterator raises `SubscriberLagged`) instead of slowing the
publisher; clients then resume from the last cursor they saw, which the
subscription replays from the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

__all__ = ["EventBus", "Notifier", "SubscriberLagged", "merged"]

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
