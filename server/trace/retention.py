"""Span retention: spans older than the setting are deleted in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from home_idp.server.settings import TraceSettings
from home_idp.server.trace.store import SpanStore

__all__ = ["Retention"]

log = logging.getLogger(__name__)


class Retention:
    """Deletes spans that started more than `retention_hours` ago, every interval."""

    def __init__(self, settings: TraceSettings, store: SpanStore) -> None:
        self._settings = settings
        self._store = store
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> int:
        """Delete what is past retention now; how many spans went."""
        cutoff_ns = time.time_ns() - int(self._settings.retention_hours * 3600 * 1e9)
        deleted = await self._store.delete_started_before(cutoff_ns)
        if deleted:
            log.info("deleted %d spans older than %gh", deleted, self._settings.retention_hours)
        return deleted

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="span-retention")

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away; try again next time
                log.exception("span retention pass failed")
            await asyncio.sleep(self._settings.retention_interval_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
