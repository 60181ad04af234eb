"""Benchmark: push webhook in, release step advanced, subscription event out.

Not a pytest test. Run from the repository root:

    .venv/bin/python -m tests.bench.pipeline [--backends sqlite,postgres] [--releases 200]

For each backend it starts the real server (`home-idp serve`) as a subprocess on
a fresh database (SQLite in a temp dir, or a throwaway Postgres database that is
dropped at the end), creates an admin with `home-idp admin create`, logs in
through GraphQL, creates a project and an app, and saves one Dockerfile per
release (`saveDockerfile`). Each save runs the release's `commit` step, which
pushes to the local platform repo; that repo's post-receive hook would send the
push webhook itself, so the server is started with `HOME_IDP_PUBLIC_URL`
pointing at a port that refuses connections (a socket this process holds bound
but not listening): the hook's webhook fails and every release parks in
`await-push` (WAITING) with its commit recorded. The reconciler runs once an
hour, so only a webhook can move the step on.

Then, for each release, one at a time:

1. open a websocket to `/graphql` (graphql-transport-ws), authenticate in
   `connection_init`, and subscribe to `releaseEvents(releaseId:, after:)` with
   the cursor before the release's first event. The server registers the
   subscriber before it replays, so once the replayed `await-push waiting`
   event arrives the subscription is live;
2. time a plain `GET /healthz` round trip on the same keep-alive HTTP client
   (the floor);
3. POST a GitHub-format push event for the release's commit to
   `/webhooks/git`, signed with `X-Hub-Signature-256`, and take the time until
   the websocket delivers `await-push succeeded` (the figure that counts) and
   until the webhook's HTTP response arrives. If the release's own final event
   arrives and the step's event does not follow within LOST_GRACE_S, the step's
   event counts as lost: it is reported, and left out of the percentiles.

It prints p50/p95/p99/max per backend, the ratio to the floor, the lost step
events, and a summary table, also in Markdown. Afterwards it checks through the API that every
measured release got past `await-push` and that the server recorded exactly the webhooks
this benchmark sent (so none came from the hook).

All traffic goes to 127.0.0.1; waits are bounded; every process started here
is stopped by its PID and temp dirs are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import os
import platform
import secrets
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.bench.api import (
    ADMIN_USERNAME,
    REPO_ROOT,
    free_port,
    login,
    run_command,
    running,
    scratch_database,
)

BACKENDS = ("sqlite", "postgres")
TARGET_P99_MS = 50.0

WEBHOOK_SECRET_BYTES = 24
PROJECT = "bench-pipeline"
APP = "web"
PLATFORM_REPO = "local/platform"
BRANCH_REF = "refs/heads/main"
AWAIT_PUSH = "await-push"

REQUEST_TIMEOUT_S = 30.0
EVENT_TIMEOUT_S = 10.0
LOST_GRACE_S = 0.5
# Preparing is bounded by the commit step (git subprocesses, one at a time).
PREPARE_TIMEOUT_BASE_S = 60.0
PREPARE_TIMEOUT_PER_RELEASE_S = 2.0
SAVE_CONCURRENCY = 4

GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
# The position before any event: replays a release's whole history (a handful of events).
# Cursors are opaque to clients; this one is the server's encoding of position 0.
CURSOR_START = "Y3Vyc29yOjA="

CREATE_PROJECT = (
    "mutation P($input: CreateProjectInput!) { createProject(input: $input) { __typename "
    "... on ProjectSuccess { project { id } } ... on Error { message } } }"
)
CREATE_APP = (
    "mutation A($input: CreateAppInput!) { createApp(input: $input) { __typename "
    "... on AppSuccess { app { id } } ... on Error { message } } }"
)
SAVE_DOCKERFILE = (
    "mutation S($input: SaveDockerfileInput!) { saveDockerfile(input: $input) { __typename "
    "... on SaveDockerfileSuccess { release { id status steps { name state } } } "
    "... on Error { message } } }"
)
RELEASE_QUERY = (
    "query R($id: ID!) { node(id: $id) { ... on Release { status commitSha error "
    "steps { name state error } } } }"
)
APP_RELEASES = (
    "query L($id: ID!, $after: String) { node(id: $id) { ... on App { releases(first: 100, "
    "after: $after) { pageInfo { hasNextPage endCursor } edges { node { id status "
    "commitSha steps { name state durationMs } } } } } } }"
)
DELIVERIES = (
    "query D($filter: WebhookDeliveryFilter) { webhookDeliveries(first: 1, filter: $filter) "
    "{ totalCount } }"
)
RELEASE_EVENTS = (
    "subscription E($id: ID!, $after: String) { releaseEvents(releaseId: $id, after: $after) "
    "{ releaseId step state message cursor } }"
)


# --------------------------------------------------------------------------
# Figures.
# --------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of seconds, in milliseconds."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1] * 1000


@dataclass
class Series:
    name: str
    samples: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        return percentile(self.samples, q)

    @property
    def max(self) -> float:
        return max(self.samples) * 1000 if self.samples else math.nan

    def line(self) -> str:
        return (
            f"{self.name:<17} p50 {self.p(0.50):6.2f}  p95 {self.p(0.95):6.2f}  "
            f"p99 {self.p(0.99):6.2f}  max {self.max:7.2f} ms  (n={len(self.samples)})"
        )


@dataclass
class BackendReport:
    backend: str
    event: Series
    response: Series
    floor: Series
    prepare_seconds: float
    prepared: int
    measured: int
    lost: int
    seconds: float

    @property
    def ratio_p50(self) -> float:
        return self.event.p(0.50) / self.floor.p(0.50)

    @property
    def ratio_p99(self) -> float:
        return self.event.p(0.99) / self.floor.p(0.99)


# --------------------------------------------------------------------------
# GraphQL over HTTP.
# --------------------------------------------------------------------------


class Api:
    def __init__(self, client: httpx.AsyncClient, base_url: str, token: str) -> None:
        self._client = client
        self._url = f"{base_url}/graphql"
        self._headers = {"Authorization": f"Bearer {token}"}

    async def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self._client.post(
            self._url, headers=self._headers, json={"query": query, "variables": variables}
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(self, query: str, field_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = (await self.call(query, {"input": payload}))[field_name]
        if "message" in result:
            raise RuntimeError(f"{field_name} failed: {result['__typename']}: {result['message']}")
        return result


@dataclass
class Prepared:
    release_id: str
    commit_sha: str


async def prepare_releases(api: Api, app_id: str, count: int) -> tuple[list[Prepared], list[float]]:
    """Save `count` Dockerfiles; wait until every release waits in await-push.

    Returns the releases, oldest first, and the durations of their commit steps.
    """
    semaphore = asyncio.Semaphore(SAVE_CONCURRENCY)
    run_tag = secrets.token_hex(4)

    async def save(index: int) -> str:
        # Distinct content per release, so each gets a commit of its own.
        content = (
            "FROM scratch\n"
            f'LABEL home-idp.bench.run="{run_tag}" home-idp.bench.release="{index}"\n'
            'CMD ["/app"]\n'
        )
        async with semaphore:
            result = await api.mutate(
                SAVE_DOCKERFILE,
                "saveDockerfile",
                {"app": app_id, "content": content, "message": f"bench release {index}"},
            )
        release = result["release"]
        if release["status"] != "RUNNING":
            raise RuntimeError(f"a new release is {release['status']}: {release}")
        release_id: str = release["id"]
        return release_id

    ids = await asyncio.gather(*(save(i) for i in range(count)))
    timeout = PREPARE_TIMEOUT_BASE_S + PREPARE_TIMEOUT_PER_RELEASE_S * count
    deadline = time.monotonic() + timeout
    waiting: dict[str, str] = {}
    commits: list[float] = []
    while True:
        waiting.clear()
        commits.clear()
        problems: list[str] = []
        after: str | None = None
        while True:
            data = await api.call(APP_RELEASES, {"id": app_id, "after": after})
            page = data["node"]["releases"]
            for edge in page["edges"]:
                node = edge["node"]
                steps = {step["name"]: step["state"] for step in node["steps"]}
                commits += [
                    step["durationMs"] / 1000
                    for step in node["steps"]
                    if step["name"] == "commit" and step["durationMs"] is not None
                ]
                if node["status"] != "RUNNING":
                    problems.append(f"release {node['id']} is {node['status']}")
                elif steps.get(AWAIT_PUSH) == "WAITING" and node["commitSha"]:
                    waiting[node["id"]] = node["commitSha"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        if problems:
            raise RuntimeError("while preparing: " + "; ".join(problems[:5]))
        if all(release_id in waiting for release_id in ids):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"only {len(waiting)} of {count} releases reached await-push in {timeout:.0f}s"
            )
        await asyncio.sleep(0.25)
    shas = [waiting[release_id] for release_id in ids]
    if len(set(shas)) != len(shas):
        raise RuntimeError("two releases share a commit; the measurement would be ambiguous")
    prepared = [Prepared(release_id, sha) for release_id, sha in zip(ids, shas, strict=True)]
    return prepared, commits


# --------------------------------------------------------------------------
# The websocket side (graphql-transport-ws).
# --------------------------------------------------------------------------


async def _receive(ws: ClientConnection, deadline: float) -> dict[str, Any]:
    """The next protocol message, answering server pings on the way."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no websocket message in time")
        raw = await asyncio.wait_for(ws.recv(), remaining)
        message: dict[str, Any] = json.loads(raw)
        if message.get("type") == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        return message


