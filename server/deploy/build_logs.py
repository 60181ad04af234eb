"""Build logs: every line a build prints, masked, stored and streamed live.

A build's lines are written in small batches (a database round trip per
line would slow a chatty build down), each with a sequence number per
release that subscribers resume from. After a batch is stored it is
published: in-process with one server, through Postgres NOTIFY to every
replica when several share a database. The end of a build is published
the same way, so a live subscription knows when to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.functions import Max
from tortoise.queryset import QuerySet

from home_idp.server.deploy.models import BuildLogLine
from home_idp.server.events import EventBus
from home_idp.server.pipeline.events import ReleaseEventLog
from home_idp.server.rbac.secret_box import mask_secrets

__all__ = ["LOG_CHANNEL", "BuildLog", "BuildLogEnd", "BuildLogWriter", "build_log_topic"]

log = logging.getLogger(__name__)

LOG_CHANNEL = "home_idp_build_logs"
_BATCH_LINES = 200
_FLUSH_SECONDS = 0.05
_MAX_LINE = 4000


def build_log_topic(release_id: int) -> str:
    return f"build-log:{release_id}"


@dataclass(frozen=True)
class BuildLogEnd:
    """Published after a build's last line: the build is over."""

    release_id: int


class BuildLog:
    """Writers for running builds, and the fan-out of their lines to subscribers."""

    def __init__(self, bus: EventBus, events: ReleaseEventLog) -> None:
        self._bus = bus
        self._events = events
        events.on_notification(LOG_CHANNEL, self._on_notification)

    async def writer(self, release_id: int, step: str, secrets: Iterable[str]) -> BuildLogWriter:
        """A writer that continues the release's numbering (a retry appends)."""
        row = (
            await BuildLogLine.filter(release_id=release_id)
            .annotate(last=Max("seq"))
            .first()
            .values("last")
        )
        last = row["last"] if row and row["last"] is not None else 0
        return BuildLogWriter(self, release_id, step, tuple(secrets), last + 1)

    async def publish_lines(self, release_id: int, lines: list[BuildLogLine]) -> None:
        if self._events.shared:
            await self._events.notify(LOG_CHANNEL, f"{release_id}:{lines[0].seq}:{lines[-1].seq}")
        else:
            self._bus.publish(build_log_topic(release_id), lines)

    async def publish_end(self, release_id: int) -> None:
        if self._events.shared:
            await self._events.notify(LOG_CHANNEL, f"{release_id}:end")
        else:
            self._bus.publish(build_log_topic(release_id), BuildLogEnd(release_id))

    async def _on_notification(self, payload: str) -> None:
        release, _, span = payload.partition(":")
        release_id = int(release)
        if span == "end":
            self._bus.publish(build_log_topic(release_id), BuildLogEnd(release_id))
            return
        if not self._bus.subscriber_count(build_log_topic(release_id)):
            return  # nobody here follows this build
        first, _, last = span.partition(":")
        lines = await BuildLogLine.filter(
            release_id=release_id, seq__gte=int(first), seq__lte=int(last)
        ).order_by("seq")
        if lines:
            self._bus.publish(build_log_topic(release_id), lines)

    @staticmethod
    def lines_after(release_id: int, after: int) -> QuerySet[BuildLogLine]:
        """The release's stored lines after sequence number `after`, in order."""
        return BuildLogLine.filter(release_id=release_id, seq__gt=after).order_by("seq")


class BuildLogWriter:
    """Collects one build's lines, masks them, and flushes them in batches."""

    def __init__(
        self, log_: BuildLog, release_id: int, step: str, secrets: tuple[str, ...], seq: int
    ) -> None:
        self._log = log_
        self._release_id = release_id
        self._step = step
        self._secrets = secrets
        self._next_seq = seq
        self._pending: list[str] = []
        self._recent: list[str] = []
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def mask(self, text: str) -> str:
        """`text` with the build's secrets masked: for log lines and error messages."""
        return mask_secrets(text, self._secrets)

    async def write(self, line: str) -> None:
        line = self.mask(line[:_MAX_LINE])
        self._pending.append(line)
        self._recent = [*self._recent[-19:], line]
        if len(self._pending) >= _BATCH_LINES:
            await self.flush()
        elif self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    def last_lines(self, count: int) -> list[str]:
        """The build's last lines (already masked), for the error of a failed build."""
        return self._recent[-count:]

    async def _flush_soon(self) -> None:
        await asyncio.sleep(_FLUSH_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            texts, self._pending = self._pending, []
            rows = [
                BuildLogLine(
                    release_id=self._release_id,
                    step=self._step,
                    seq=self._next_seq + offset,
                    text=text.replace("\x00", "\ufffd"),
                )
                for offset, text in enumerate(texts)
            ]
            self._next_seq += len(rows)
            await BuildLogLine.bulk_create(rows)
        await self._log.publish_lines(self._release_id, rows)

    async def close(self) -> None:
        """Flush what is left and tell subscribers the build is over."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        try:
            await self.flush()
        finally:
            await self._log.publish_end(self._release_id)
