"""Benchmark: app log throughput and follow latency of the Kubernetes deployer.

Not a pytest test. Run from the repository root:

    .venv/bin/python -m tests.bench.app_logs [--pods 3] [--lines 100000] [--samples 200]
        [--repeats 3]

Setup: the Kubernetes stand-in (`tests/doubles/kubernetes.py`, bearer token
required) runs in a child process of its own (spawned, its own event loop and
GIL, so serving the bytes does not take CPU from the reader being measured). It
holds `--pods` running pods of the app `shop/web` (the labels the deployer's
tests use: managed-by home-idp, project `shop`, app `web`), each with
`--lines` access-log lines of about 100 characters in its `web` container;
every 1000th line holds one of the app's 5 secrets.

1. Throughput (`follow=False`, `tailLines=--lines`: every line of every pod),
   in this process, each reader `--repeats` times, interleaved and rotated
   (`app_logs` first, so its first run is on a heap no full-size read has grown),
   after one unmeasured warm-up pass of 2000 lines per pod each; the median run
   (by time) is reported:

   - floor: `GET /api/v1/namespaces/shop/pods/<pod>/log?container=web&tailLines=L`
     with a plain `httpx.AsyncClient` (keep-alive, streaming, `aiter_lines`),
     the pods concurrently: the fastest a Python client gets the lines from
     this server;
   - `KubernetesDeployer.app_logs(..., follow=False, tail_lines=L)`: the pod list,
     then the official client's streams read in threads, through the one
     bounded queue (`plugins/support/kube_logs.py`), every line consumed;
   - the same plus the server's per-line work in `AppRuntime.logs`: each line
     masked with `secret_masker` of the 5 secrets, then cut at `MAX_LOG_LINE`
     (8192) into a new `AppLogLine`. AppRuntime itself needs the database, so
     its one line of work is repeated here with the same functions; no server
     is started.

   Every run asserts it got exactly L lines per pod, the exact number of
   characters, each pod's last line, and (masked) the exact number of masked
   lines. Figures: lines/s, MB/s (the log bodies' bytes), the share of the
   floor's lines/s, this process's CPU seconds (all its threads), and the peak
   RSS growth while reading, the largest of the runs: VmHWM, reset through
   /proc/self/clear_refs before each run, minus VmRSS at its start (the bounded
   queue should keep it flat; a reader that piled the lines up would grow by at
   least their size, printed below the table).

2. Follow latency: every pod followed (`tailLines=0`), then `--samples` times,
   one at a time, one new line is appended to one pod (round robin) in the
   stand-in (`add_pod_logs`) and timed until it comes out of the reader:
   `app_logs(follow=True, tail_lines=0)` against the floor of one httpx
   `follow=true` stream per pod. The stand-in stamps the append with
   CLOCK_MONOTONIC (`time.perf_counter`, system-wide on Linux), this process
   stamps the arrival with the same clock. Before each append a random pause of
   0-10 ms (seeded), so appends do not lock onto the stand-in's 10 ms follow poll,
   whose wait is in both figures. 10 unmeasured samples first. Figures: p50,
   p99, max, ratios to the floor.

All traffic goes to 127.0.0.1; waits are bounded. Every stream is closed (the
stand-in is asked to confirm no follow is left open), the deployer is closed,
and the stand-in process is stopped by its PID and reaped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import multiprocessing
import os
import platform
import random
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from home_idp.plugins.deployer.contract import AppLogLine, DeployerConfig
from home_idp.plugins.deployer.kubernetes import KubernetesDeployer
from home_idp.server.deploy.app_runtime import MAX_LOG_LINE
from home_idp.server.secret_box import secret_masker

__all__ = ["access_line", "main"]

TOKEN = "k8s-BenchToken-0123456789abcdefABCDEF"
NAMESPACE = "shop"
APP = "web"
CONTAINER = "web"
POD_LABELS = {
    "app.kubernetes.io/managed-by": "home-idp",
    "home-idp.dev/project": "shop",
    "home-idp.dev/app": "web",
    "home-idp.dev/release": "3",
}
SECRETS = (
    "s3cr3t-ApiKey-0123456789",
    "postgres-Pa55word-q8Zr7TkL",
    "sk_live_51HqLyjWDarjtT1zdp7dcXjAbCdEf",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrSt",
)
SECRET_EVERY = 1000  # every 1000th line holds a secret
MASK = "****"

WARMUP_SAMPLES = 10
MAX_PAUSE_S = 0.010
SEED = 20250312
STAND_IN_TIMEOUT_S = 120.0  # the stand-in builds its logs (up to 64 x 1M lines) in this time
RUN_TIMEOUT_S = 300.0
EVENT_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0

PATHS = ("/api/products", "/api/cart", "/static/app.js", "/healthz", "/api/orders")
AGENTS = ("Mozilla/5.0", "curl/8.5.0", "kube-probe/1.32")


def access_line(pod: int, number: int) -> str:
    """Line `number` of pod `pod`: an access-log line of about 100 characters."""
    path = PATHS[number % len(PATHS)]
    secret = (
        f" key={SECRETS[(number // SECRET_EVERY) % len(SECRETS)]}"
        if number % SECRET_EVERY == SECRET_EVERY - 1
        else ""
    )
    return (
        f"10.42.{pod}.{number % 251} - - [12/Mar/2025:10:{number // 60 % 60:02d}:"
        f'{number % 60:02d} +0000] "GET {path}?page={number % 97} HTTP/1.1" '
        f'{200 if number % 53 else 404} {512 + number % 4096} "{AGENTS[number % 3]}"{secret}'
    )


def pod_name(index: int) -> str:
    return f"web-7d9f8c6b5-{index:05d}"


# --------------------------------------------------------------------------
# The stand-in, in a process of its own.
# --------------------------------------------------------------------------


def _stand_in_process(conn: Connection, pods: int, lines: int) -> None:
    """Serves the stand-in until told to stop; answers commands on `conn`."""
    # The parent stops this process (Ctrl-C reaches both): exit cleanly on SIGINT too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loop_factory = _loop_factory()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve_stand_in(conn, pods, lines))


async def _serve_stand_in(conn: Connection, pods: int, lines: int) -> None:
    from tests.doubles.kubernetes import kubernetes_stand_in

    loop = asyncio.get_running_loop()
    async with kubernetes_stand_in(token=TOKEN) as kube:
        sizes = []
        for index in range(pods):
            name = pod_name(index)
            kube.add_pod(NAMESPACE, name, POD_LABELS, container=CONTAINER)
            text = [access_line(index, n) for n in range(lines)]
            kube.add_pod_logs(NAMESPACE, name, CONTAINER, text)
            chars = sum(len(line) for line in text)
            hidden = [secret for line in text for secret in SECRETS if secret in line]
            sizes.append(
                {
                    "pod": name,
                    "bytes": chars + len(text),  # ASCII, and a newline each
                    "chars": chars,
                    # Each secret masked as "****": that many characters fewer.
                    "masked_chars": chars - sum(len(s) - len(MASK) for s in hidden),
                    "last": text[-1] if text else None,
                    "secret_lines": len(hidden),
                }
            )
            del text
        conn.send(("ready", kube.base_url, sizes))
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command == "add":
                pod, line = args
                stamp = time.perf_counter()
                kube.add_pod_logs(NAMESPACE, pod, CONTAINER, [line])
                conn.send(stamp)
            elif command == "stats":
                logs = sum(1 for _, path in kube.requests if path.endswith("/log"))
                conn.send({"open_follows": kube.open_follows, "log_requests": logs})
            elif command == "stop":
                break
    conn.send("stopped")


class StandIn:
    """The parent's side: start, commands, stop (by its PID)."""

    def __init__(self, pods: int, lines: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_stand_in_process, args=(child, pods, lines), name="k8s-stand-in", daemon=True
        )
        self._process.start()
        child.close()
        self._lock = asyncio.Lock()
        self.base_url = ""
        self.pods: list[dict[str, Any]] = []

    @property
    def pid(self) -> int | None:
        return self._process.pid

    async def _recv(self, wait_s: float) -> Any:
        def receive() -> Any:
            try:
                if not self._conn.poll(wait_s):
                    raise TimeoutError(f"the stand-in (pid {self.pid}) did not answer in {wait_s}s")
                return self._conn.recv()
            except EOFError:
                self._process.join(STOP_TIMEOUT_S)
                raise RuntimeError(
                    f"the stand-in (pid {self.pid}) exited ({self._process.exitcode})"
                ) from None

        return await asyncio.to_thread(receive)

    async def ready(self) -> None:
        kind, self.base_url, self.pods = await self._recv(STAND_IN_TIMEOUT_S)
        if kind != "ready":
            raise RuntimeError(f"the stand-in said {kind!r}")

    async def call(self, *command: Any) -> Any:
        async with self._lock:
            self._conn.send(command)
            return await self._recv(EVENT_TIMEOUT_S)

    async def wait_follows(self, count: int) -> None:
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while (await self.call("stats"))["open_follows"] != count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stand-in never had {count} follow(s) open")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        process = self._process
        try:
            if process.is_alive():
                with contextlib.suppress(OSError, TimeoutError):
                    self._conn.send(("stop",))
                    await self._recv(STOP_TIMEOUT_S)
            await asyncio.to_thread(process.join, STOP_TIMEOUT_S)
        finally:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
                process.join(STOP_TIMEOUT_S)
                if process.is_alive():
                    os.kill(process.pid, signal.SIGKILL)
                    process.join()
            self._conn.close()