async def open_subscription(ws_url: str, token: str, release_id: str) -> ClientConnection:
    ws = await connect(
        ws_url,
        subprotocols=[GRAPHQL_TRANSPORT_WS],  # type: ignore[list-item]
        open_timeout=REQUEST_TIMEOUT_S,
        max_size=2**20,
    )
    try:
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        message = await _receive(ws, deadline)
        if message.get("type") != "connection_ack":
            raise RuntimeError(f"expected connection_ack, got {message}")
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": RELEASE_EVENTS,
                        "variables": {"id": release_id, "after": CURSOR_START},
                    },
                }
            )
        )
        # The replay ends with the wait that the webhook will end.
        await wait_for_event(ws, AWAIT_PUSH, "waiting", deadline)
    except BaseException:
        await ws.close()
        raise
    return ws


class StepEventLost(Exception):
    """The release finished, but its step's event never came on the subscription."""


async def wait_for_event(
    ws: ClientConnection, step: str, state: str, deadline: float
) -> dict[str, Any]:
    """The event of `step` reaching `state`.

    The release's own final event comes after the step's event (same
    transaction, higher cursor). If it comes first and the step's event does
    not follow within LOST_GRACE_S, the step's event was lost: StepEventLost.
    """
    release_ended: float | None = None
    while True:
        until = deadline if release_ended is None else min(deadline, release_ended + LOST_GRACE_S)
        try:
            message = await _receive(ws, until)
        except TimeoutError:
            if release_ended is not None:
                raise StepEventLost(
                    f"the release's own event came, the {step} {state} event did not"
                ) from None
            raise
        kind = message.get("type")
        if kind == "next":
            payload = message["payload"]
            if payload.get("errors"):
                raise RuntimeError(f"subscription error: {payload['errors']}")
            event: dict[str, Any] = payload["data"]["releaseEvents"]
            if event["step"] == step and event["state"].lower() == state:
                return event
            if event["state"].lower() == "failed":
                raise RuntimeError(f"release failed: {event}")
            if event["step"] is None and event["state"].lower() != "running":
                release_ended = release_ended or time.monotonic()
        elif kind in ("error", "complete"):
            raise RuntimeError(f"subscription ended: {message}")


