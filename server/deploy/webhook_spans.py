"""Webhook deliveries as spans of the release steps they moved on.

A delivery usually reaches a step that already waits for it: the engine
then emits its span (see `Engine.advance`). A push webhook can also come
before its step waits (the platform repo's hook posts it while the commit
is still being pushed); the step then finds it recorded and reports it here,
as a span of the step that is running.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind

from home_idp.plugins.support.tracing import tracer
from home_idp.server.deploy.models import WebhookDelivery
from home_idp.server.pipeline.queue import utcnow
from home_idp.server.pipeline.release_trace import WebhookReceipt
from home_idp.server.trace.records import unix_ns

__all__ = ["receipt_of", "trace_early_delivery"]


def receipt_of(delivery: WebhookDelivery) -> WebhookReceipt:
    return WebhookReceipt(
        delivery.source, delivery.event, delivery.delivery_id, delivery.received_at
    )


def trace_early_delivery(delivery: WebhookDelivery | None) -> None:
    """Add the span of a delivery that came before the running step waited for it."""
    if delivery is None:
        return
    receipt = receipt_of(delivery)
    span = tracer(__name__).start_span(
        receipt.span_name,
        kind=SpanKind.SERVER,
        attributes=receipt.attributes(),
        start_time=unix_ns(delivery.received_at),
    )
    span.end(end_time=unix_ns(delivery.processed_at or utcnow()))