# --------------------------------------------------------------------------
# Memory and CPU.
# --------------------------------------------------------------------------


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))


class Meter:
    """This process's CPU seconds and peak RSS growth over one run (Linux /proc)."""

    def __init__(self) -> None:
        gc.collect()
        self.can_reset = True
        try:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")  # resets VmHWM to the current RSS
        except OSError:
            self.can_reset = False  # then ru_maxrss: only growth past the old peak shows
        self.rss0 = _status_kb("VmRSS")
        self.peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times = os.times()
        self.cpu0 = times.user + times.system
        self.started = time.perf_counter()

    def stop(self) -> tuple[float, float, float]:
        """(seconds, CPU seconds, peak RSS growth in MB)."""
        seconds = time.perf_counter() - self.started
        times = os.times()
        cpu = times.user + times.system - self.cpu0
        if self.can_reset:
            growth = _status_kb("VmHWM") - self.rss0
        else:
            growth = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.peak0)
        return seconds, cpu, growth / 1024


# --------------------------------------------------------------------------
# Throughput.
# --------------------------------------------------------------------------


@dataclass
class Tally:
    """Per pod: [lines, characters, last line, masked lines]."""

    pods: dict[str, list[Any]] = field(default_factory=dict)

    def check(self, expected: Sequence[dict[str, Any]], lines: int, masked: bool) -> None:
        want = {pod["pod"]: pod for pod in expected}
        if set(self.pods) != set(want):
            raise AssertionError(f"lines from pods {sorted(self.pods)}, expected {sorted(want)}")
        for name, (count, chars, last, hidden) in self.pods.items():
            pod = want[name]
            want_chars = pod["masked_chars"] if masked else pod["chars"]
            problems = []
            if count != lines:
                problems.append(f"{count} lines, expected {lines}")
            if chars != want_chars:
                problems.append(f"{chars} characters, expected {want_chars}")
            if not masked and last != pod["last"]:
                problems.append(f"last line {last!r}, expected {pod['last']!r}")
            if masked and hidden != pod["secret_lines"]:
                problems.append(f"{hidden} masked lines, expected {pod['secret_lines']}")
            if masked and any(secret in (last or "") for secret in SECRETS):
                problems.append("a secret came through unmasked")
            if problems:
                raise AssertionError(f"{name}: " + "; ".join(problems))


