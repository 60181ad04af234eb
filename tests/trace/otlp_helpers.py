"""Making spans with the real OpenTelemetry SDK and sending them over OTLP/HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from home_idp.server.rbac.models import ApiToken, User
from home_idp.server.rbac.tokens import hash_api_token, new_api_token

__all__ = ["api_token", "encode", "make_spans", "one_span_request", "send"]


async def api_token(user: User, scopes: Sequence[str] = ("read", "write")) -> str:
    """A new API token of `user`, as its secret."""
    secret = new_api_token()
    await ApiToken.create(
        user=user,
        name=f"otlp-{secret[-6:]}",
        token_hash=hash_api_token(secret),
        prefix=secret[:9],
        scopes=list(scopes),
    )
    return secret


def make_spans(
    write: Callable[[Tracer], None], resource: dict[str, Any] | None = None
) -> list[ReadableSpan]:
    """The finished spans `write` makes with a real SDK tracer."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource or {"service.name": "shop-api"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    write(provider.get_tracer("tests.shop"))
    provider.shutdown()
    return list(memory.get_finished_spans())


async def send(
    address: str,
    spans: Sequence[ReadableSpan],
    token: str | None,
    *,
    gzip: bool = False,
) -> SpanExportResult:
    """Export `spans` with the SDK's own OTLP/HTTP exporter (it blocks: a thread runs it)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    exporter = OTLPSpanExporter(
        endpoint=f"http://{address}/v1/traces",
        headers=headers,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
        timeout=10,
    )
    try:
        return await asyncio.to_thread(exporter.export, list(spans))
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated


def encode(spans: Sequence[ReadableSpan]) -> bytes:
    """The protobuf body the exporter would send."""
    body: bytes = encode_spans(list(spans)).SerializeToString()
    return body


def one_span_request(**span: Any) -> bytes:
    """An OTLP/JSON request of one span (of the project `web`), with `span` changed."""
    fields = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "job",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        **span,
    }
    resource = {"attributes": [{"key": "home_idp.project", "value": {"stringValue": "web"}}]}
    return json.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [fields]}]}]}
    ).encode()