async def wait_for_release_end(ws: ClientConnection, deadline: float) -> None:
    while True:
        message = await _receive(ws, deadline)
        if message.get("type") != "next":
            return
        event = message["payload"].get("data", {}).get("releaseEvents") or {}
        step, state = event.get("step"), event.get("state", "").lower()
        released = step is None and state != "running"
        # The release's end, or the next step (the build) starting after it.
        if released or step not in (None, AWAIT_PUSH):
            return


# --------------------------------------------------------------------------
# The webhook.
# --------------------------------------------------------------------------


def push_event(sha: str, before: str) -> bytes:
    return json.dumps(
        {
            "ref": BRANCH_REF,
            "before": before,
            "after": sha,
            "repository": {"full_name": PLATFORM_REPO, "name": PLATFORM_REPO.split("/")[1]},
            "commits": [{"id": sha}],
            "head_commit": {"id": sha},
        }
    ).encode()


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "home-idp-bench",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={signature}",
    }


@dataclass
class Sample:
    # None: the step's event was lost (the release's own event came instead).
    event: float | None
    response: float
    floor: float


async def measure_one(
    client: httpx.AsyncClient,
    base_url: str,
    ws_url: str,
    token: str,
    secret: str,
    release: Prepared,
    before: str,
) -> Sample:
    ws = await open_subscription(ws_url, token, release.release_id)
    try:
        started = time.perf_counter()
        health = await client.get(f"{base_url}/healthz")
        floor = time.perf_counter() - started
        health.raise_for_status()

        body = push_event(release.commit_sha, before)
        headers = signed_headers(secret, body)
        answered: list[float] = []

        async def post() -> httpx.Response:
            response = await client.post(f"{base_url}/webhooks/git", content=body, headers=headers)
            answered.append(time.perf_counter())
            return response

        started = time.perf_counter()
        posting = asyncio.create_task(post())
        event: float | None
        try:
            await wait_for_event(ws, AWAIT_PUSH, "succeeded", time.monotonic() + EVENT_TIMEOUT_S)
            event = time.perf_counter() - started
        except StepEventLost:
            event = None
        finally:
            response = await posting
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:300]}")
        outcome = response.json()
        if outcome.get("outcome") != "accepted" or "advanced 1 step" not in outcome.get(
            "detail", ""
        ):
            raise RuntimeError(f"webhook did not advance the release: {outcome}")
        if event is not None:
            # Let the release's own event through before leaving, so the server is
            # not writing to a socket that is closing.
            with contextlib.suppress(TimeoutError):
                await wait_for_release_end(ws, time.monotonic() + LOST_GRACE_S)
        with contextlib.suppress(Exception):
            await ws.send(json.dumps({"id": "1", "type": "complete"}))
        return Sample(event=event, response=answered[0] - started, floor=floor)
    finally:
        await ws.close()


