"""`POST /v1/traces`: spans sent by the real OpenTelemetry SDK come back through GraphQL
exactly as sent; every bad request is refused whole and stores nothing."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.applications import Starlette

from home_idp.server.runtime import Runtime
from home_idp.server.trace.models import Span
from tests.factories import Factory, Person
from tests.graphql import GraphQLClient
from tests.liveserver import live_server
from tests.trace.otlp_helpers import api_token, encode, make_spans, one_span_request, send

TRACE = """
query($id: String!) {
  trace(id: $id) {
    traceId spanCount errorCount status
    spans {
      traceId spanId parentSpanId name kind status statusMessage serviceName project app
      startTimeUnixNano endTimeUnixNano attributes depth
      events { name timeUnixNano attributes }
    }
  }
}
"""
KINDS = {
    SpanKind.INTERNAL: "INTERNAL",
    SpanKind.SERVER: "SERVER",
    SpanKind.CLIENT: "CLIENT",
    SpanKind.PRODUCER: "PRODUCER",
    SpanKind.CONSUMER: "CONSUMER",
}
STATUSES = {StatusCode.UNSET: "UNSET", StatusCode.OK: "OK", StatusCode.ERROR: "ERROR"}


@pytest.fixture
async def address(app: Starlette) -> AsyncIterator[str]:
    async with live_server(app) as served:
        yield served


@pytest.fixture
async def developer(factory: Factory) -> Person:
    person = await factory.user("dev")
    await factory.project("web", dev="developer")
    return person


def checkout(tracer: Tracer) -> None:
    """A small request of a shop: a server span, a database call, a failed payment."""
    with tracer.start_as_current_span(
        "POST /checkout",
        kind=SpanKind.SERVER,
        attributes={"http.method": "POST", "http.status_code": 502, "cart.items": [1, 2, 3]},
    ) as root:
        with tracer.start_as_current_span(
            "SELECT cart", kind=SpanKind.CLIENT, attributes={"db.system": "postgresql"}
        ):
            pass
        with tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT) as charge:
            charge.add_event("retry", {"attempt": 2, "backoff.seconds": 0.5})
            charge.set_attribute("payment.ok", False)
            charge.set_status(Status(StatusCode.ERROR, "card declined"))
        root.set_status(Status(StatusCode.OK))


def expected(span: ReadableSpan) -> dict[str, Any]:
    """What GraphQL must answer for a span the SDK made."""
    context = span.get_span_context()
    assert context is not None and span.start_time and span.end_time
    return {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
        "parentSpanId": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name,
        "kind": KINDS[span.kind],
        "status": STATUSES[span.status.status_code],
        "statusMessage": span.status.description or "",
        "serviceName": "shop-api",
        "project": "web",
        "app": "shop",
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "attributes": {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in {
                **dict(span.resource.attributes),
                **dict(span.attributes or {}),
            }.items()
            if key.startswith("home_idp.")
        }
        | {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dict(span.attributes or {}).items()
        },
        "depth": 0 if span.parent is None else 1,
        "events": [
            {
                "name": event.name,
                "timeUnixNano": str(event.timestamp),
                "attributes": dict(event.attributes or {}),
            }
            for event in span.events
        ],
    }


SHOP = {"service.name": "shop-api", "home_idp.project": "web", "home_idp.app": "shop"}


def trace_id_of(spans: list[ReadableSpan]) -> str:
    context = spans[0].get_span_context()
    assert context is not None
    return f"{context.trace_id:032x}"


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
async def test_spans_sent_by_the_sdk_come_back_identical(
    address: str, developer: Person, gql: GraphQLClient, compressed: bool
) -> None:
    spans = make_spans(checkout, SHOP)
    token = await api_token(developer.user)

    assert await send(address, spans, token, gzip=compressed) is SpanExportResult.SUCCESS

    trace = (await gql(TRACE, {"id": trace_id_of(spans)}, token=developer.token))["trace"]
    by_name = {span["name"]: span for span in trace["spans"]}
    assert set(by_name) == {"POST /checkout", "SELECT cart", "charge card"}
    for span in spans:
        assert by_name[span.name] == expected(span)
    assert trace["spans"][0]["name"] == "POST /checkout"  # earliest first
    assert (trace["spanCount"], trace["errorCount"], trace["status"]) == (3, 1, "ERROR")


async def test_json_requests_are_read_like_protobuf_ones(
    address: str, developer: Person, gql: GraphQLClient
) -> None:
    token = await api_token(developer.user)
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "cron"}},
                        {"key": "home_idp.project", "value": {"stringValue": "web"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "cron"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "name": "nightly backup",
                                "kind": 1,
                                "startTimeUnixNano": "1700000000000000001",
                                "endTimeUnixNano": "1700000002500000000",
                                "attributes": [
                                    {"key": "bytes", "value": {"intValue": "1048576"}},
                                    {"key": "ok", "value": {"boolValue": True}},
                                ],
                                "status": {"code": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"http://{address}/v1/traces",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")

    trace = (await gql(TRACE, {"id": trace_id.upper()}, token=developer.token))["trace"]
    [span] = trace["spans"]
    assert span["spanId"] == span_id
    assert span["startTimeUnixNano"] == "1700000000000000001"
    assert span["kind"] == "INTERNAL"
    assert span["status"] == "OK"
    assert span["serviceName"] == "cron"
    assert span["attributes"] == {"home_idp.project": "web", "bytes": 1048576, "ok": True}


async def test_a_span_sent_again_replaces_the_first_copy(
    address: str, developer: Person, runtime: Runtime
) -> None:
    token = await api_token(developer.user)
    spans = make_spans(checkout, SHOP)
    assert await send(address, spans, token) is SpanExportResult.SUCCESS
    assert await send(address, spans, token) is SpanExportResult.SUCCESS
    assert await Span.filter(trace_id=trace_id_of(spans)).count() == 3


async def test_spans_without_a_project_join_the_project_of_their_trace(
    address: str, developer: Person, gql: GraphQLClient
) -> None:
    token = await api_token(developer.user)
    first = make_spans(checkout, SHOP)
    assert await send(address, first, token) is SpanExportResult.SUCCESS
    parent = first[0].get_span_context()
    assert parent is not None

    def follow_up(tracer: Tracer) -> None:
        from opentelemetry import trace

        context = trace.set_span_in_context(trace.NonRecordingSpan(parent))
        with tracer.start_as_current_span("send receipt", context=context):
            pass

    later = make_spans(follow_up, {"service.name": "mailer"})
    assert await send(address, later, token) is SpanExportResult.SUCCESS
    trace = (await gql(TRACE, {"id": trace_id_of(first)}, token=developer.token))["trace"]
    receipt = next(span for span in trace["spans"] if span["name"] == "send receipt")
    assert (receipt["project"], receipt["serviceName"]) == ("web", "mailer")
    assert trace["spanCount"] == 4


# --- refusals: each stores nothing ------------------------------------------------------


async def post(address: str, body: bytes, token: str | None, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/x-protobuf", **headers}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient() as client:
        return await client.post(f"http://{address}/v1/traces", content=body, headers=sent)


async def test_without_a_valid_token_nothing_is_stored(address: str, developer: Person) -> None:
    body = encode(make_spans(checkout, SHOP))
    assert (await post(address, body, None)).status_code == 401
    assert (await post(address, body, "hidp_not_a_real_token")).status_code == 401
    assert await send(address, make_spans(checkout, SHOP), None) is SpanExportResult.FAILURE
    assert await Span.all().count() == 0


async def test_a_read_only_token_may_not_send(address: str, developer: Person) -> None:
    token = await api_token(developer.user, scopes=["read"])
    response = await post(address, encode(make_spans(checkout, SHOP)), token)
    assert response.status_code == 403
    assert "read-only" in response.text
    assert await Span.all().count() == 0


async def test_spans_of_a_project_the_sender_is_not_in_are_refused(
    address: str, developer: Person, factory: Factory
) -> None:
    await factory.project("payroll")
    token = await api_token(developer.user)
    mixed = make_spans(checkout, SHOP) + make_spans(
        checkout, {"service.name": "hr", "home_idp.project": "payroll"}
    )
    response = await post(address, encode(mixed), token)
    assert response.status_code == 403
    assert "payroll" in response.text
    assert await Span.all().count() == 0  # not even the spans of `web`


async def test_viewers_may_not_send_spans(address: str, factory: Factory) -> None:
    viewer = await factory.user("vic")
    await factory.project("web", vic="viewer")
    response = await post(address, encode(make_spans(checkout, SHOP)), await api_token(viewer.user))
    assert response.status_code == 403
    assert await Span.all().count() == 0


async def test_only_administrators_send_spans_of_no_project(
    address: str, developer: Person, factory: Factory, gql: GraphQLClient
) -> None:
    spans = make_spans(checkout, {"service.name": "edge-proxy"})
    response = await post(address, encode(spans), await api_token(developer.user))
    assert response.status_code == 403
    assert "home_idp.project" in response.text
    assert await Span.all().count() == 0

    admin = await factory.user("root", admin=True)
    assert await send(address, spans, await api_token(admin.user)) is SpanExportResult.SUCCESS
    trace_id = trace_id_of(spans)
    assert (await gql(TRACE, {"id": trace_id}, token=admin.token))["trace"]["spanCount"] == 3
    # Members of projects do not see spans of no project.
    assert (await gql(TRACE, {"id": trace_id}, token=developer.token))["trace"] is None


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"\x0a\xff\xff\xff", "application/x-protobuf", 400, "ExportTraceServiceRequest"),
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "JSON object"),
        (b'{"resourceSpans": 7}', "application/json", 400, "resourceSpans"),
        (one_span_request(traceId="0" * 32), "application/json", 400, "traceId"),
        (one_span_request(traceId="xyz"), "application/json", 400, "not hex"),
        (one_span_request(spanId="abcd"), "application/json", 400, "spanId"),
        (one_span_request(name=""), "application/json", 400, "no name"),
        (
            one_span_request(endTimeUnixNano="1600000000000000000"),
            "application/json",
            400,
            "ends before it starts",
        ),
        (
            one_span_request(attributes=[{"key": "blob", "value": {"stringValue": "x" * 70_000}}]),
            "application/json",
            400,
            "attributes and events",
        ),
        (one_span_request(), "text/plain", 415, "Content-Type"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nests too deeply"),
        (
            one_span_request(endTimeUnixNano=str(2**64 - 1)),
            "application/json",
            400,
            "2262",
        ),
        (
            one_span_request(attributes=[{"key": "x", "value": {"doubleValue": "NaN"}}]),
            "application/json",
            400,
            "finite number",
        ),
        (
            one_span_request(
                events=[
                    {"name": f"e{n}", "timeUnixNano": "1700000000000000000"} for n in range(129)
                ]
            ),
            "application/json",
            400,
            "more than 128",
        ),
    ],
    ids=[
        "protobuf-garbage",
        "json-garbage",
        "json-array",
        "json-wrong-shape",
        "zero-trace-id",
        "non-hex-id",
        "short-span-id",
        "no-name",
        "ends-before-start",
        "huge-attributes",
        "wrong-content-type",
        "deeply-nested-json",
        "time-past-int64",
        "nan-attribute",
        "too-many-events",
    ],
)
async def test_malformed_requests_are_refused(
    address: str, developer: Person, body: bytes, content_type: str, status: int, says: str
) -> None:
    token = await api_token(developer.user)
    response = await post(address, body, token, **{"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert says in response.text
    assert await Span.all().count() == 0


async def test_oversized_requests_get_413(
    address: str, developer: Person, runtime: Runtime
) -> None:
    token = await api_token(developer.user)
    limit = runtime.settings.trace.max_ingest_bytes
    too_big = b"\x00" * (limit + 1)
    assert (await post(address, too_big, token)).status_code == 413
    # A small gzip body that inflates past the limit is stopped while inflating.
    bomb = gzip.compress(b"\x00" * (limit + 10))
    response = await post(address, bomb, token, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "inflated" in response.text

    def many(tracer: Tracer) -> None:
        for number in range(runtime.settings.trace.max_ingest_spans + 1):
            tracer.start_span(f"span {number}").end()

    response = await post(address, encode(make_spans(many, SHOP)), token)
    assert response.status_code == 413
    assert "spans in one request" in response.text
    assert await Span.all().count() == 0


async def test_refusals_of_protobuf_requests_are_google_rpc_statuses(
    address: str, developer: Person
) -> None:
    from google.rpc import status_pb2

    response = await post(address, b"\x0a\xff\xff", await api_token(developer.user))
    assert response.status_code == 400
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    assert status.code == 3  # INVALID_ARGUMENT
    assert "ExportTraceServiceRequest" in status.message


async def test_a_truncated_gzip_body_is_refused(address: str, developer: Person) -> None:
    body = gzip.compress(encode(make_spans(checkout, SHOP)))
    response = await post(
        address,
        body[: len(body) // 2],
        await api_token(developer.user),
        **{"Content-Encoding": "gzip"},
    )
    assert response.status_code == 400
    assert "truncated" in response.text
    assert await Span.all().count() == 0


async def test_spans_of_another_project_are_never_overwritten(
    address: str, developer: Person, factory: Factory, gql: GraphQLClient
) -> None:
    # `dev` develops `web`; `payroll` has a span `dev` can learn the ids of.
    owner = await factory.user("pam")
    await factory.project("payroll", pam="maintainer", dev="viewer")
    theirs = make_spans(checkout, {"service.name": "hr", "home_idp.project": "payroll"})
    assert await send(address, theirs, await api_token(owner.user)) is SpanExportResult.SUCCESS

    # The same ids, claimed for `web`, where `dev` may send spans.
    forged = [
        ReadableSpan(
            name="forged",
            context=span.get_span_context(),
            parent=span.parent,
            resource=Resource.create({"home_idp.project": "web"}),
            start_time=span.start_time,
            end_time=span.end_time,
        )
        for span in theirs
    ]
    assert await send(address, forged, await api_token(developer.user)) is SpanExportResult.SUCCESS
    stored = await Span.filter(trace_id=trace_id_of(theirs)).values_list("name", "project")
    assert sorted(stored) == sorted((span.name, "payroll") for span in theirs)


async def test_spans_of_one_project_do_not_hide_or_rename_another_projects_trace(
    address: str, developer: Person, factory: Factory, gql: GraphQLClient
) -> None:
    owner = await factory.user("pam")
    await factory.project("payroll", pam="maintainer")
    theirs = make_spans(checkout, {"service.name": "hr", "home_idp.project": "payroll"})
    assert await send(address, theirs, await api_token(owner.user)) is SpanExportResult.SUCCESS
    context = theirs[0].get_span_context()
    assert context is not None

    def earlier_root(tracer: Tracer) -> None:
        # A root span that started before theirs, in their trace, named by `web`.
        from opentelemetry import trace

        parent = trace.set_span_in_context(
            trace.NonRecordingSpan(trace.SpanContext(context.trace_id, 0x1234, is_remote=False))
        )
        tracer.start_span("renamed!", context=parent, start_time=1).end(end_time=2)

    ours = make_spans(earlier_root, SHOP)
    assert await send(address, ours, await api_token(developer.user)) is SpanExportResult.SUCCESS

    trace_id = trace_id_of(theirs)
    trace = (await gql(TRACE, {"id": trace_id}, token=owner.token))["trace"]
    assert trace["spanCount"] == 3 and "renamed!" not in [s["name"] for s in trace["spans"]]
    listed = (
        await gql(
            "{ traces(first: 5) { edges { node { traceId name project } } } }", token=owner.token
        )
    )["traces"]["edges"]
    assert [edge["node"] for edge in listed] == [
        {"traceId": trace_id, "name": "POST /checkout", "project": "payroll"}
    ]
