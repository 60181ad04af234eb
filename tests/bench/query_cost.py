"""Benchmark: what parsing and validating costly documents takes, against a plain query.

Not a pytest test. Run from the repository root:

    .venv/bin/python -m tests.bench.query_cost [--repeats 5]

It starts the real server (`home-idp serve`) as a process on SQLite in a temp
dir (validation does not touch the database), makes an administrator and
logs in, then sends each document of these families, for n = 1, 10, 20, …, 60:

- fan-out: `query { ...X0 } fragment X0 on Query { ...X1 ...X1 } … { __typename }`,
  without a login (answered);
- aliased fan-out: the same with `a: __typename` at the end (refused: aliases);
- deep fan-out, logged in: each level `memberships { edges { node { user { … } } } }`
  (refused: depth);
- repeated fields, logged in: 5n copies of `me { username }` (refused past
  graphql-core's validation budget).

Every request's text is made unique so no cache answers it. The floor is the
plain `{ __typename }` sent the same way in the same run. It prints the median
time per request, its ratio to the floor, and the longest a `/healthz` request
sent alongside took (what the event loop was held for, plus the round trip),
then a Markdown table.

All traffic goes to 127.0.0.1; loops are bounded; the server is stopped by
its PID and the temp dir is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.security.test_query_cost import deep_fan_out, fan_out
from tests.serverprocess import ServerProcess, home_idp_env

LEVELS = (1, 10, 20, 30, 40, 50, 60)
TARGET_BLOCK_MS = 50.0


def repeated(n: int) -> str:
    return "{ " + " ".join("me { username }" for _ in range(5 * n)) + " }"


FAMILIES: dict[str, tuple[Callable[[int], str], bool]] = {
    "fan-out": (fan_out, False),
    "aliased fan-out": (lambda n: fan_out(n, leaf="a: __typename"), False),
    "deep fan-out": (deep_fan_out, True),
    "repeated fields": (repeated, True),
}


@dataclass
class Figure:
    family: str
    levels: int
    chars: int
    median_ms: float
    ratio: float
    health_max_ms: float
    outcome: str


async def timed(client: httpx.AsyncClient, query: str, token: str | None) -> tuple[float, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    body = response.json()
    errors = body.get("errors") or []
    if not errors:
        return elapsed, "answered"
    limit = (errors[0].get("extensions") or {}).get("limit", "error")
    return elapsed, f"refused: {limit}"


async def health_while(client: httpx.AsyncClient, task: asyncio.Task[object]) -> float:
    """The slowest `/healthz` answer while `task` runs (at least one is sent)."""
    slowest = 0.0
    while True:
        started = time.perf_counter()
        await client.get("/healthz")
        slowest = max(slowest, (time.perf_counter() - started) * 1000)
        if task.done():
            return slowest


async def measure(server: ServerProcess, token: str, repeats: int) -> list[Figure]:
    serial = 0

    def unique(query: str) -> str:
        nonlocal serial
        serial += 1
        return f"# {serial}\n{query}"

    async with httpx.AsyncClient(base_url=server.base_url, timeout=600) as client:
        floor_ms = statistics.median(
            [(await timed(client, unique("{ __typename }"), None))[0] for _ in range(repeats * 4)]
        )
        figures = [Figure("floor", 0, 14, floor_ms, 1.0, 0.0, "answered")]
        for family, (make, logged_in) in FAMILIES.items():
            for levels in LEVELS:
                times: list[float] = []
                health: list[float] = []
                outcome = ""
                for _ in range(repeats):
                    query = make(levels)
                    task = asyncio.create_task(
                        timed(client, unique(query), token if logged_in else None)
                    )
                    health.append(await health_while(client, task))
                    elapsed, outcome = await task
                    times.append(elapsed)
                median = statistics.median(times)
                figures.append(
                    Figure(
                        family,
                        levels,
                        len(make(levels)),
                        median,
                        median / floor_ms,
                        max(health),
                        outcome,
                    )
                )
                print(
                    f"{family:16} n={levels:<3} {median:8.2f} ms  x{median / floor_ms:5.2f}"
                    f"  healthz max {max(health):7.2f} ms  {outcome}",
                    flush=True,
                )
    return figures


def table(figures: list[Figure]) -> str:
    lines = [
        "| Document | n | Chars | Median ms | Ratio to floor | Slowest /healthz ms | Outcome |",
        "|:---|---:|---:|---:|---:|---:|:---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.family} | {f.levels} | {f.chars} | {f.median_ms:.1f} | {f.ratio:.2f} "
            f"| {f.health_max_ms:.1f} | {f.outcome} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="tests.bench.query_cost", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=5, help="requests per document")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="home-idp-bench-") as tmp:
        root = Path(tmp)
        server = ServerProcess(home_idp_env(root / "data", f"sqlite://{root / 'db.sqlite3'}"))
        server.create_admin()
        server.start()
        try:
            token = server.login()
            figures = asyncio.run(measure(server, token, max(1, args.repeats)))
        finally:
            server.stop()
    print()
    print(table(figures))
    worst = max(f.health_max_ms for f in figures)
    print(f"\nslowest /healthz while a document was in flight: {worst:.1f} ms")
    print(f"target: no document holds the event loop over {TARGET_BLOCK_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
