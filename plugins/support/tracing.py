"""How plugins (and the steps that call them) emit spans into a release's trace.

The engine runs each step inside `step_span_context`: the step's span is
the current span and the server's tracer provider is the one `tracer`
returns. A plugin that calls `tracer(__name__).start_as_current_span(...)`
therefore adds a child span to the step that called it, in the same trace,
without knowing anything of the server; outside a step its spans go to the
global OpenTelemetry provider (a no-op unless the host program set one).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["StepAttributes", "step_span_context", "trace_env", "tracer"]

_provider: ContextVar[trace.TracerProvider | None] = ContextVar(
    "home_idp_tracer_provider", default=None
)
_step_attributes: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "home_idp_step_attributes", default=None
)
_propagator = TraceContextTextMapPropagator()


def tracer(name: str) -> trace.Tracer:
    """A tracer whose spans join the trace of the step running now."""
    return trace.get_tracer(name, tracer_provider=_provider.get())


class StepAttributes(SpanProcessor):
    """Gives every span started inside a step the step's placing attributes.

    A plugin's span then belongs to the release's project and app (who may
    see it) without the plugin knowing either.
    """

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        inherited = _step_attributes.get()
        if inherited:
            span.set_attributes(
                {
                    key: value
                    for key, value in inherited.items()
                    if key not in (span.attributes or {})
                }
            )


@contextmanager
def step_span_context(
    provider: trace.TracerProvider,
    trace_id: int,
    span_id: int,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Make the span (`trace_id`, `span_id`) the parent of spans started inside.

    Spans started inside also get `attributes` (where the provider has a
    `StepAttributes` processor).
    """
    parent = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id,
            span_id,
            is_remote=False,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
    )
    provider_token = _provider.set(provider)
    attributes_token = _step_attributes.set(dict(attributes or {}))
    context_token = otel_context.attach(trace.set_span_in_context(parent))
    try:
        yield
    finally:
        otel_context.detach(context_token)
        _step_attributes.reset(attributes_token)
        _provider.reset(provider_token)


def trace_env() -> Mapping[str, str]:
    """The current span as W3C trace context (`TRACEPARENT`), for a build's environment.

    A build whose tools emit spans reads it (OpenTelemetry SDKs honour
    `TRACEPARENT`) and joins the release's trace.
    """
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return {name.upper(): value for name, value in carrier.items()}
