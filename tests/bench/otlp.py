"""Benchmark: OTLP/HTTP span ingest, against inserting the same rows directly.

Not a pytest test. Run from the repository root:

    .venv/bin/python -m tests.bench.otlp [--backends sqlite,postgres] [--batches 60]

For each backend it starts the real server (`home-idp serve`) as a process on
a fresh database (SQLite in a temp dir, or a throwaway Postgres database that
is dropped at the end), makes an administrator, a project and a write-scoped
API token through GraphQL, and then sends `--batches` OTLP/HTTP protobuf
requests of 512 spans each (made with the OpenTelemetry SDK and encoded by its
OTLP encoder beforehand) from `--clients` concurrent keep-alive clients. The
floor is inserting the same 512-span batches as rows straight into the same
table through the same ORM, all in one transaction, in this process. It
prints spans/s for both, their ratio, and how long `trace(id)` takes to return
a trace of 1,000 spans (p50 and p95 of 20 queries), then a Markdown table.

All traffic goes to 127.0.0.1; loops are bounded; every process started here
is stopped by its PID and temp dirs are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.database import scratch_postgres_database
from tests.serverprocess import ServerProcess, home_idp_env

BATCH = 512
TARGET_SPANS_PER_SECOND = 20_000
TARGET_RATIO = 0.5
TARGET_TRACE_MS = 100.0
PROJECT = "bench"
TRACE_QUERY = (
    "query($id: String!) { trace(id: $id) { spanCount spans { name spanId parentSpanId "
    "startTimeUnixNano endTimeUnixNano status attributes } } }"
)


def make_batches(count: int, tag: str) -> list[list[ReadableSpan]]:
    """`count` batches of 512 spans: 8 traces of 64 spans a batch, with typical attributes."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "shop-api", "home_idp.project": PROJECT})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for number in range(count * BATCH // 64):
        with tracer.start_as_current_span(
            f"{tag} GET /orders/{number}", kind=trace.SpanKind.SERVER
        ) as root:
            root.set_attributes({"http.method": "GET", "http.status_code": 200, "batch": number})
            for child in range(63):
                with tracer.start_as_current_span(f"SELECT orders {child}") as span:
                    span.set_attributes({"db.system": "postgresql", "db.rows": child})
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return [spans[start : start + BATCH] for start in range(0, len(spans), BATCH)]


