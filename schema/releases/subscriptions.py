"""Subscriptions of releases: a release's (or an app's) events, its build log, and
the running app's output."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry
from strawberry import relay

from home_idp.schema.core.context import Context, Info
from home_idp.schema.core.live_rights import while_allowed
from home_idp.schema.core.permissions import IsAuthenticated
from home_idp.schema.core.relay import decode_cursor, decode_id
from home_idp.schema.releases.types import AppLogLine, BuildLogLine, ReleaseEvent, shown_to
from home_idp.server.deploy.build_logs import build_log_topic
from home_idp.server.errors import ValidationFailed
from home_idp.server.events import merged
from home_idp.server.pipeline.events import app_topic, release_topic
from home_idp.server.pipeline.models import ReleaseEvent as ReleaseEventRow

__all__ = ["ReleaseSubscription"]

_REPLAY_BATCH = 500


@strawberry.type
class ReleaseSubscription:
    @strawberry.subscription(
        description="Changes of one release (releaseId) or of every release of an app (appId). "
        "Pass the last cursor you saw as `after` to get what you missed first.",
        permission_classes=[IsAuthenticated],
    )
    async def release_events(
        self,
        info: Info,
        app_id: relay.GlobalID | None = None,
        release_id: relay.GlobalID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[ReleaseEvent, None]:
        releases = info.context.deploy.releases
        if (app_id is None) == (release_id is None):
            raise ValidationFailed.for_field("appId", "give exactly one of appId and releaseId")
        if release_id is not None:
            release = await releases.get(decode_id(release_id, "Release", "releaseId"))
            topic, by_release, by_app = release_topic(release.id), release.id, None
            events_app = release.app.id
        else:
            assert app_id is not None
            app = await releases.app_for_events(decode_id(app_id, "App", "appId"))
            topic, by_release, by_app = app_topic(app.id), None, app.id
            events_app = app.id

        project = (release.app if release_id is not None else app).project.name

        async def may_still_read(context: Context) -> None:
            await context.rbac.authz.require("release", "read", project)

        async with contextlib.aclosing(
            while_allowed(
                info,
                _release_events(info, topic, by_release, by_app, events_app, decode_cursor(after)),
                may_still_read,
            )
        ) as events:
            async for event in events:
                yield event

    @strawberry.subscription(
        description="A release's build log: what was stored after `after`, then live lines "
        "until the build ends.",
        permission_classes=[IsAuthenticated],
    )
    async def build_log(
        self, info: Info, release_id: relay.GlobalID, after: str | None = None
    ) -> AsyncGenerator[BuildLogLine, None]:
        deploy = info.context.deploy
        release = await deploy.releases.for_build_log(decode_id(release_id, "Release", "releaseId"))
        last = decode_cursor(after) or 0

        async def stored() -> AsyncGenerator[BuildLogLine, None]:
            nonlocal last
            while True:
                batch = await deploy.build_log.lines_after(release.id, last).limit(_REPLAY_BATCH)
                for row in batch:
                    last = row.seq
                    yield BuildLogLine.from_model(row)
                if len(batch) < _REPLAY_BATCH:
                    return

        async def followed() -> AsyncGenerator[BuildLogLine, None]:
            bus = info.context.runtime.bus
            # Woken by stored lines and by the release's own events (the build's
            # end among them); every wake-up reads what is new from the database.
            async with (
                bus.subscribe(build_log_topic(release.id)) as lines,
                bus.subscribe(release_topic(release.id)) as events,
                merged(lines, events) as wake_ups,
            ):
                while True:
                    async for line in stored():
                        yield line
                    if await deploy.releases.build_finished(release):
                        async for line in stored():  # what came in meanwhile
                            yield line
                        return
                    await anext(wake_ups)

        async def may_still_read(context: Context) -> None:
            await context.rbac.authz.require("log", "read", release.app.project.name)

        async with contextlib.aclosing(while_allowed(info, followed(), may_still_read)) as guarded:
            async for line in guarded:
                yield line

    @strawberry.subscription(
        description="An app's output: the last `tailLines` lines of each pod (or container), "
        "then, with `follow`, new lines as they come, until the client goes away.",
        permission_classes=[IsAuthenticated],
    )
    async def app_logs(
        self, info: Info, app_id: relay.GlobalID, follow: bool = True, tail_lines: int = 100
    ) -> AsyncGenerator[AppLogLine, None]:
        runtime = info.context.deploy.runtime
        app = decode_id(app_id, "App", "appId")

        async def lines() -> AsyncGenerator[AppLogLine, None]:
            # aclosing: the deployer's streams close as soon as the client goes away.
            async with contextlib.aclosing(
                runtime.logs(app, follow=follow, tail_lines=tail_lines)
            ) as found:
                async for line in found:
                    yield AppLogLine(source=line.source, text=line.text)

        async def may_still_read(context: Context) -> None:
            await context.deploy.runtime.check_log_reader(app)

        async with contextlib.aclosing(while_allowed(info, lines(), may_still_read)) as followed:
            async for line in followed:
                yield line


async def _release_events(
    info: Info,
    topic: str,
    by_release: int | None,
    by_app: int | None,
    app_id: int,
    last: int | None,
) -> AsyncGenerator[ReleaseEvent, None]:
    releases = info.context.deploy.releases
    async with info.context.runtime.bus.subscribe(topic) as live:
        if last is not None:
            # Replay what was missed; live events queue up meanwhile.
            while True:
                batch = await releases.events_after(
                    release_id=by_release, app_id=by_app, after=last
                ).limit(_REPLAY_BATCH)
                for event in batch:
                    last = event.id
                    yield ReleaseEvent.from_model(event, await _shown(info, app_id, event))
                if len(batch) < _REPLAY_BATCH:
                    break
        # Only what the replay sent is skipped: live events of different
        # releases may arrive out of id order and must all get through.
        replayed_up_to = last
        async for event in live:
            if replayed_up_to is not None and event.id <= replayed_up_to:
                continue
            yield ReleaseEvent.from_model(event, await _shown(info, app_id, event))


async def _shown(info: Info, app_id: int, event: ReleaseEventRow) -> str:
    return await shown_to(info, app_id, event.message) or ""