@dataclass
class Run:
    seconds: float
    cpu: float
    rss_mb: float


async def read_floor(client: httpx.AsyncClient, pods: Sequence[str], lines: int) -> Tally:
    tally = Tally()

    async def one(pod: str) -> None:
        entry = tally.pods[pod] = [0, 0, None, 0]
        url = f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log"
        params = {"container": CONTAINER, "tailLines": str(lines)}
        async with client.stream("GET", url, params=params) as response:
            response.raise_for_status()
            count = chars = 0
            text = None
            async for text in response.aiter_lines():
                count += 1
                chars += len(text)
            entry[:3] = [count, chars, text]

    await asyncio.gather(*(one(pod) for pod in pods))
    return tally


async def read_app_logs(deployer: KubernetesDeployer, lines: int, *, mask: bool) -> Tally:
    tally = Tally()
    pods = tally.pods
    masker: Callable[[str], str] = secret_masker(SECRETS)
    stream = deployer.app_logs(NAMESPACE, APP, follow=False, tail_lines=lines)
    try:
        if mask:
            async for raw in stream:
                # AppRuntime.logs: masked before it is cut.
                line = AppLogLine(raw.source, masker(raw.text)[:MAX_LOG_LINE])
                entry = pods.get(line.source) or pods.setdefault(line.source, [0, 0, None, 0])
                entry[0] += 1
                entry[1] += len(line.text)
                entry[2] = line.text
                if MASK in line.text:
                    entry[3] += 1
        else:
            async for line in stream:
                entry = pods.get(line.source) or pods.setdefault(line.source, [0, 0, None, 0])
                entry[0] += 1
                entry[1] += len(line.text)
                entry[2] = line.text
    finally:
        await stream.aclose()
    return tally


