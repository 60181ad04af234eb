"""Build logs: every line a build prints, masked, stored and streamed live.

A build's lines are written in small batches (a database round trip per
line would slow a chatty build down), each with a sequence number per
release that subscribers resume from. After a batch is stored, subscribers
are woken: in-process with one server, through Postgres NOTIFY on every
replica when several share a database. A wake-up carries no lines on
purpose: subscribers read what they have not seen from the database, so a
lost or reordered notification can delay a line but never drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from tortoise.exceptions import IntegrityError
from tortoise.functions import Max
from tortoise.queryset import QuerySet

from home_idp.server.deploy.models import BuildLogLine
from home_idp.server.events import EventBus
from home_idp.server.pipeline.events import ReleaseEventLog
from home_idp.server.secret_box import secret_masker

__all__ = ["LOG_CHANNEL", "BuildLog", "BuildLogWriter", "build_log_topic"]

log = logging.getLogger(__name__)

LOG_CHANNEL = "home_idp_build_logs"
_BATCH_LINES = 200
_FLUSH_SECONDS = 0.05
_MAX_LINE = 4000


def build_log_topic(release_id: int) -> str:
    return f"build-log:{release_id}"


class BuildLog:
    """Writers for running builds, and the fan-out of their lines to subscribers."""

    def __init__(self, bus: EventBus, events: ReleaseEventLog) -> None:
        self._bus = bus
        self._events = events
        events.on_notification(LOG_CHANNEL, self._on_notification)

    async def writer(self, release_id: int, step: str, secrets: Iterable[str]) -> BuildLogWriter:
        """A writer that continues the release's numbering (a retry appends)."""
        seq = await self.next_seq(release_id)
        return BuildLogWriter(self, release_id, step, tuple(secrets), seq)

    async def wake(self, release_id: int) -> None:
        """Tell the release's subscribers, on every replica, that lines were stored."""
        if self._events.shared:
            await self._events.notify(LOG_CHANNEL, str(release_id))
        else:
            self._bus.publish(build_log_topic(release_id), release_id)

    async def _on_notification(self, payload: str) -> None:
        release_id = int(payload)
        self._bus.publish(build_log_topic(release_id), release_id)

    @staticmethod
    async def next_seq(release_id: int) -> int:
        row = (
            await BuildLogLine.filter(release_id=release_id)
            .annotate(last=Max("seq"))
            .first()
            .values("last")
        )
        return (row["last"] if row and row["last"] is not None else 0) + 1

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
        # Compiled once: a build writes thousands of lines.
        self._masker = secret_masker(secrets)
        self._next_seq = seq
        self._pending: list[str] = []
        self._recent: list[str] = []
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def mask(self, text: str) -> str:
        """`text` with the build's secrets masked: for log lines and error messages."""
        return self._masker(text)

    async def write(self, line: str) -> None:
        # Masked before it is cut: a secret cut in two would no longer match.
        line = self.mask(line)[:_MAX_LINE]
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
            try:
                await self._store(texts)
            except IntegrityError:
                # Another writer took these numbers (a worker that lost its
                # lease still writing): continue after its lines.
                self._next_seq = await BuildLog.next_seq(self._release_id)
                await self._store(texts)
        await self._log.wake(self._release_id)

    async def _store(self, texts: list[str]) -> None:
        rows = [
            BuildLogLine(
                release_id=self._release_id,
                step=self._step,
                seq=self._next_seq + offset,
                text=text.replace("\x00", "\ufffd"),
            )
            for offset, text in enumerate(texts)
        ]
        await BuildLogLine.bulk_create(rows)
        self._next_seq += len(rows)

    async def close(self) -> None:
        """Store what is left (a flush under way is finished, never cut off)."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
        await self.flush()
