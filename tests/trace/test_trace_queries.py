"""Trace queries: the list with its filters and pages, live spans over a websocket,
retention, and export of home-idp's own spans to a collector."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Status, StatusCode, Tracer
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from home_idp.server.events import EventBus
from home_idp.server.runtime import Runtime
from home_idp.server.settings import TraceSettings
from home_idp.server.trace.models import Span
from home_idp.server.trace.retention import Retention
from home_idp.server.trace.store import SpanStore, trace_topic
from home_idp.server.trace.tracing import EndedSpan, Tracing, new_span_id, new_trace_id
from tests.factories import Factory, Person
from tests.graphql import GraphQLClient
from tests.liveserver import live_server
from tests.trace.otlp_helpers import api_token, make_spans, send

TRACES = """
query($filter: TraceFilter, $first: Int!, $after: String) {
  traces(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { traceId name spanCount errorCount status project app serviceName durationMs } }
  }
}
"""
HOUR_NS = 3600 * 1_000_000_000


async def a_trace(
    project: str | None,
    app: str,
    name: str,
    *,
    start_ns: int,
    spans: int = 2,
    failed: bool = False,
) -> str:
    """A stored trace: a root and children, the last failed if asked."""
    trace_id = new_trace_id()
    root = new_span_id()
    for number in range(spans):
        await Span.create(
            trace_id=trace_id,
            span_id=root if number == 0 else new_span_id(),
            parent_span_id=None if number == 0 else root,
            name=name if number == 0 else f"{name} part {number}",
            kind="internal",
            start_ns=start_ns + number * 1000,
            end_ns=start_ns + 1_000_000_000,
            status="error" if failed and number == spans - 1 else "ok",
            project=project,
            app=app,
            service_name="svc",
        )
    return trace_id


@pytest.fixture
async def team(factory: Factory) -> Person:
    person = await factory.user("dev")
    await factory.project("web", dev="developer")
    await factory.project("api", dev="viewer")
    await factory.project("hidden")
    return person


async def test_traces_are_listed_newest_first_in_pages(gql: GraphQLClient, team: Person) -> None:
    now = time.time_ns()
    made = [await a_trace("web", "shop", f"job {n}", start_ns=now - n * HOUR_NS) for n in range(5)]
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(TRACES, {"first": 2, "after": after}, token=team.token))["traces"]
        assert page["totalCount"] == 5
        seen += [edge["node"]["traceId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == made  # newest first, each once
    node = page["edges"][0]["node"]
    assert node["name"] == "job 4" and node["spanCount"] == 2 and node["durationMs"] == 1000.0


async def test_filters_narrow_the_list(gql: GraphQLClient, team: Person) -> None:
    now = time.time_ns()
    shop = await a_trace("web", "shop", "checkout", start_ns=now - HOUR_NS)
    failed = await a_trace("web", "cart", "add item", start_ns=now - 2 * HOUR_NS, failed=True)
    other = await a_trace("api", "gateway", "route", start_ns=now - 3 * HOUR_NS)
    old = await a_trace("web", "shop", "ancient", start_ns=now - 48 * HOUR_NS)
    await a_trace("hidden", "vault", "secret work", start_ns=now)
    await a_trace(None, "-", "no project", start_ns=now)

    async def listed(**filter_: Any) -> list[str]:
        page = (await gql(TRACES, {"filter": filter_, "first": 50}, token=team.token))["traces"]
        return [edge["node"]["traceId"] for edge in page["edges"]]

    assert await listed() == [shop, failed, other, old]  # never "hidden" or no project
    assert await listed(project="web") == [shop, failed, old]
    assert await listed(project="web", app="shop") == [shop, old]
    assert await listed(status="ERROR") == [failed]
    assert await listed(status="OK", project="api") == [other]
    # A time without a zone is UTC.
    since = (datetime.now(UTC) - timedelta(hours=24)).replace(tzinfo=None).isoformat()
    until = (datetime.now(UTC) - timedelta(minutes=90)).isoformat()
    assert await listed(since=since, until=until) == [failed, other]
    assert await listed(project="hidden") == []


async def test_bad_arguments_get_clear_errors(gql: GraphQLClient, team: Person) -> None:
    bad_cursor = await gql(TRACES, {"first": 5, "after": "bm9wZQ=="}, token=team.token)
    assert bad_cursor.error_messages == ["after: invalid cursor"]
    too_many = await gql(TRACES, {"first": 100_000}, token=team.token)
    assert too_many.errors and "first must be between" in too_many.error_messages[0]
    bad_id = await gql('{ trace(id: "../../etc") { spanCount } }', token=team.token)
    assert bad_id.error_messages == ["id: a trace id is 32 hex digits"]
    query = "query($id: String!) { trace(id: $id) { spanCount } }"
    unknown = await gql(query, {"id": new_trace_id()}, token=team.token)
    assert unknown["trace"] is None


async def test_critical_path_of_a_trace(gql: GraphQLClient, team: Person) -> None:
    # root 0..100; a 0..30 and b 20..60 overlap; c 60..90 follows. Walking back from
    # the end: the root's own 90..100, c, b; a ends after b starts, so nothing waited
    # for it (as in Jaeger's critical path) and 0..20 is the root's own too.
    trace_id, root = new_trace_id(), new_span_id()
    ms = 1_000_000
    base = time.time_ns()
    for name, span_id, parent, start, end in [
        ("root", root, None, 0, 100),
        ("a", new_span_id(), root, 0, 30),
        ("b", new_span_id(), root, 20, 60),
        ("c", new_span_id(), root, 60, 90),
    ]:
        await Span.create(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent,
            name=name,
            kind="internal",
            start_ns=base + start * ms,
            end_ns=base + end * ms,
            status="ok",
            project="web",
        )
    query = "query($id: String!) { trace(id: $id) { criticalPath { name selfMs } } }"
    path = (await gql(query, {"id": trace_id}, token=team.token))["trace"]["criticalPath"]
    assert [(segment["name"], segment["selfMs"]) for segment in path] == [
        ("root", 30.0),
        ("b", 40.0),
        ("c", 30.0),
    ]


async def test_live_spans_over_a_real_websocket(
    app: Starlette, runtime: Runtime, team: Person
) -> None:
    def first(tracer: Tracer) -> None:
        with tracer.start_as_current_span("accept order"):
            pass

    sent = make_spans(first, {"service.name": "shop", "home_idp.project": "web"})
    context = sent[0].get_span_context()
    assert context is not None
    trace_id = f"{context.trace_id:032x}"
    token = await api_token(team.user)
    async with live_server(app) as address:
        assert await send(address, sent, token) is SpanExportResult.SUCCESS
        transport = WebsocketsTransport(
            url=f"ws://{address}/graphql",
            init_payload={"Authorization": f"Bearer {team.token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=transport) as session:
            spans = session.subscribe(
                GraphQLRequest(
                    "subscription($id: String!) { spans(traceId: $id) { name parentSpanId cursor } }",
                    variable_values={"id": trace_id},
                )
            )
            stored = await asyncio.wait_for(anext(spans), 5)
            assert stored["spans"]["name"] == "accept order"  # replayed from the store
            coming = asyncio.ensure_future(anext(spans))
            async with asyncio.timeout(5):
                while not runtime.bus.subscriber_count(trace_topic(trace_id)):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)

            def second(tracer: Tracer) -> None:
                from opentelemetry import trace

                parent = trace.set_span_in_context(trace.NonRecordingSpan(context))
                with tracer.start_as_current_span("ship order", context=parent) as span:
                    span.set_status(Status(StatusCode.OK))

            later = make_spans(second, {"service.name": "shop", "home_idp.project": "web"})
            assert await send(address, later, token) is SpanExportResult.SUCCESS
            live = (await asyncio.wait_for(coming, 5))["spans"]
            assert live["name"] == "ship order"
            assert live["parentSpanId"] == f"{context.span_id:016x}"
            await spans.aclose()

        # Resuming from the first span's cursor gives only what came after it.
        transport = WebsocketsTransport(
            url=f"ws://{address}/graphql",
            init_payload={"Authorization": f"Bearer {team.token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=transport) as session:
            resumed = session.subscribe(
                GraphQLRequest(
                    "subscription($id: String!, $after: String) "
                    "{ spans(traceId: $id, after: $after) { name } }",
                    variable_values={"id": trace_id, "after": stored["spans"]["cursor"]},
                )
            )
            assert (await asyncio.wait_for(anext(resumed), 5))["spans"]["name"] == "ship order"
            await resumed.aclose()


async def test_retention_deletes_only_old_spans(runtime: Runtime, team: Person) -> None:
    now = time.time_ns()
    old = await a_trace("web", "shop", "last month", start_ns=now - 30 * 24 * HOUR_NS)
    recent = await a_trace("web", "shop", "today", start_ns=now - HOUR_NS)
    retention = Retention(TraceSettings(retention_hours=24 * 7), runtime.trace.store)
    assert await retention.sweep_once() == 2
    assert not await Span.exists(trace_id=old)
    assert await Span.filter(trace_id=recent).count() == 2


async def test_retention_runs_in_the_background(runtime: Runtime, team: Person) -> None:
    old = await a_trace("web", "shop", "stale", start_ns=time.time_ns() - 3 * HOUR_NS)
    retention = Retention(
        TraceSettings(retention_hours=1, retention_interval_seconds=0.05), runtime.trace.store
    )
    retention.start()
    try:
        async with asyncio.timeout(5):
            while await Span.exists(trace_id=old):  # noqa: ASYNC110 - polling the table
                await asyncio.sleep(0.02)
    finally:
        await retention.stop()


@pytest.fixture
async def collector() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """An OTLP/HTTP receiver that keeps what it is sent (no collector runs here)."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def traces(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(b"", media_type="application/x-protobuf")

    async with live_server(Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])) as at:
        yield at, received


