"""A span sent over OTLP cannot take many times more room stored than it took on the wire.

Each request here is small and crafted to grow when stored (empty events
become JSON objects with long keys, control characters become six-byte
escapes, a resource attribute is copied into every span). Stored, a span
takes at most `INFLATION` times the bytes of the request that would carry it
alone; what would not fit is dropped, and the answer says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Tracer
from starlette.applications import Starlette

from home_idp.server.runtime import Runtime
from home_idp.server.trace.models import Span
from home_idp.server.trace.tracing import EndedSpan, new_span_id, new_trace_id
from tests.factories import Factory
from tests.liveserver import live_server
from tests.trace.otlp_helpers import api_token, make_spans, send

# The documented bound (HOME_IDP_TRACE__MAX_SPAN_INFLATION's default).
INFLATION = 5
TRACE_ID = "5b8efff798038103d269b633813fc60c"
WEB = [{"key": "home_idp.project", "value": {"stringValue": "web"}}]


@pytest.fixture
async def address(app: Starlette) -> AsyncIterator[str]:
    async with live_server(app) as served:
        yield served


@pytest.fixture
async def token(factory: Factory) -> str:
    person = await factory.user("dev")
    await factory.project("web", dev="developer")
    return await api_token(person.user)


def json_request(spans: list[dict[str, Any]], resource: list[dict[str, Any]] = WEB) -> bytes:
    """An OTLP/JSON body, as compact as a sender can make it."""
    body = {
        "resourceSpans": [{"resource": {"attributes": resource}, "scopeSpans": [{"spans": spans}]}]
    }
    return json.dumps(body, separators=(",", ":")).encode()


def json_span(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "traceId": TRACE_ID,
        "spanId": f"{number + 1:016x}",
        "name": "j",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "1",
        **fields,
    }


def protobuf_request(body: bytes) -> bytes:
    """The same request as binary protobuf (ids in hex become bytes)."""
    document = json.loads(body)
    request = ExportTraceServiceRequest()
    for resource in document["resourceSpans"]:
        sent = request.resource_spans.add()
        for pair in resource["resource"]["attributes"]:
            sent.resource.attributes.append(
                KeyValue(key=pair["key"], value=AnyValue(string_value=pair["value"]["stringValue"]))
            )
        scope = sent.scope_spans.add()
        for span in resource["scopeSpans"][0]["spans"]:
            ids = {key: bytes.fromhex(span.pop(key)) for key in ("traceId", "spanId")}
            message = json_format.ParseDict(span, ProtoSpan())
            message.trace_id, message.span_id = ids["traceId"], ids["spanId"]
            scope.spans.append(message)
    serialised: bytes = request.SerializeToString()
    return serialised


def alone(body: bytes, span_id: str, content_type: str) -> int:
    """The size of the request that would carry only the span `span_id` of `body`."""
    if content_type == "application/json":
        document = json.loads(body)
        for resource in document["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                scope["spans"] = [span for span in scope["spans"] if span["spanId"] == span_id]
        return len(json.dumps(document, separators=(",", ":")).encode())
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    for resource in request.resource_spans:
        for scope in resource.scope_spans:
            keep = [span for span in scope.spans if span.span_id.hex() == span_id]
            del scope.spans[:]
            scope.spans.extend(keep)
    return request.ByteSize()


async def stored_sizes() -> dict[str, int]:
    """Each stored span's size: its text in UTF-8, 8 bytes a number, JSON as it is written."""
    sizes = {}
    for row in await Span.all().values():
        texts = [value for key, value in row.items() if isinstance(value, str)]
        detail = [
            json.dumps(row[key], separators=(",", ":"), default=str)
            for key in ("attributes", "events")
        ]
        sizes[row["span_id"]] = sum(len(text.encode()) for text in texts + detail) + 2 * 8
    return sizes


async def post(address: str, body: bytes, token: str, content_type: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"http://{address}/v1/traces",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )


def partial_success(response: httpx.Response) -> str:
    """The answer's `partial_success` message (OTLP's way to say what was dropped)."""
    if response.headers["content-type"].startswith("application/json"):
        message: str = response.json().get("partialSuccess", {}).get("errorMessage", "")
        return message
    answer = ExportTraceServiceResponse()
    answer.ParseFromString(response.content)
    assert answer.partial_success.rejected_spans == 0
    return answer.partial_success.error_message


