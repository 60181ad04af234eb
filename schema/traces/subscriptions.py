"""Subscriptions of traces: a trace's spans as they are stored."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry

from home_idp.schema.core.context import Context, Info
from home_idp.schema.core.live_rights import while_allowed
from home_idp.schema.core.permissions import IsAuthenticated
from home_idp.schema.core.relay import decode_cursor
from home_idp.schema.traces.types import Span
from home_idp.server.trace.store import trace_topic

__all__ = ["TraceSubscription"]

_REPLAY_BATCH = 500
# How far back (in span row ids) a live reader looks for rows that committed late.
_LATE_COMMIT_WINDOW = 4096


@strawberry.type
class TraceSubscription:
    @strawberry.subscription(
        description="A trace's spans as they are stored: what came after `after` first, "
        "then live ones, until you unsubscribe.",
        permission_classes=[IsAuthenticated],
    )
    async def spans(
        self, info: Info, trace_id: str, after: str | None = None
    ) -> AsyncGenerator[Span, None]:
        traces = info.context.trace
        await traces.check_followable(trace_id)

        async def followed() -> AsyncGenerator[Span, None]:
            floor = decode_cursor(after) or 0  # the client has everything up to here
            highest = floor
            sent: set[int] = set()
            async with info.context.runtime.bus.subscribe(
                trace_topic(trace_id.lower())
            ) as wake_ups:
                while True:
                    # Writers that run side by side (requests, replicas) commit their
                    # rows out of id order: each pass looks back a little, and sends
                    # what it has not sent yet.
                    cursor = max(floor, highest - _LATE_COMMIT_WINDOW)
                    while True:
                        visible, last_read = await traces.spans_after(
                            trace_id, cursor, _REPLAY_BATCH
                        )
                        for span in visible:
                            if span.id not in sent:
                                sent.add(span.id)
                                yield Span.of(span)
                        if last_read is None:
                            break
                        cursor = highest = max(highest, last_read)
                    sent = {row for row in sent if row > highest - _LATE_COMMIT_WINDOW}
                    await anext(wake_ups)

        async def may_still_follow(context: Context) -> None:
            await context.trace.check_followable(trace_id)

        async with contextlib.aclosing(while_allowed(info, followed(), may_still_follow)) as spans:
            async for span in spans:
                yield span