def one_big_trace() -> tuple[str, list[ReadableSpan]]:
    """A trace of 1,000 spans: a root and 9 children with 110 grandchildren each."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"home_idp.project": PROJECT}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    with tracer.start_as_current_span("release bench/app #1") as root:
        for step in range(9):
            with tracer.start_as_current_span(f"step {step}"):
                for work in range(110):
                    tracer.start_span(f"work {step}.{work}", attributes={"n": work}).end()
    provider.shutdown()
    spans = list(memory.get_finished_spans())
    assert len(spans) == 1000
    return f"{root.get_span_context().trace_id:032x}", spans


@dataclass
class Figures:
    backend: str
    spans_per_second: float
    floor_spans_per_second: float
    trace_p50_ms: float
    trace_p95_ms: float

    @property
    def ratio(self) -> float:
        return self.spans_per_second / self.floor_spans_per_second


@asynccontextmanager
async def database(backend: str, tmp: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite://{tmp / 'bench.sqlite3'}"
        return
    async with scratch_postgres_database() as url:
        yield url


async def ingest(server: ServerProcess, token: str, bodies: list[bytes], clients: int) -> float:
    """Spans per second sent through `POST /v1/traces`."""
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            while queue:
                response = await http.post("/v1/traces", content=queue.pop(), headers=headers)
                response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return len(bodies) * BATCH / (time.perf_counter() - started)


async def floor(database_url: str, batches: list[list[ReadableSpan]]) -> float:
    """Spans per second inserted straight into the span table in one transaction.

    The same rows and the same statement the store runs: the difference to
    ingest is HTTP, authentication, decoding and checking.
    """
    from tortoise import Tortoise
    from tortoise.transactions import in_transaction

    from home_idp.server.db import tortoise_config
    from home_idp.server.trace.exporter import record_of
    from home_idp.server.trace.store import insert_rows

    rows = [[record_of(span).row() for span in batch] for batch in batches]
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        started = time.perf_counter()
        async with in_transaction() as connection:
            for batch in rows:
                await insert_rows(connection, batch)
        return sum(map(len, rows)) / (time.perf_counter() - started)
    finally:
        await Tortoise.close_connections()


async def query_times(server: ServerProcess, trace_id: str, runs: int = 20) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        for _ in range(runs + 2):
            started = time.perf_counter()
            response = await http.post(
                "/graphql",
                json={"query": TRACE_QUERY, "variables": {"id": trace_id}},
                headers={"Authorization": f"Bearer {server.token}"},
            )
            elapsed = (time.perf_counter() - started) * 1000
            assert response.json()["data"]["trace"]["spanCount"] == 1000, response.text[:300]
            times.append(elapsed)
    return sorted(times[2:])  # the first two warm caches up


async def run_backend(backend: str, batches: int, clients: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="hidp-bench-otlp-") as tmp:
        async with database(backend, Path(tmp)) as url:
            server = ServerProcess(home_idp_env(Path(tmp) / "data", url))
            server.start()
            try:
                server.create_admin("bench")
                server.login("bench")
                server.graphql(
                    f'mutation {{ createProject(input: {{name: "{PROJECT}"}}) {{ __typename }} }}'
                )
                created = server.graphql(
                    'mutation { createApiToken(input: {name: "otlp"}) { '
                    "... on CreateApiTokenSuccess { token } } }"
                )
                token = created["createApiToken"]["token"]
                sent = make_batches(batches, "ingest")
                bodies = [encode_spans(batch).SerializeToString() for batch in sent]
                await ingest(server, token, bodies[:2], 1)  # warm up (first batches)
                spans_per_second = await ingest(server, token, bodies[2:], clients)
                floor_rate = await floor(url, make_batches(batches - 2, "floor"))
                trace_id, big = one_big_trace()
                await ingest(server, token, [encode_spans(big).SerializeToString()], 1)
                times = await query_times(server, trace_id)
            finally:
                server.stop()
    return Figures(
        backend,
        spans_per_second,
        floor_rate,
        statistics.median(times),
        times[int(len(times) * 0.95) - 1],
    )


def table(rows: list[Figures]) -> str:
    lines = [
        "| Backend | OTLP ingest spans/s | Direct insert spans/s | Ratio | trace(id) 1,000 spans p50 ms | p95 ms |",
        "|:---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row.backend} | {row.spans_per_second:,.0f} | {row.floor_spans_per_second:,.0f} "
        f"| {row.ratio:.2f} | {row.trace_p50_ms:.1f} | {row.trace_p95_ms:.1f} |"
        for row in rows
    ]
    return "\n".join(lines)


def run_in_own_process(backend: str, batches: int, clients: int) -> Figures:
    """One backend per process: the ORM's models are bound to one database per process."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.otlp",
            "--backends",
            backend,
            "--batches",
            str(batches),
            "--clients",
            str(clients),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"the {backend} run failed:\n{result.stderr[-3000:]}")
    return Figures(**json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(prog="tests.bench.otlp", description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--batches", type=int, default=120, help="512-span requests per backend")
    parser.add_argument("--clients", type=int, default=4, help="concurrent senders")
    parser.add_argument(
        "--json", action="store_true", help="one backend; print its figures as JSON"
    )
    args = parser.parse_args()
    backends = [backend.strip() for backend in args.backends.split(",")]
    if args.batches < 3 or not 1 <= args.clients <= 64:
        parser.error("--batches must be at least 3 and --clients between 1 and 64")
    if not set(backends) <= {"sqlite", "postgres"}:
        parser.error("--backends takes sqlite and/or postgres")
    if args.json:
        if len(backends) != 1:
            parser.error("--json measures one backend")
        figures = asyncio.run(run_backend(backends[0], args.batches, args.clients))
        print(json.dumps(asdict(figures)))
        return 0
    print(
        f"python {platform.python_version()}, {args.batches} x {BATCH} spans, {args.clients} clients"
    )
    rows: list[Figures] = []
    for backend in backends:
        figures = run_in_own_process(backend, args.batches, args.clients)
        print(
            f"{figures.backend}: {figures.spans_per_second:,.0f} spans/s "
            f"(floor {figures.floor_spans_per_second:,.0f}, ratio {figures.ratio:.2f}); "
            f"trace(id) of 1,000 spans p50 {figures.trace_p50_ms:.1f} ms"
        )
        rows.append(figures)
    print()
    print(table(rows))
    print(
        f"\ntargets: >= {TARGET_SPANS_PER_SECOND:,} spans/s on Postgres, ratio >= {TARGET_RATIO}, "
        f"trace(id) of 1,000 spans < {TARGET_TRACE_MS:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
