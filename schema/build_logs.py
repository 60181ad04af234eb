"""Build logs: read a release's stored lines, or follow them live while it builds."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Self

import strawberry
from strawberry import relay

from home_idp.schema.context import Context, Info
from home_idp.schema.live_rights import while_allowed
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.relay import (
    Connection,
    Edge,
    PageInfo,
    check_page_size,
    decode_cursor,
    decode_id,
    encode_cursor,
)
from home_idp.server.deploy import models
from home_idp.server.deploy.build_logs import build_log_topic
from home_idp.server.events import merged
from home_idp.server.pipeline.events import release_topic

__all__ = ["BuildLogLine", "BuildLogQuery", "BuildLogSubscription"]

_REPLAY_BATCH = 500


@strawberry.type(description="One line a build printed; secrets are masked.")
class BuildLogLine:
    seq: int = strawberry.field(description="Counts up per release, across retries.")
    step: str
    text: str
    created_at: datetime

    @strawberry.field(description="Pass as `after` to resume from here.")
    def cursor(self) -> str:
        return encode_cursor(self.seq)

    @classmethod
    def from_model(cls, line: models.BuildLogLine) -> Self:
        return cls(seq=line.seq, step=line.step, text=line.text, created_at=line.created_at)


@strawberry.type
class BuildLogQuery:
    @strawberry.field(
        description="A release's stored build log, oldest line first.",
        permission_classes=[IsAuthenticated],
    )
    async def build_log(
        self, info: Info, release_id: relay.GlobalID, first: int = 100, after: str | None = None
    ) -> Connection[BuildLogLine]:
        check_page_size(first, info.context.max_page_size)
        deploy = info.context.deploy
        release = await deploy.releases.for_build_log(decode_id(release_id, "Release", "releaseId"))
        query = deploy.build_log.lines_after(release.id, decode_cursor(after) or 0)
        rows = await query.limit(first + 1)
        edges = [
            Edge(cursor=encode_cursor(row.seq), node=BuildLogLine.from_model(row))
            for row in rows[:first]
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            count=models.BuildLogLine.filter(release_id=release.id).count,
        )


@strawberry.type
class BuildLogSubscription:
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