async def test_own_spans_are_also_exported_to_a_collector(
    collector: tuple[str, list[tuple[dict[str, str], bytes]]], runtime: Runtime, team: Person
) -> None:
    address, received = collector
    settings = TraceSettings(
        export_endpoint=f"http://{address}/v1/traces",
        export_headers={"x-api-key": SecretStr("collector-key")},
    )
    tracing = Tracing(settings, SpanStore(EventBus()))
    tracing.start()
    trace_id, span_id = new_trace_id(), new_span_id()
    start = time.time_ns()
    tracing.emit(
        EndedSpan(
            name="release web/shop #7",
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=None,
            start_ns=start,
            end_ns=start + 5_000_000,
            attributes={"home_idp.project": "web"},
            status="ok",
        )
    )
    await tracing.flush()
    await tracing.stop()
    # Stored in home-idp's own store ...
    stored = await Span.get(trace_id=trace_id)
    assert (stored.span_id, stored.name, stored.service_name) == (
        span_id,
        "release web/shop #7",
        "home-idp",
    )
    # ... and sent to the collector, with its header.
    headers, body = received[-1]
    assert headers["x-api-key"] == "collector-key"
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    [span] = [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]
    assert (span.trace_id.hex(), span.span_id.hex(), span.name) == (
        trace_id,
        span_id,
        "release web/shop #7",
    )
    assert span.end_time_unix_nano - span.start_time_unix_nano == 5_000_000


