"""Polling: for git servers that send no webhooks, each auto-deploy app's branch is
asked for its newest commit (git ls-remote) every so often.

A new commit that touches a watched path starts a release, as a push would.
A source that cannot be read shows its error on the app and is asked again
later, less often each time it fails (up to an hour).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.apps.source_reader import SourceProblem, SourceReader
from home_idp.server.apps.watch_paths import touches
from home_idp.server.deploy.source_releases import start_source_release
from home_idp.server.errors import Conflict
from home_idp.server.pipeline.engine import Engine
from home_idp.server.pipeline.queue import utcnow
from home_idp.server.settings import SourceSettings

__all__ = ["SourcePoller"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_SECONDS = 3600.0


@dataclass
class SourcePoller:
    """Asks the auto-deploy apps' sources for new commits, a few apps at a time."""

    probe: SourceReader
    engine: Engine
    settings: SourceSettings
    # App id -> (failures in a row, monotonic time before which it is not asked).
    _backoff: dict[int, tuple[int, float]] = field(default_factory=dict)

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            try:
                await self.poll_once()
            except Exception:  # one bad round must not end polling
                log.exception("polling the apps' sources failed")

    async def poll_once(self) -> None:
        """Ask every due auto-deploy app's source once."""
        now = time.monotonic()
        apps = [
            app
            for app in await App.filter(auto_deploy=True).prefetch_related("project")
            if self._backoff.get(app.id, (0, 0.0))[1] <= now
        ]
        slots = asyncio.Semaphore(self.settings.poll_concurrency)

        async def poll(app: App) -> None:
            async with slots:
                await self._poll(app)

        await asyncio.gather(*(poll(app) for app in apps))

    async def _poll(self, app: App) -> None:
        seen = app.source_seen_sha
        try:
            sha = await self.probe.head(app)
            commit = None
            if sha != seen and seen is not None:
                commit = await self.probe.describe(app, sha, since=seen)
        except SourceProblem as problem:
            failures = self._backoff.get(app.id, (0, 0.0))[0] + 1
            delay = min(self.settings.poll_seconds * 2**failures, _MAX_BACKOFF_SECONDS)
            self._backoff[app.id] = (failures, time.monotonic() + delay)
            await App.filter(id=app.id).update(
                source_error=str(problem)[:1000], source_checked_at=utcnow()
            )
            return
        self._backoff.pop(app.id, None)
        await App.filter(id=app.id).update(source_error=None, source_checked_at=utcnow())
        if seen is None:
            # The first look: remember where the branch is; the app's own first
            # release (a Dockerfile save) builds it.
            await App.filter(id=app.id, source_seen_sha__isnull=True).update(source_seen_sha=sha)
            return
        if commit is None:
            return
        if not touches(commit.changed_paths, app.watch_paths):
            await App.filter(id=app.id, source_seen_sha=seen).update(source_seen_sha=sha)
            return
        if not await DockerfileVersion.exists(app_id=app.id):
            return
        with contextlib.suppress(Conflict):
            await start_source_release(
                self.engine, app, commit, trigger="poll", by="poll", once=True
            )