@dataclass
class Variant:
    name: str
    read: Callable[[int], Awaitable[Tally]]
    masked: bool = False
    runs: list[Run] = field(default_factory=list)

    def median(self) -> Run:
        ordered = sorted(self.runs, key=lambda run: run.seconds)
        return ordered[(len(ordered) - 1) // 2]

    def rss_mb(self) -> float:
        return max(run.rss_mb for run in self.runs)


async def throughput(
    stand_in: StandIn,
    client: httpx.AsyncClient,
    deployer: KubernetesDeployer,
    args: argparse.Namespace,
) -> list[Variant]:
    pods = [pod["pod"] for pod in stand_in.pods]
    lines = args.lines
    variants = [
        Variant(
            "floor: httpx aiter_lines, pods concurrently",
            lambda n: read_floor(client, pods, n),
        ),
        Variant("app_logs(follow=False)", lambda n: read_app_logs(deployer, n, mask=False)),
        Variant(
            "app_logs + mask (5 secrets) + cut 8192",
            lambda n: read_app_logs(deployer, n, mask=True),
            masked=True,
        ),
    ]
    warm = min(lines, 2000)
    for variant in variants:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            await variant.read(warm)
    for repeat in range(args.repeats):
        # Rotated, app_logs first: its first run is on a heap no full-size read
        # has grown yet, so its RSS growth is not hidden by memory the floor freed.
        start = (repeat + 1) % len(variants)
        for variant in variants[start:] + variants[:start]:
            meter = Meter()
            async with asyncio.timeout(RUN_TIMEOUT_S):
                tally = await variant.read(lines)
            run = Run(*meter.stop())
            tally.check(stand_in.pods, lines, variant.masked)
            variant.runs.append(run)
            print(
                f"  [{repeat + 1}/{args.repeats}] {variant.name:<44} {run.seconds:6.2f}s  "
                f"{len(pods) * lines / run.seconds:>10,.0f} lines/s  cpu {run.cpu:5.2f}s  "
                f"peak RSS +{run.rss_mb:.1f} MB",
                flush=True,
            )
            del tally
    return variants


# --------------------------------------------------------------------------
# Follow latency.
# --------------------------------------------------------------------------


class Arrivals:
    """The arrival time of each expected line."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.unexpected = 0

    def expect(self, line: str) -> asyncio.Future[float]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[line] = future
        return future

    def arrived(self, line: str) -> None:
        now = time.perf_counter()
        future = self.waiting.pop(line, None)
        if future is None:
            self.unexpected += 1
        elif not future.done():
            future.set_result(now)


@contextlib.asynccontextmanager
async def follow_floor(
    client: httpx.AsyncClient, pods: Sequence[str], arrivals: Arrivals
) -> AsyncIterator[None]:
    async def one(pod: str) -> None:
        url = f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log"
        params = {"container": CONTAINER, "follow": "true", "tailLines": "0"}
        async with client.stream("GET", url, params=params) as response:
            response.raise_for_status()
            async for text in response.aiter_lines():
                arrivals.arrived(text)

    tasks = [asyncio.create_task(one(pod)) for pod in pods]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if not isinstance(result, asyncio.CancelledError):
                raise RuntimeError(f"a floor follow stream ended early: {result!r}")


@contextlib.asynccontextmanager
async def follow_app_logs(
    deployer: KubernetesDeployer, pods: Sequence[str], arrivals: Arrivals
) -> AsyncIterator[None]:
    stream = deployer.app_logs(NAMESPACE, APP, follow=True, tail_lines=0)

    async def consume() -> None:
        async for line in stream:
            arrivals.arrived(line.text)

    task = asyncio.create_task(consume())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await stream.aclose()
        if not task.cancelled() and task.exception() is not None:
            raise RuntimeError("the app_logs follow stream failed") from task.exception()


async def follow_latency(
    name: str,
    opened: Callable[[Arrivals], contextlib.AbstractAsyncContextManager[None]],
    stand_in: StandIn,
    samples: int,
) -> list[float]:
    pods = [pod["pod"] for pod in stand_in.pods]
    arrivals = Arrivals()
    rng = random.Random(SEED)
    latencies: list[float] = []
    async with opened(arrivals):
        await stand_in.wait_follows(len(pods))
        for index in range(WARMUP_SAMPLES + samples):
            await asyncio.sleep(rng.uniform(0, MAX_PAUSE_S))
            line = f"follow {name} sample {index} " + access_line(99, index)
            arrived = arrivals.expect(line)
            added = await stand_in.call("add", pods[index % len(pods)], line)
            async with asyncio.timeout(EVENT_TIMEOUT_S):
                at = await arrived
            if index >= WARMUP_SAMPLES:
                latencies.append(at - added)
    if arrivals.unexpected:
        raise AssertionError(f"{name}: {arrivals.unexpected} line(s) came that were not sent")
    # Every follow the reader opened is closed again.
    await stand_in.wait_follows(0)
    return latencies


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of seconds, in milliseconds."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1] * 1000


# --------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print()
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join(":---" if i == 0 else "---:" for i in range(len(headers))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def report(
    variants: Sequence[Variant],
    follows: Sequence[tuple[str, list[float]]],
    stand_in: StandIn,
    args: argparse.Namespace,
) -> None:
    total_lines = args.pods * args.lines
    total_bytes = sum(pod["bytes"] for pod in stand_in.pods)
    floor = variants[0].median()
    print()
    print(
        f"Throughput: {args.pods} pods x {args.lines:,} lines (~{total_bytes / total_lines:.0f} "
        f"bytes each, {total_bytes / 1e6:.1f} MB in all), follow=False, "
        f"median of {args.repeats} runs; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}, Python {platform.python_version()}."
    )
    rows = []
    for variant in variants:
        run = variant.median()
        rows.append(
            (
                variant.name,
                f"{total_lines:,}",
                f"{run.seconds:.2f}",
                f"{total_lines / run.seconds:,.0f}",
                f"{total_bytes / run.seconds / 1e6:.1f}",
                f"{floor.seconds / run.seconds:.2f}x",
                f"{run.cpu:.2f}",
                f"{variant.rss_mb():.1f}",
            )
        )
    table(
        (
            "Reader",
            "lines",
            "seconds",
            "lines/s",
            "MB/s",
            "of floor",
            "CPU s",
            "peak RSS growth MB (max)",
        ),
        rows,
    )
    print(
        f"Holding every line read would take ~{total_bytes / 1e6:.0f} MB of bytes "
        f"(more as str objects); the peak RSS growth is of this process (the stand-in "
        "serves from another)."
    )
    print()
    floor_lat = follows[0][1]
    print(
        f"Follow latency: add_pod_logs of one line -> the line out of the reader, "
        f"{args.samples} samples one at a time over {args.pods} followed pods (after "
        f"{WARMUP_SAMPLES} warm-up); includes the stand-in's 10 ms follow poll."
    )
    rows = []
    for name, latencies in follows:
        rows.append(
            (
                name,
                str(len(latencies)),
                f"{percentile(latencies, 0.50):.2f}",
                f"{percentile(latencies, 0.99):.2f}",
                f"{max(latencies) * 1000:.2f}",
                f"{statistics.fmean(latencies) * 1000:.2f}",
                f"{percentile(latencies, 0.50) / percentile(floor_lat, 0.50):.2f}x",
                f"{percentile(latencies, 0.99) / percentile(floor_lat, 0.99):.2f}x",
            )
        )
    table(
        ("Follower", "samples", "p50 ms", "p99 ms", "max ms", "mean ms", "p50/floor", "p99/floor"),
        rows,
    )


# --------------------------------------------------------------------------
# Entry point.
# --------------------------------------------------------------------------


async def _run(args: argparse.Namespace) -> None:
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    started = time.monotonic()
    stand_in = StandIn(args.pods, args.lines)
    try:
        await stand_in.ready()
        print(
            f"stand-in (pid {stand_in.pid}) at {stand_in.base_url}: {args.pods} pods x "
            f"{args.lines:,} lines, ready after {time.monotonic() - started:.1f}s",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="hidp-bench-logs-") as data_dir:
            deployer = KubernetesDeployer(
                DeployerConfig(
                    Path(data_dir),
                    "https://git.example/platform.git",
                    "main",
                    {"api_url": stand_in.base_url, "token": TOKEN, "request_timeout": "60"},
                )
            )
            try:
                async with httpx.AsyncClient(
                    base_url=stand_in.base_url,
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=httpx.Timeout(READ_TIMEOUT_S, connect=5.0),
                ) as client:
                    variants = await throughput(stand_in, client, deployer, args)
                    pods = [pod["pod"] for pod in stand_in.pods]
                    follows = [
                        (
                            "floor: httpx follow=true stream per pod",
                            await follow_latency(
                                "floor",
                                lambda a: follow_floor(client, pods, a),
                                stand_in,
                                args.samples,
                            ),
                        ),
                        (
                            "app_logs(follow=True)",
                            await follow_latency(
                                "app_logs",
                                lambda a: follow_app_logs(deployer, pods, a),
                                stand_in,
                                args.samples,
                            ),
                        ),
                    ]
            finally:
                await deployer.aclose()
        report(variants, follows, stand_in, args)
    finally:
        await stand_in.stop()
    print(f"stand-in stopped; total run time {time.monotonic() - started:.1f}s")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.app_logs",
        description="App log throughput and follow latency of the Kubernetes deployer.",
    )
    parser.add_argument("--pods", type=int, default=3, help="pods of the app (default 3)")
    parser.add_argument(
        "--lines", type=int, default=100_000, help="log lines per pod (default 100000)"
    )
    parser.add_argument(
        "--samples", type=int, default=200, help="follow latency samples (default 200)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="throughput runs per reader (default 3)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.pods <= 64:
        parser.error("--pods must be 1..64 (the deployer reads at most 64 streams at once)")
    if not 1 <= args.lines <= 1_000_000 or not 1 <= args.samples <= 10_000:
        parser.error("--lines must be 1..1000000 and --samples 1..10000")
    if not 1 <= args.repeats <= 20:
        parser.error("--repeats must be 1..20")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the stand-in is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