# --------------------------------------------------------------------------
# One backend.
# --------------------------------------------------------------------------


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections: bound here, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port


def _server_env(
    data_dir: Path, database_url: str, port: int, secret: str, dead_port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOME_IDP_")}
    env.update(
        HOME_IDP_DATA_DIR=str(data_dir),
        HOME_IDP_DATABASE_URL=database_url,
        HOME_IDP_PORT=str(port),
        HOME_IDP_LOG_LEVEL="warning",
        HOME_IDP_ACCESS_TOKEN_TTL_SECONDS="7200",
        HOME_IDP_GIT__WEBHOOK_SECRET=secret,
        # The hook posts to public_url + /webhooks/git: here, nobody listens.
        HOME_IDP_PUBLIC_URL=f"http://127.0.0.1:{dead_port}",
        # Only webhooks advance steps: no reconciler pass, no deadline during a run.
        HOME_IDP_PIPELINE__RECONCILE_INTERVAL_SECONDS="3600",
        HOME_IDP_PIPELINE__AWAIT_PUSH_TIMEOUT_SECONDS="3600",
        # The engine's own cost: no watch after the rollout.
        HOME_IDP_PIPELINE__STABILITY_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def _home_idp() -> Path:
    candidate = Path(sys.executable).parent / "home-idp"
    return candidate if candidate.exists() else REPO_ROOT / ".venv" / "bin" / "home-idp"


async def bench_backend(backend: str, args: argparse.Namespace) -> BackendReport:
    started = time.monotonic()
    step = _stepper(backend)
    home_idp = _home_idp()
    with (
        tempfile.TemporaryDirectory(prefix=f"home-idp-bench-pipeline-{backend}-") as tmp_name,
        refusing_port() as dead_port,
    ):
        tmp = Path(tmp_name)
        async with scratch_database(backend, tmp) as database_url:
            port = free_port()
            secret = secrets.token_urlsafe(WEBHOOK_SECRET_BYTES)
            env = _server_env(tmp / "data", database_url, port, secret, dead_port)
            password = secrets.token_urlsafe(18)
            await run_command(
                [str(home_idp), "admin", "create", ADMIN_USERNAME, "--password-stdin"],
                env,
                f"{password}\n".encode(),
            )
            step("admin created (migrations applied)")
            base_url = f"http://127.0.0.1:{port}"
            ws_url = f"ws://127.0.0.1:{port}/graphql"
            argv = [str(home_idp), "serve", "--host", "127.0.0.1"]
            log_path = tmp / "server.log"
            async with running("home-idp serve", argv, env, log_path, base_url):
                step(f"server ready on :{port}; hook webhooks go to refusing :{dead_port}")
                token = await login(base_url, password)
                limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
                async with httpx.AsyncClient(
                    timeout=REQUEST_TIMEOUT_S, limits=limits, trust_env=False
                ) as client:
                    api = Api(client, base_url, token)
                    project = await api.mutate(CREATE_PROJECT, "createProject", {"name": PROJECT})
                    app = await api.mutate(
                        CREATE_APP,
                        "createApp",
                        {
                            "project": project["project"]["id"],
                            "name": APP,
                            "sourceRepo": "https://git.example.invalid/bench/web.git",
                        },
                    )
                    app_id: str = app["app"]["id"]
                    total = args.warmup + args.releases
                    prepare_started = time.monotonic()
                    prepared, commits = await prepare_releases(api, app_id, total)
                    prepare_seconds = time.monotonic() - prepare_started
                    step(
                        f"{total} releases waiting in {AWAIT_PUSH} after {prepare_seconds:.1f}s "
                        f"({prepare_seconds / total * 1000:.0f} ms per release; commit step "
                        f"p50 {percentile(commits, 0.5):.0f} ms, p99 "
                        f"{percentile(commits, 0.99):.0f} ms)"
                    )
                    event = Series("webhook -> event")
                    response = Series("webhook response")
                    floor = Series("GET /healthz")
                    before = "0" * 40
                    measured: list[str] = []
                    lost: list[str] = []
                    for index, release in enumerate(prepared):
                        try:
                            sample = await measure_one(
                                client, base_url, ws_url, token, secret, release, before
                            )
                        except (TimeoutError, RuntimeError) as error:
                            state = await api.call(RELEASE_QUERY, {"id": release.release_id})
                            raise RuntimeError(
                                f"release {index + 1} of {total} ({release.release_id}, commit "
                                f"{release.commit_sha[:12]}): {type(error).__name__}: {error}; "
                                f"the release now: {state['node']}\nserver log:\n"
                                f"{_tail(log_path)}"
                            ) from error
                        before = release.commit_sha
                        if index < args.warmup:
                            continue
                        measured.append(release.release_id)
                        if sample.event is None:
                            lost.append(release.release_id)
                            step(
                                f"release {index + 1}: the {AWAIT_PUSH} succeeded event never "
                                "came; the release's own succeeded event did"
                            )
                        else:
                            event.samples.append(sample.event)
                        response.samples.append(sample.response)
                        floor.samples.append(sample.floor)
                    step(
                        f"measured {len(measured)} releases after {args.warmup} warm-up; "
                        f"{len(lost)} step event(s) lost"
                    )
                    await verify(api, prepared, total)
                    step("checked: every release succeeded; deliveries = webhooks sent")
                for series in (event, response, floor):
                    print(f"[{backend}] {series.line()}", flush=True)
                _report_server_log(backend, log_path)
    report = BackendReport(
        backend=backend,
        event=event,
        response=response,
        floor=floor,
        prepare_seconds=prepare_seconds,
        prepared=total,
        measured=len(measured),
        lost=len(lost),
        seconds=time.monotonic() - started,
    )
    print(
        f"[{backend}] ratio to the floor: p50 {report.ratio_p50:.1f}x, p99 "
        f"{report.ratio_p99:.1f}x; step events lost: {report.lost} of {report.measured}"
        f"  (backend done in {report.seconds:.1f}s, load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return report


async def verify(api: Api, prepared: Sequence[Prepared], sent: int) -> None:
    """Every release got past its push, and the server saw only this benchmark's webhooks.

    (The build after it needs a registry, which this benchmark does not run:
    `tests.bench.build` measures that part.)
    """
    for release in prepared:
        node = (await api.call(RELEASE_QUERY, {"id": release.release_id}))["node"]
        steps = {step["name"]: step["state"] for step in node["steps"]}
        if steps.get(AWAIT_PUSH) != "SUCCEEDED" or node["commitSha"] != release.commit_sha:
            raise RuntimeError(f"release {release.release_id} ended as {node}")
    data = await api.call(DELIVERIES, {"filter": {"source": "git"}})
    received = data["webhookDeliveries"]["totalCount"]
    if received != sent:
        raise RuntimeError(f"the server recorded {received} git webhooks; this run sent {sent}")


def _report_server_log(backend: str, log_path: Path) -> None:
    """Server-side warnings and errors of the run (the log level is warning)."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return
    starts = [
        i for i, line in enumerate(lines) if line.startswith(("ERROR", "WARNING", "CRITICAL"))
    ]
    if not starts:
        return
    kinds = sorted({lines[i][:120] for i in starts})
    print(f"[{backend}] server log: {len(starts)} warning/error record(s):")
    for kind in kinds:
        print(f"    {sum(lines[i][:120] == kind for i in starts)} x {kind}")
    first = starts[0]
    block = lines[first : starts[1] if len(starts) > 1 else first + 40][:40]
    print(f"[{backend}] the first one in full:")
    for line in block:
        print(f"    {line[:300]}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _stepper(backend: str) -> Callable[[str], None]:
    started = time.monotonic()

    def step(message: str) -> None:
        print(f"[{backend} +{time.monotonic() - started:5.1f}s] {message}", flush=True)

    return step


# --------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------


def print_summary(reports: Sequence[BackendReport], args: argparse.Namespace) -> None:
    headers = (
        "Backend",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "webhook response p50 ms",
        "GET /healthz p50 ms",
        "GET /healthz p99 ms",
        "p50 / floor",
        "step events lost",
    )
    rows = [
        (
            r.backend,
            f"{r.event.p(0.50):.1f}",
            f"{r.event.p(0.95):.1f}",
            f"{r.event.p(0.99):.1f}",
            f"{r.event.max:.1f}",
            f"{r.response.p(0.50):.1f}",
            f"{r.floor.p(0.50):.2f}",
            f"{r.floor.p(0.99):.2f}",
            f"{r.ratio_p50:.1f}x",
            f"{r.lost} / {r.measured}",
        )
        for r in reports
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print()
    print(
        f"Summary: push webhook -> await-push advanced -> releaseEvents delivered over "
        f"graphql-transport-ws; {args.releases} releases per backend (after {args.warmup} "
        f"warm-up), one at a time; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}, Python {platform.python_version()}. Latencies in ms; "
        "percentiles over the releases whose step event arrived."
    )
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print()
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join(":---" if i == 0 else "---:" for i in range(len(headers))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(f"Target (reference only, not asserted): p99 < {TARGET_P99_MS:.0f} ms.")
    for r in reports:
        met = "met" if r.event.p(0.99) < TARGET_P99_MS and not r.lost else "missed"
        lost = f", {r.lost} of {r.measured} step events never delivered" if r.lost else ""
        print(f"  {r.backend}: p99 {r.event.p(0.99):.1f} ms{lost} ({met})")


# --------------------------------------------------------------------------
# Entry point.
# --------------------------------------------------------------------------


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.pipeline",
        description="Push webhook to subscription event latency of a release step.",
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgres",
        help="comma-separated: sqlite, postgres (default both)",
    )
    parser.add_argument(
        "--releases", type=int, default=200, help="measured per backend (default 200)"
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="unmeasured releases first (default 10)"
    )
    args = parser.parse_args(argv)
    args.backend_list = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backend_list) - set(BACKENDS)
    if unknown or not args.backend_list:
        parser.error(f"--backends takes {', '.join(BACKENDS)}; got {args.backends!r}")
    if not 1 <= args.releases <= 5000 or not 0 <= args.warmup <= 1000:
        parser.error("--releases must be 1..5000 and --warmup 0..1000")
    return args


async def _run(args: argparse.Namespace) -> list[BackendReport]:
    task = asyncio.current_task()
    if task is not None:
        # SIGTERM unwinds like Ctrl-C: server stopped, database dropped, temp dirs gone.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return [await bench_backend(backend, args) for backend in args.backend_list]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    started = time.monotonic()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            reports = runner.run(_run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; server stopped and temp data removed", file=sys.stderr)
        return 130
    print_summary(reports, args)
    print(f"\nTotal run time: {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
