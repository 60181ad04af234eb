"""OTLP/HTTP trace requests: decoded into span records, with typed refusals.

Both encodings of the OTLP/HTTP protocol are read: binary protobuf
(`application/x-protobuf`) and JSON (`application/json`, where trace and
span ids are hex strings rather than protobuf JSON's base64). A gzip body is
inflated up to the size limit only, so a small bomb cannot fill memory.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterator
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from home_idp.server.trace.records import (
    APP_ATTRIBUTE,
    PROJECT_ATTRIBUTE,
    SPAN_KINDS,
    SPAN_STATUSES,
    InvalidSpan,
    SpanRecord,
)

__all__ = ["JSON", "PROTOBUF", "OtlpRefused", "decode_request", "error_body", "success_body"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_SERVICE_NAME = "service.name"
# Attributes, and events, of one span at most (the SDK's own default limit).
MAX_ITEMS = 128
# Resource attributes that place every span of the resource in a project and app.
_PLACING = (PROJECT_ATTRIBUTE, APP_ATTRIBUTE)
# zlib's window bits for each Content-Encoding: gzip's header, or zlib's (deflate).
_WINDOW_BITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class OtlpRefused(Exception):
    """A request that is not stored; `status` is the HTTP answer (400, 413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def decode_request(
    body: bytes,
    *,
    content_type: str | None,
    content_encoding: str | None,
    max_bytes: int,
    max_spans: int,
) -> list[SpanRecord]:
    """Every span of an export request, checked; OtlpRefused says why not."""
    kind = media_type(content_type)
    if kind not in (PROTOBUF, JSON):
        raise OtlpRefused(415, f"Content-Type must be {PROTOBUF} or {JSON}")
    body = _inflated(body, (content_encoding or "identity").strip().lower(), max_bytes)
    request = _parse_json(body) if kind == JSON else _parse_protobuf(body)
    count = sum(
        len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans
    )
    if count > max_spans:
        raise OtlpRefused(413, f"{count} spans in one request; at most {max_spans}")
    try:
        return list(_records(request))
    except InvalidSpan as error:
        raise OtlpRefused(400, str(error)) from None


def success_body(kind: str) -> bytes:
    """The answer to a stored request, in the request's encoding."""
    if kind == JSON:
        return b"{}"
    answer: bytes = ExportTraceServiceResponse().SerializeToString()
    return answer


def error_body(kind: str, status: int, message: str) -> bytes:
    """A refusal as OTLP describes it: a google.rpc.Status."""
    if kind == PROTOBUF:
        answer: bytes = status_pb2.Status(
            code=_rpc_code(status), message=message
        ).SerializeToString()
        return answer
    return json.dumps({"code": _rpc_code(status), "message": message}).encode()


def _rpc_code(status: int) -> int:
    # google.rpc.Code: INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAUTHENTICATED, PERMISSION_DENIED.
    return {400: 3, 413: 8, 401: 16, 403: 7}.get(status, 2)


def _inflated(body: bytes, encoding: str, max_bytes: int) -> bytes:
    if encoding == "identity":
        return body
    if encoding not in _WINDOW_BITS:
        raise OtlpRefused(
            415, f"Content-Encoding {encoding[:40]!r} is not supported (use gzip or deflate)"
        )
    inflater = zlib.decompressobj(wbits=_WINDOW_BITS[encoding])
    try:
        inflated = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        raise OtlpRefused(400, f"the body is not valid {encoding}") from None
    if len(inflated) > max_bytes or inflater.unconsumed_tail:
        raise OtlpRefused(413, f"the inflated body is larger than {max_bytes} bytes")
    if not inflater.eof or inflater.unused_data:
        raise OtlpRefused(400, f"the {encoding} body is truncated or has data after its end")
    return inflated


def _parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        raise OtlpRefused(400, "the body is not an OTLP ExportTraceServiceRequest") from None
    return request


def _parse_json(body: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise OtlpRefused(400, "the body is not valid JSON (or nests too deeply)") from None
    if not isinstance(document, dict):
        raise OtlpRefused(400, "the body must be a JSON object with resourceSpans")
    try:
        _hex_ids_to_base64(document)
        request = ExportTraceServiceRequest()
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
        return request
    except (json_format.ParseError, TypeError, AttributeError) as error:
        raise OtlpRefused(400, f"not an OTLP trace request: {str(error)[:200]}") from None


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP JSON writes ids in hex; protobuf's JSON mapping reads bytes as base64."""
    for resource in _items(document, "resourceSpans"):
        for scope in _items(resource, "scopeSpans"):
            for span in _items(scope, "spans"):
                for key in ("traceId", "spanId", "parentSpanId"):
                    value = span.get(key)
                    if isinstance(value, str) and value:
                        try:
                            span[key] = base64.b64encode(bytes.fromhex(value)).decode()
                        except ValueError:
                            raise OtlpRefused(400, f"{key} {value[:40]!r} is not hex") from None
                for link in _items(span, "links"):
                    for key in ("traceId", "spanId"):
                        value = link.get(key)
                        if isinstance(value, str) and value:
                            try:
                                link[key] = base64.b64encode(bytes.fromhex(value)).decode()
                            except ValueError:
                                raise OtlpRefused(400, f"link {key} is not hex") from None


def _items(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = parent.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise OtlpRefused(400, f"{key} must be a list of objects")
    return value


def _records(request: ExportTraceServiceRequest) -> Iterator[SpanRecord]:
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        service = resource.get(_SERVICE_NAME)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield _record(span, resource, service if isinstance(service, str) else "")


def _record(span: ProtoSpan, resource: dict[str, Any], service: str) -> SpanRecord:
    # Counted on the message, before anything is built from it.
    if len(span.attributes) > MAX_ITEMS or len(span.events) > MAX_ITEMS:
        raise InvalidSpan(
            f"span {span.span_id.hex()} has more than {MAX_ITEMS} attributes or events"
        )
    own = attributes(span.attributes)
    placed = {key: resource[key] for key in _PLACING if key in resource}
    return SpanRecord(
        trace_id=_hex(span.trace_id, "traceId"),
        span_id=_hex(span.span_id, "spanId"),
        parent_span_id=span.parent_span_id.hex() or None,
        name=span.name,
        kind=SPAN_KINDS[span.kind] if 0 <= span.kind < len(SPAN_KINDS) else "unspecified",
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        status=SPAN_STATUSES[span.status.code] if 0 <= span.status.code < 3 else "unset",
        status_message=span.status.message,
        # A project or app named on the resource places every span of it.
        attributes={**placed, **own},
        events=[
            {
                "name": event.name,
                "time_ns": event.time_unix_nano,
                "attributes": attributes(event.attributes),
            }
            for event in span.events
        ],
        service_name=service,
    )


def _hex(value: bytes, what: str) -> str:
    if not value:
        raise InvalidSpan(f"a span has no {what}")
    return binascii.hexlify(value).decode()


def attributes(pairs: Any) -> dict[str, Any]:
    """OTLP key-values as a JSON-ready dict."""
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which is None:
        return None
    return getattr(value, which)
