"""The object types of traces: a release (or anything sent over OTLP) as a tree of spans."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Self, cast

import strawberry
from strawberry.scalars import JSON

from home_idp.schema.core.context import Info
from home_idp.schema.core.from_row import from_row
from home_idp.schema.core.log_lines import shown_in_project
from home_idp.schema.core.relay import encode_cursor
from home_idp.server.trace import models
from home_idp.server.trace import service as trace_service
from home_idp.server.trace.analysis import SpanTree, critical_path

__all__ = [
    "CriticalPathSegment",
    "Span",
    "Trace",
    "TraceStatus",
    "TraceSummary",
    "load_trace",
]


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )


def _ms(ns: int) -> float:
    return round(ns / 1_000_000, 3)


@strawberry.enum(description="The OpenTelemetry span kind.")
class SpanKind(Enum):
    UNSPECIFIED = "unspecified"
    INTERNAL = "internal"
    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"


@strawberry.enum(description="The OpenTelemetry span status.")
class SpanStatus(Enum):
    UNSET = "unset"
    OK = "ok"
    ERROR = "error"


@strawberry.enum(description="ERROR: some span of the trace failed; OK: none did.")
class TraceStatus(Enum):
    OK = "ok"
    ERROR = "error"


async def _event_name(root: SpanEvent, info: Info) -> str:
    return await shown_in_project(info, root.project, root.stored_name)


async def _status_message(root: Span, info: Info) -> str:
    return await shown_in_project(info, root.project, root.stored_status_message)


@strawberry.type(description="Something that happened at a moment during a span.")
class SpanEvent:
    name: str = strawberry.field(resolver=_event_name)
    time: datetime
    time_unix_nano: str = strawberry.field(description="Exact, as a decimal string.")
    attributes: JSON
    stored_name: strawberry.Private[str]
    project: strawberry.Private[str | None]


@strawberry.type(description="One timed operation of a trace (OpenTelemetry span).")
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: SpanKind
    start_time: datetime
    end_time: datetime
    start_time_unix_nano: str = strawberry.field(description="Exact, as a decimal string.")
    end_time_unix_nano: str = strawberry.field(description="Exact, as a decimal string.")
    duration_ms: float
    status: SpanStatus
    status_message: str = strawberry.field(resolver=_status_message)
    attributes: JSON
    events: list[SpanEvent]
    service_name: str
    project: str | None
    app: str | None
    depth: int = strawberry.field(description="0 for a root; a child is one deeper.")
    row: strawberry.Private[int]
    tree: strawberry.Private[SpanTree | None]
    stored_status_message: strawberry.Private[str]

    @strawberry.field(description="Pass as `after` to the `spans` subscription to resume.")
    def cursor(self) -> str:
        return encode_cursor(self.row)

    @strawberry.field(description="The spans started inside this one, earliest first.")
    def children(self) -> list[Span]:
        if self.tree is None:
            return []
        return [Span.of(child, self.tree) for child in self.tree.children[self.span_id]]

    @classmethod
    def of(cls, span: models.Span, tree: SpanTree | None = None) -> Self:
        return from_row(
            cls,
            span,
            kind=SpanKind(span.kind),
            start_time=_time(span.start_ns),
            end_time=_time(span.end_ns),
            start_time_unix_nano=str(span.start_ns),
            end_time_unix_nano=str(span.end_ns),
            duration_ms=_ms(span.end_ns - span.start_ns),
            status=SpanStatus(span.status),
            attributes=cast(JSON, span.attributes),
            stored_status_message=span.status_message,
            events=[
                SpanEvent(
                    stored_name=str(event.get("name", "")),
                    time=_time(int(event.get("time_ns", 0))),
                    time_unix_nano=str(event.get("time_ns", 0)),
                    attributes=cast(JSON, event.get("attributes", {})),
                    project=span.project,
                )
                for event in span.events
            ],
            depth=tree.depth.get(span.span_id, 0) if tree else 0,
            row=span.id,
            tree=tree,
        )


@strawberry.type(description="A span on the critical path, and how much of it lies on the path.")
class CriticalPathSegment:
    span_id: str
    name: str
    start_time: datetime
    duration_ms: float = strawberry.field(description="The span's whole duration.")
    self_ms: float = strawberry.field(
        description="Its time on the critical path (not spent waiting for a child on it)."
    )


@strawberry.type(description="A whole trace: every span you may see, as a list and as a tree.")
class Trace:
    trace_id: str
    start_time: datetime
    end_time: datetime
    duration_ms: float
    span_count: int
    error_count: int
    status: TraceStatus
    tree: strawberry.Private[SpanTree]

    @strawberry.field(
        description="Every span, earliest first; `depth` and `parentSpanId` give the tree."
    )
    def spans(self) -> list[Span]:
        return [Span.of(span, self.tree) for span in self.tree.spans]

    @strawberry.field(description="Spans with no parent in the trace; follow `children` down.")
    def roots(self) -> list[Span]:
        return [Span.of(span, self.tree) for span in self.tree.roots]

    @strawberry.field(
        description="The chain of spans that made the trace as long as it is, in time order."
    )
    def critical_path(self) -> list[CriticalPathSegment]:
        return [
            CriticalPathSegment(
                span_id=segment.span.span_id,
                name=segment.span.name,
                start_time=_time(segment.span.start_ns),
                duration_ms=_ms(segment.span.end_ns - segment.span.start_ns),
                self_ms=_ms(segment.self_ns),
            )
            for segment in critical_path(self.tree)
        ]

    @classmethod
    def of(cls, trace_id: str, tree: SpanTree) -> Self:
        errors = sum(1 for span in tree.spans if span.status == "error")
        return cls(
            trace_id=trace_id,
            start_time=_time(tree.start_ns),
            end_time=_time(tree.end_ns),
            duration_ms=_ms(tree.end_ns - tree.start_ns),
            span_count=len(tree.spans),
            error_count=errors,
            status=TraceStatus.ERROR if errors else TraceStatus.OK,
            tree=tree,
        )


@strawberry.type(description="A trace in a list: named after its root span.")
class TraceSummary:
    trace_id: str
    name: str
    start_time: datetime
    end_time: datetime
    duration_ms: float
    span_count: int
    error_count: int
    status: TraceStatus
    project: str | None
    app: str | None
    service_name: str

    @classmethod
    def of(cls, summary: trace_service.TraceSummary) -> Self:
        return from_row(
            cls,
            summary,
            start_time=_time(summary.start_ns),
            end_time=_time(summary.end_ns),
            duration_ms=_ms(summary.end_ns - summary.start_ns),
            status=TraceStatus.ERROR if summary.error_count else TraceStatus.OK,
        )


async def load_trace(info: Info, trace_id: str) -> Trace | None:
    tree = await info.context.trace.trace(trace_id)
    return Trace.of(trace_id.lower(), tree) if tree is not None else None
