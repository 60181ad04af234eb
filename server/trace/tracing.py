"""home-idp's OpenTelemetry SDK set-up: one tracer provider per server.

Spans go to the span store (batched, off the request path) and, when the
settings name a collector, to it as well over OTLP/HTTP. A release's root
span and its steps' spans are emitted when they end, with ids chosen when
they began (so that child spans, webhooks and builds could point at them
meanwhile, even from another replica); `PinnedIdGenerator` lets the SDK
give such a span exactly those ids.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

from home_idp.plugins.support.tracing import StepAttributes
from home_idp.server.settings import TraceSettings
from home_idp.server.trace.exporter import SpanWriter, StoreSpanExporter
from home_idp.server.trace.store import SpanStore

__all__ = ["EndedSpan", "PinnedIdGenerator", "Tracing", "new_span_id", "new_trace_id"]

SERVICE_NAME = "home-idp"

_pinned: ContextVar[tuple[int, int] | None] = ContextVar("home_idp_pinned_ids", default=None)


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


class PinnedIdGenerator(IdGenerator):
    """Random ids, except for a span whose ids were chosen before it was emitted."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        pinned = _pinned.get()
        return pinned[1] if pinned else self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        pinned = _pinned.get()
        return pinned[0] if pinned else self._random.generate_trace_id()


@dataclass(frozen=True)
class EndedSpan:
    """A span known only once it ended: a release, a step, a webhook that advanced one."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)
    kind: trace.SpanKind = trace.SpanKind.INTERNAL
    status: str = "unset"  # "unset", "ok" or "error"
    # Why it failed, for an error.
    message: str = ""
    # (name, time in ns, attributes)
    events: Sequence[tuple[str, int, Mapping[str, Any]]] = ()


class Tracing:
    """The tracer provider, its exporters, and the writer behind the store's exporter."""

    def __init__(self, settings: TraceSettings, store: SpanStore) -> None:
        self.store = store
        self.writer = SpanWriter(store)
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": SERVICE_NAME, "service.version": _version()}),
            id_generator=PinnedIdGenerator(),
        )
        # First: spans of plugin work are placed in the release's project and app.
        self.provider.add_span_processor(StepAttributes())
        self.provider.add_span_processor(
            # Short delay: live viewers see a span a moment after it ends.
            BatchSpanProcessor(
                StoreSpanExporter(self.writer), schedule_delay_millis=100, max_export_batch_size=512
            )
        )
        if settings.export_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            headers = {
                name: value.get_secret_value() for name, value in settings.export_headers.items()
            }
            self.provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(endpoint=settings.export_endpoint, headers=headers)
                )
            )

    def tracer(self, name: str) -> trace.Tracer:
        return self.provider.get_tracer(name)

    def start(self) -> None:
        self.writer.start()

    async def flush(self) -> None:
        """Store every span ended so far (tests and shutdown wait for this)."""
        await asyncio.to_thread(self.provider.force_flush)
        await self.writer.drain()

    async def stop(self) -> None:
        await asyncio.to_thread(self.provider.shutdown)
        await self.writer.stop()

    def emit(self, span: EndedSpan) -> None:
        """Emit a span that has already ended, with the ids it was given at its start."""
        parent = (
            trace.set_span_in_context(
                trace.NonRecordingSpan(
                    trace.SpanContext(
                        int(span.trace_id, 16),
                        int(span.parent_span_id, 16),
                        is_remote=False,
                        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
                    )
                )
            )
            if span.parent_span_id
            # An empty context: a root never takes the current span as its parent.
            else otel_context.Context()
        )
        with _pinned_ids(int(span.trace_id, 16), int(span.span_id, 16)):
            sdk_span = self.tracer(__name__).start_span(
                span.name,
                context=parent,
                kind=span.kind,
                attributes=dict(span.attributes),
                start_time=span.start_ns,
            )
        for name, time_ns, attributes in span.events:
            sdk_span.add_event(name, dict(attributes), timestamp=time_ns)
        if span.status == "error":
            sdk_span.add_event(
                "exception", {"exception.type": "StepFailed", "exception.message": span.message}
            )
            sdk_span.set_status(trace.Status(trace.StatusCode.ERROR, span.message))
        elif span.status == "ok":
            sdk_span.set_status(trace.Status(trace.StatusCode.OK))
        sdk_span.end(end_time=max(span.end_ns, span.start_ns))


@contextmanager
def _pinned_ids(trace_id: int, span_id: int) -> Iterator[None]:
    token = _pinned.set((trace_id, span_id))
    try:
        yield
    finally:
        _pinned.reset(token)


def _version() -> str:
    try:
        return version("home-idp")
    except PackageNotFoundError:
        return "unknown"
