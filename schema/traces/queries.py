"""Queries of traces: one trace by id, and the traces you may see."""

from __future__ import annotations

from datetime import datetime

import strawberry

from home_idp.schema.core.context import Info
from home_idp.schema.core.from_row import from_row
from home_idp.schema.core.permissions import IsAuthenticated
from home_idp.schema.core.relay import Connection, Edge, connection, page
from home_idp.schema.traces.types import Trace, TraceStatus, TraceSummary, load_trace
from home_idp.server.trace import service as trace_service

__all__ = ["TraceFilter", "TraceQuery"]


@strawberry.input(description="Which traces to list; every field narrows the list.")
class TraceFilter:
    project: str | None = None
    app: str | None = None
    status: TraceStatus | None = None
    since: datetime | None = strawberry.field(
        default=None, description="Traces with a span that started at or after this."
    )
    until: datetime | None = strawberry.field(
        default=None, description="Traces with a span that started before this."
    )


@strawberry.type
class TraceQuery:
    @strawberry.field(
        description="A trace by its 32-hex id, with the spans you may see; null if none.",
        permission_classes=[IsAuthenticated],
    )
    async def trace(self, info: Info, id: str) -> Trace | None:
        return await load_trace(info, id)

    @connection(
        description="Traces with spans you may see, newest first.",
        permission_classes=[IsAuthenticated],
    )
    async def traces(
        self,
        info: Info,
        filter: TraceFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[TraceSummary]:
        wanted = filter or TraceFilter()
        found = await info.context.trace.traces(
            from_row(
                trace_service.TraceFilter,
                wanted,
                status=wanted.status.value if wanted.status else None,
            ),
            first,
            after,
        )
        return page(
            [
                Edge(cursor=found.cursor(summary), node=TraceSummary.of(summary))
                for summary in found.traces
            ],
            has_next_page=found.has_next_page,
            count=found.count,
        )
