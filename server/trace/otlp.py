"""OTLP/HTTP trace requests: decoded into span records, with typed refusals.

Both encodings of the OTLP/HTTP protocol are read: binary protobuf
(`application/x-protobuf`) and JSON (`application/json`, where trace and
span ids are hex strings rather than protobuf JSON's base64). A gzip body is
inflated up to the size limit only, so a small bomb cannot fill memory.

Each span is bounded as the OpenTelemetry SDK bounds its own (counts of
attributes and events, length of values), and by its size on the wire: a
few bytes sent must not become many stored (an empty event is 2 bytes of
protobuf and 40 of JSON), so what does not fit is dropped and counted.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from home_idp.server.settings import TraceSettings
from home_idp.server.trace.records import (
    APP_ATTRIBUTE,
    PROJECT_ATTRIBUTE,
    SPAN_KINDS,
    SPAN_STATUSES,
    InvalidSpan,
    SpanRecord,
    stored_json,
)

__all__ = [
    "JSON",
    "PROTOBUF",
    "DecodedRequest",
    "OtlpRefused",
    "SpanLimits",
    "decode_request",
    "error_body",
    "success_body",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_SERVICE_NAME = "service.name"
# Resource attributes that place every span of the resource in a project and app.
_PLACING = (PROJECT_ATTRIBUTE, APP_ATTRIBUTE)
# As SpanRecord cuts the service name (the column's length).
_MAX_SERVICE = 255
_MAX_LABEL = 63
# zlib's window bits for each Content-Encoding: gzip's header, or zlib's (deflate).
_WINDOW_BITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class OtlpRefused(Exception):
    """A request that is not stored; `status` is the HTTP answer (400, 413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class SpanLimits:
    """What one span sent over OTLP may carry; the defaults are the OpenTelemetry SDK's."""

    attribute_count: int = 128
    event_count: int = 128
    event_attribute_count: int = 128
    # Longer string values are cut to this many characters, bytes values to this many bytes.
    attribute_value_length: int | None = None
    # Stored bytes per byte of the span on the wire (see SpanRecord.stored_bytes).
    inflation: float = 5.0

    @classmethod
    def of(cls, settings: TraceSettings) -> SpanLimits:
        return cls(
            attribute_count=settings.span_attribute_count_limit,
            event_count=settings.span_event_count_limit,
            event_attribute_count=settings.event_attribute_count_limit,
            attribute_value_length=settings.attribute_value_length_limit,
            inflation=settings.max_span_inflation,
        )


@dataclass
class DecodedRequest:
    """The spans of a request, and what was dropped to keep them within their bounds."""

    inflation: float
    records: list[SpanRecord] = field(default_factory=list)
    dropped_attributes: int = 0
    dropped_events: int = 0
    trimmed_spans: int = 0

    @property
    def warning(self) -> str:
        """What the sender is told about dropped data; empty when nothing was dropped."""
        if not self.trimmed_spans:
            return ""
        return (
            f"dropped {self.dropped_attributes} attributes and {self.dropped_events} events "
            f"from {self.trimmed_spans} span(s): a span is stored in at most "
            f"{self.inflation:g} times its size on the wire"
        )


def media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def decode_request(
    body: bytes,
    *,
    content_type: str | None,
    content_encoding: str | None,
    max_bytes: int,
    max_spans: int,
    limits: SpanLimits = SpanLimits(),
) -> DecodedRequest:
    """Every span of an export request, checked and bounded; OtlpRefused says why not."""
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
    decoded = DecodedRequest(limits.inflation)
    try:
        for record in _records(request, limits):
            decoded.records.append(record)
            if record.dropped_attributes or record.dropped_events:
                decoded.trimmed_spans += 1
                decoded.dropped_attributes += record.dropped_attributes
                decoded.dropped_events += record.dropped_events
    except InvalidSpan as error:
        raise OtlpRefused(400, str(error)) from None
    return decoded


def success_body(kind: str, warning: str = "") -> bytes:
    """The answer to a stored request, in the request's encoding.

    A warning goes in `partial_success` with no span rejected, as OTLP
    lets a server tell a sender about data it accepted but changed.
    """
    if kind == JSON:
        if not warning:
            return b"{}"
        return json.dumps({"partialSuccess": {"errorMessage": warning}}).encode()
    response = ExportTraceServiceResponse()
    if warning:
        response.partial_success.CopyFrom(ExportTracePartialSuccess(error_message=warning))
    answer: bytes = response.SerializeToString()
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
                if refused := _encode_ids(span, ("traceId", "spanId", "parentSpanId")):
                    key, value = refused
                    raise OtlpRefused(400, f"{key} {value[:40]!r} is not hex")
                for link in _items(span, "links"):
                    if refused := _encode_ids(link, ("traceId", "spanId")):
                        raise OtlpRefused(400, f"link {refused[0]} is not hex")


def _encode_ids(item: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, str] | None:
    """Rewrites `item`'s hex ids under `keys` in base64, stopping at the first
    one that is not hex: that key and its value are returned."""
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value:
            try:
                item[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                return key, value
    return None


def _items(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = parent.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise OtlpRefused(400, f"{key} must be a list of objects")
    return value


def _records(request: ExportTraceServiceRequest, limits: SpanLimits) -> Iterator[SpanRecord]:
    for resource_spans in request.resource_spans:
        # Only what every span of the resource keeps a copy of.
        resource = attributes(
            pair
            for pair in resource_spans.resource.attributes
            if pair.key == _SERVICE_NAME or pair.key in _PLACING
        )
        service = resource.get(_SERVICE_NAME)
        service = service[:_MAX_SERVICE] if isinstance(service, str) else ""
        # Only names place a span; anything else would be copied into every span for nothing.
        placed = {key: resource[key] for key in _PLACING if _is_label(resource.get(key))}
        # The copies are stored once per span, but sent once per resource: they
        # are allowed for what they are, not multiplied like the span's own bytes.
        copies = len(service.encode()) + sum(
            len(stored_json(key)) + len(stored_json(value)) + 2 + len(value)
            for key, value in placed.items()
        )
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield _record(span, placed, service, copies, limits)


def _is_label(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_LABEL


def _record(
    span: ProtoSpan, placed: dict[str, Any], service: str, copies: int, limits: SpanLimits
) -> SpanRecord:
    # Counted on the message, before anything is built from it.
    where = f"span {span.span_id.hex()}"
    if len(span.attributes) > limits.attribute_count:
        raise InvalidSpan(f"{where} has more than {limits.attribute_count} attributes")
    if len(span.events) > limits.event_count:
        raise InvalidSpan(f"{where} has more than {limits.event_count} events")
    if any(len(event.attributes) > limits.event_attribute_count for event in span.events):
        raise InvalidSpan(
            f"an event of {where} has more than {limits.event_attribute_count} attributes"
        )
    cut = limits.attribute_value_length
    own = attributes(span.attributes, cut)
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
                "attributes": attributes(event.attributes, cut),
            }
            for event in span.events
        ],
        service_name=service,
        max_stored_bytes=int(limits.inflation * span.ByteSize()) + copies,
    )


def _hex(value: bytes, what: str) -> str:
    if not value:
        raise InvalidSpan(f"a span has no {what}")
    return binascii.hexlify(value).decode()


def attributes(pairs: Any, cut: int | None = None) -> dict[str, Any]:
    """OTLP key-values as a JSON-ready dict; strings and bytes cut to `cut`, if given."""
    return {pair.key: _value(pair.value, cut) for pair in pairs if isinstance(pair, KeyValue)}


def _value(value: AnyValue, cut: int | None) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(item, cut) for item in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values, cut)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value[:cut]).decode()
    if which == "string_value":
        return value.string_value[:cut]
    if which is None:
        return None
    return getattr(value, which)