async def test_critical_path_of_a_deep_trace_and_a_child_that_outlives_its_parent(
    gql: GraphQLClient, team: Person
) -> None:
    trace_id = new_trace_id()
    base = time.time_ns()
    ms = 1_000_000
    parent = None
    ids = [new_span_id() for _ in range(1500)]
    rows = []
    for depth, span_id in enumerate(ids):
        rows.append(
            Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent,
                name=f"level {depth}",
                kind="internal",
                start_ns=base + depth * ms,
                end_ns=base + (4000 - depth) * ms,
                status="ok",
                project="web",
            )
        )
        parent = span_id
    # The deepest span's child runs on past the end of its parent.
    rows.append(
        Span(
            trace_id=trace_id,
            span_id=new_span_id(),
            parent_span_id=ids[-1],
            name="late child",
            kind="internal",
            start_ns=base + 1600 * ms,
            end_ns=base + 9000 * ms,
            status="ok",
            project="web",
        )
    )
    await Span.bulk_create(rows)
    query = "query($id: String!) { trace(id: $id) { criticalPath { name selfMs } } }"
    path = (await gql(query, {"id": trace_id}, token=team.token))["trace"]["criticalPath"]
    names = [segment["name"] for segment in path]
    assert names[0] == "level 0" and names[-1] == "late child"
    # Cut at its parent's end: 1600 ms .. 2501 ms.
    assert path[-1]["selfMs"] == 901.0
    assert abs(sum(segment["selfMs"] for segment in path) - 4000.0) < 0.01


async def test_a_span_that_commits_after_a_later_one_still_reaches_live_readers(
    runtime: Runtime, team: Person
) -> None:
    from strawberry.types import ExecutionResult

    from home_idp.schema.core.context import Context
    from home_idp.schema.schema import build_schema

    trace_id = new_trace_id()
    start = time.time_ns()

    async def stored(row: int, name: str) -> None:
        await Span.create(
            id=row,
            trace_id=trace_id,
            span_id=new_span_id(),
            name=name,
            kind="internal",
            start_ns=start,
            end_ns=start + 1,
            status="ok",
            project="web",
        )
        await runtime.trace.store.wake([trace_id])

    await stored(900_000, "first")
    principal = await runtime.rbac.authenticator.authenticate_bearer(team.token)
    assert principal is not None
    stream = await build_schema().subscribe(
        "subscription($id: String!) { spans(traceId: $id) { name } }",
        variable_values={"id": trace_id},
        context_value=Context(runtime=runtime, principal=principal),
    )
    assert not isinstance(stream, ExecutionResult)

    async def next_name() -> str:
        result = await asyncio.wait_for(anext(stream), 5)
        assert result.data is not None
        name: str = result.data["spans"]["name"]
        return name

    try:
        names = [await next_name()]
        await stored(900_010, "later id, committed first")
        names.append(await next_name())
        await stored(900_005, "earlier id, committed last")
        names.append(await next_name())
    finally:
        await stream.aclose()
    assert names == ["first", "later id, committed first", "earlier id, committed last"]