# Each becomes many times larger stored than sent, unless bounded.
EMPTY_EVENTS = json_request([json_span(n, events=[{}] * 128) for n in range(50)])
CONTROL_CHARACTERS = json_request(
    [
        json_span(n, attributes=[{"key": "blob", "value": {"stringValue": "\x01" * 10_000}}])
        for n in range(20)
    ]
)
ENCODINGS = {"json": "application/json", "protobuf": "application/x-protobuf"}


def encoded(body: bytes, encoding: str) -> bytes:
    return body if encoding == "json" else protobuf_request(body)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("crafted", "spans"),
    [(EMPTY_EVENTS, 50), (CONTROL_CHARACTERS, 20)],
    ids=["empty-events", "control-characters"],
)
async def test_a_stored_span_is_at_most_a_few_times_its_size_on_the_wire(
    address: str, token: str, crafted: bytes, spans: int, encoding: str
) -> None:
    body, content_type = encoded(crafted, encoding), ENCODINGS[encoding]
    response = await post(address, body, token, content_type)
    assert response.status_code == 200, response.text

    sizes = await stored_sizes()
    assert len(sizes) == spans  # every span is kept, only trimmed
    worst = max(size / alone(body, span_id, content_type) for span_id, size in sizes.items())
    assert worst <= INFLATION, f"a span takes {worst:.1f} times its size on the wire"
    # The whole request likewise, but for each span's copy of the resource's
    # project name (as an attribute and a column), which the request sends once.
    copies = spans * len('"home_idp.project":"web",web')
    assert sum(sizes.values()) <= INFLATION * len(body) + copies
    # The sender is told what was dropped, as OTLP lets a server do.
    assert "dropped" in partial_success(response)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_a_resource_attribute_is_not_copied_into_every_span(
    address: str, token: str, encoding: str
) -> None:
    # One long, meaningless app name on the resource, and many tiny spans.
    resource = [*WEB, {"key": "home_idp.app", "value": {"stringValue": "x" * 30_000}}]
    body = encoded(json_request([json_span(n) for n in range(2000)], resource), encoding)
    response = await post(address, body, token, ENCODINGS[encoding])
    assert response.status_code == 200, response.text

    sizes = await stored_sizes()
    assert len(sizes) == 2000
    total = sum(sizes.values())
    assert total <= INFLATION * len(body), f"stored {total / len(body):.0f} times the request"
    stored = await Span.filter(trace_id=TRACE_ID).first().values("attributes", "project", "app")
    assert stored == {"attributes": {"home_idp.project": "web"}, "project": "web", "app": None}


async def test_what_fits_is_kept_whole(address: str, token: str) -> None:
    # Two real attributes, then 128 empty events: the attributes stay, the events go first.
    attributes = [
        {"key": "http.route", "value": {"stringValue": "/checkout"}},
        {"key": "http.status_code", "value": {"intValue": "200"}},
    ]
    body = json_request([json_span(0, attributes=attributes, events=[{}] * 128)])
    response = await post(address, body, token, "application/json")
    assert response.status_code == 200, response.text
    span = await Span.get(trace_id=TRACE_ID)
    assert span.attributes == {
        "home_idp.project": "web",
        "http.route": "/checkout",
        "http.status_code": 200,
    }
    assert 0 < len(span.events) < 128
    assert span.events[0] == {"name": "", "time_ns": 0, "attributes": {}}
    assert f"{128 - len(span.events)} events" in partial_success(response)


def many_short_events(tracer: Tracer) -> None:
    """The most a default OpenTelemetry SDK puts in a span of tiny events."""
    with tracer.start_as_current_span("poll", attributes={"queue": "jobs"}) as span:
        for _ in range(128):
            span.add_event("e")


async def test_spans_made_by_an_sdk_are_stored_whole(
    address: str, token: str, runtime: Runtime
) -> None:
    spans = make_spans(many_short_events, {"service.name": "worker", "home_idp.project": "web"})
    assert await send(address, spans, token) is SpanExportResult.SUCCESS
    [span] = await Span.all()
    assert len(span.events) == 128
    assert span.attributes == {"home_idp.project": "web", "queue": "jobs"}


async def test_the_servers_own_spans_are_not_trimmed(runtime: Runtime) -> None:
    tracing = runtime.trace.tracing
    trace_id, start = new_trace_id(), time.time_ns()
    tracing.emit(
        EndedSpan(
            name="await-push",
            trace_id=trace_id,
            span_id=new_span_id(),
            parent_span_id=None,
            start_ns=start,
            end_ns=start + 1000,
            attributes={"home_idp.project": "web"},
            events=[("", 0, {}) for _ in range(128)],
        )
    )
    await tracing.flush()
    span = await Span.get(trace_id=trace_id)
    assert len(span.events) == 128
