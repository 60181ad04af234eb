"""Benchmark: the GraphQL `projects` list with members against a plain floor.

Not a pytest test. Run from the repository root:

    .venv/bin/python -m tests.bench.api [--backends sqlite,postgres] [--requests 2000]

For each backend it starts the real server (`home-idp serve`) as a subprocess on
a fresh database (SQLite in a temp dir, or a throwaway Postgres database that is
dropped at the end), creates an admin with `home-idp admin create`, seeds 200
projects with 5 members each, logs in through GraphQL and then drives

    { projects(first: 50) { edges { node { name members { edges { node {
        user { username } role { name } } } } } } } }

with 20 concurrent keep-alive clients. The floor is a plain Starlette JSON
endpoint (this module, `serve-floor`, in another uvicorn subprocess) that reads
the same 50 projects with their members' usernames and role names through the
same ORM from the same database, driven the same way. It prints requests/s,
p50/p99 latency and the GraphQL/plain throughput ratio per backend, then a
summary table, also in Markdown.

It is the measure the schema's performance code answers to: `Member.connection`
loads a page's users and roles ahead in one batch per loader (reading the
selection in schema/core/selection.py), and `resolve_loaded` hands the loaded
nodes to the members as plain values rather than awaitables
(schema/core/loaders.py).

All traffic goes to 127.0.0.1; request loops are bounded in count and time;
every process started here is stopped by its PID and temp dirs are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
ADMIN_USERNAME = "bench"
BACKENDS = ("sqlite", "postgres")

PROJECTS = 200
MEMBERS_PER_PROJECT = 5
USER_POOL = 100
PAGE = 50
MEMBER_ROLES = ("maintainer", "developer", "developer", "viewer", "viewer")

PROJECTS_QUERY = (
    "{ projects(first: 50) { edges { node { name members { edges { node "
    "{ user { username } role { name } } } } } } } }"
)
LOGIN_MUTATION = (
    "mutation Login($input: LoginInput!) { login(input: $input) { __typename "
    "... on Tokens { accessToken } ... on Error { message } } }"
)

TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------
# The floor: a plain Starlette endpoint on the same ORM and database.
# --------------------------------------------------------------------------


def _floor_app(database_url: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from tortoise import Tortoise

    from home_idp.server.db import tortoise_config
    from home_idp.server.rbac.models import Membership, Project, Role, User

    async def projects(_: Request) -> JSONResponse:
        # The same four queries the GraphQL DataLoaders issue, with model instances:
        # the difference to GraphQL is then the GraphQL layer, not the data access.
        rows = await Project.all().order_by("id").limit(PAGE)
        memberships = await Membership.filter(project_id__in=[row.id for row in rows]).order_by(
            "id"
        )
        users = {u.id: u for u in await User.filter(id__in={m.user_id for m in memberships})}
        roles = {r.id: r for r in await Role.filter(id__in={m.role_id for m in memberships})}
        members: dict[int, list[dict[str, str]]] = {row.id: [] for row in rows}
        for membership in memberships:
            members[membership.project_id].append(
                {
                    "username": users[membership.user_id].username,
                    "role": roles[membership.role_id].name,
                }
            )
        return JSONResponse(
            {"projects": [{"name": row.name, "members": members[row.id]} for row in rows]}
        )

    async def readyz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ready"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Same config and the same global fallback as the real server.
        await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)
        try:
            yield
        finally:
            await Tortoise.close_connections()

    return Starlette(
        routes=[Route("/projects", projects), Route("/readyz", readyz)], lifespan=lifespan
    )


def _serve_floor(argv: Sequence[str]) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="tests.bench.api serve-floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    # The same uvicorn settings as `home-idp serve` (uvloop/httptools when present).
    uvicorn.run(
        _floor_app(args.database_url),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        proxy_headers=False,
    )
    return 0


# --------------------------------------------------------------------------
# Processes, ports, databases.
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _open_log(path: Path) -> IO[bytes]:
    return path.open("ab")


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _server_env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOME_IDP_")}
    env.update(
        HOME_IDP_DATA_DIR=str(data_dir),
        HOME_IDP_DATABASE_URL=database_url,
        HOME_IDP_LOG_LEVEL="warning",
        # Longer than any run, so the one login lasts the whole benchmark.
        HOME_IDP_ACCESS_TOKEN_TTL_SECONDS="7200",
        PYTHONUNBUFFERED="1",
    )
    return env


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """Terminate by PID, kill after a timeout; always reap."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@asynccontextmanager
async def running(
    name: str, argv: Sequence[str], env: dict[str, str], log_path: Path, base_url: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a server process, wait for its /readyz, stop it by PID at the end."""
    log = _open_log(log_path)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    finally:
        log.close()
    try:
        await _wait_ready(name, process, f"{base_url}/readyz", log_path)
        yield process
    finally:
        await stop_process(process)


async def _wait_ready(
    name: str, process: asyncio.subprocess.Process, url: str, log_path: Path
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{_log_tail(log_path)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} not ready after {READY_TIMEOUT_S:.0f}s:\n{_log_tail(log_path)}")


async def run_command(argv: Sequence[str], env: dict[str, str], stdin: bytes) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO_ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(stdin), READY_TIMEOUT_S)
    finally:
        await stop_process(process)
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}):\n{text}")
    return text


def _postgres_url(name: str) -> str:
    return urlunsplit(urlsplit(POSTGRES_SERVER)._replace(path=f"/{name}"))


@asynccontextmanager
async def scratch_database(backend: str, tmp: Path) -> AsyncIterator[str]:
    """An empty database for one backend; a Postgres one is dropped at the end."""
    if backend == "sqlite":
        yield f"sqlite://{tmp / 'data' / 'home-idp.sqlite3'}"
        return
    import asyncpg

    name = f"home_idp_bench_{secrets.token_hex(4)}"
    admin_url = POSTGRES_SERVER.replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _postgres_url(name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _seed_command(argv: Sequence[str]) -> int:
    """Seed in a process of its own: Tortoise keeps per-dialect state in the models."""
    parser = argparse.ArgumentParser(prog="tests.bench.api seed")
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    asyncio.run(seed(args.database_url))
    return 0


async def seed(database_url: str) -> None:
    """200 projects x 5 active members, straight into the migrated database."""
    from argon2 import PasswordHasher
    from tortoise import Tortoise

    from home_idp.server.db import tortoise_config
    from home_idp.server.rbac.models import Membership, Project, Role, User, UserStatus

    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)
    try:
        password_hash = PasswordHasher().hash(secrets.token_urlsafe(16))
        await User.bulk_create(
            [
                User(
                    username=f"bench-user-{i:03d}",
                    password_hash=password_hash,
                    status=UserStatus.ACTIVE,
                )
                for i in range(USER_POOL)
            ]
        )
        await Project.bulk_create(
            [
                Project(name=f"bench-project-{i:03d}", description=f"benchmark project {i}")
                for i in range(PROJECTS)
            ]
        )
        users = await User.filter(username__startswith="bench-user-").order_by("id")
        projects = await Project.all().order_by("id")
        roles = {role.name: role.id for role in await Role.all()}
        await Membership.bulk_create(
            [
                Membership(
                    user_id=users[(p * MEMBERS_PER_PROJECT + k) % USER_POOL].id,
                    project_id=project.id,
                    role_id=roles[MEMBER_ROLES[k]],
                )
                for p, project in enumerate(projects)
                for k in range(MEMBERS_PER_PROJECT)
            ],
            batch_size=500,
        )
        count = await Membership.all().count()
        if count != PROJECTS * MEMBERS_PER_PROJECT:
            raise RuntimeError(f"seeded {count} memberships, expected {PROJECTS * 5}")
    finally:
        await Tortoise.close_connections()


# --------------------------------------------------------------------------
# Load driver.
# --------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    json_body: dict[str, Any] | None = None
    # Cheap check on every response body; a full check runs on the warm-up.
    bad_body: bytes | None = None
    validate: Callable[[Any], None] | None = None


@dataclass
class Result:
    ok: int
    errors: int
    elapsed: float
    latencies: list[float]
    response_bytes: int
    first_error: str | None

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q * len(ordered)))
        return ordered[rank - 1] * 1000

    @property
    def p50(self) -> float:
        return self.percentile(0.50)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)


async def drive(
    clients: Sequence[httpx.AsyncClient], target: Target, total: int, max_seconds: float
) -> Result:
    """`total` requests spread over one worker per client, stopped at `max_seconds`."""
    latencies: list[float] = []
    counters = {"issued": 0, "errors": 0, "bytes": 0}
    first_error: list[str] = []
    deadline = time.monotonic() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while counters["issued"] < total and time.monotonic() < deadline:
            counters["issued"] += 1
            started = time.perf_counter()
            try:
                response = await client.request(
                    target.method, target.url, headers=target.headers, json=target.json_body
                )
                body = response.content
            except httpx.HTTPError as error:
                counters["errors"] += 1
                if not first_error:
                    first_error.append(f"{type(error).__name__}: {error}")
                continue
            took = time.perf_counter() - started
            if response.status_code != 200 or (target.bad_body and target.bad_body in body):
                counters["errors"] += 1
                if not first_error:
                    first_error.append(f"HTTP {response.status_code}: {body[:300]!r}")
                continue
            latencies.append(took)
            counters["bytes"] = len(body)

    started = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in clients))
    elapsed = time.perf_counter() - started
    return Result(
        ok=len(latencies),
        errors=counters["errors"],
        elapsed=elapsed,
        latencies=latencies,
        response_bytes=counters["bytes"],
        first_error=first_error[0] if first_error else None,
    )


async def measure(
    target: Target, *, requests: int, warmup: int, concurrency: int, max_seconds: float
) -> Result:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    timeout=REQUEST_TIMEOUT_S, limits=limits, trust_env=False, http2=False
                )
            )
            for _ in range(concurrency)
        ]
        # One full check of the answer, then a warm-up that also opens the connections.
        response = await clients[0].request(
            target.method, target.url, headers=target.headers, json=target.json_body
        )
        response.raise_for_status()
        if target.validate is not None:
            target.validate(response.json())
        if warmup:
            warm = await drive(clients, target, warmup, max_seconds)
            if warm.errors:
                raise RuntimeError(f"{target.name} warm-up failed: {warm.first_error}")
        return await drive(clients, target, requests, max_seconds)


def _check_graphql(body: Any) -> None:
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    edges = body["data"]["projects"]["edges"]
    _check_projects(
        [
            {
                "name": edge["node"]["name"],
                "members": [
                    {"username": m["node"]["user"]["username"], "role": m["node"]["role"]["name"]}
                    for m in edge["node"]["members"]["edges"]
                ],
            }
            for edge in edges
        ]
    )


def _check_plain(body: Any) -> None:
    _check_projects(body["projects"])


def _check_projects(projects: list[dict[str, Any]]) -> None:
    if len(projects) != PAGE:
        raise RuntimeError(f"expected {PAGE} projects, got {len(projects)}")
    for project in projects:
        members = project["members"]
        if len(members) != MEMBERS_PER_PROJECT or not all(
            m["username"] and m["role"] in MEMBER_ROLES for m in members
        ):
            raise RuntimeError(f"bad members for {project['name']}: {members}")


async def login(base_url: str, password: str) -> str:
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        response = await client.post(
            f"{base_url}/graphql",
            json={
                "query": LOGIN_MUTATION,
                "variables": {"input": {"username": ADMIN_USERNAME, "password": password}},
            },
        )
    response.raise_for_status()
    result = response.json()["data"]["login"]
    if result["__typename"] != "Tokens":
        raise RuntimeError(f"login failed: {result}")
    token: str = result["accessToken"]
    return token


# --------------------------------------------------------------------------
# One backend, and the report.
# --------------------------------------------------------------------------


@dataclass
class BackendReport:
    backend: str
    graphql: Result
    plain: Result
    seconds: float

    @property
    def ratio(self) -> float:
        return self.graphql.rps / self.plain.rps if self.plain.rps else math.nan


async def bench_backend(backend: str, args: argparse.Namespace) -> BackendReport:
    started = time.monotonic()
    bin_dir = Path(sys.executable).parent
    home_idp = bin_dir / "home-idp"
    if not home_idp.exists():
        home_idp = REPO_ROOT / ".venv" / "bin" / "home-idp"
    with tempfile.TemporaryDirectory(prefix=f"home-idp-bench-{backend}-") as tmp_name:
        tmp = Path(tmp_name)
        data_dir = tmp / "data"
        async with scratch_database(backend, tmp) as database_url:
            env = _server_env(data_dir, database_url)
            password = secrets.token_urlsafe(18)
            step = _stepper(backend)
            await run_command(
                [str(home_idp), "admin", "create", ADMIN_USERNAME, "--password-stdin"],
                env,
                f"{password}\n".encode(),
            )
            step("admin created (migrations applied)")
            await run_command(
                [sys.executable, "-m", "tests.bench.api", "seed", "--database-url", database_url],
                env,
                b"",
            )
            step(f"seeded {PROJECTS} projects x {MEMBERS_PER_PROJECT} members")

            server_port, floor_port = free_port(), free_port()
            server_url = f"http://127.0.0.1:{server_port}"
            floor_url = f"http://127.0.0.1:{floor_port}"
            server_argv = [
                str(home_idp),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(server_port),
            ]
            floor_argv = [
                sys.executable,
                "-m",
                "tests.bench.api",
                "serve-floor",
                "--port",
                str(floor_port),
                "--database-url",
                database_url,
            ]
            async with (
                running("home-idp serve", server_argv, env, tmp / "server.log", server_url),
                running("floor server", floor_argv, env, tmp / "floor.log", floor_url),
            ):
                step(f"servers ready on :{server_port} (GraphQL) and :{floor_port} (plain)")
                token = await login(server_url, password)
                graphql = Target(
                    name="GraphQL",
                    url=f"{server_url}/graphql",
                    method="POST",
                    headers={"Authorization": f"Bearer {token}"},
                    json_body={"query": PROJECTS_QUERY},
                    bad_body=b'"errors"',
                    validate=_check_graphql,
                )
                plain = Target(
                    name="plain",
                    url=f"{floor_url}/projects",
                    method="GET",
                    validate=_check_plain,
                )
                options = {
                    "requests": args.requests,
                    "warmup": args.warmup,
                    "concurrency": args.concurrency,
                    "max_seconds": args.max_seconds,
                }
                graphql_result = await measure(graphql, **options)
                step(_line("GraphQL", graphql_result))
                plain_result = await measure(plain, **options)
                step(_line("plain", plain_result))
    report = BackendReport(backend, graphql_result, plain_result, time.monotonic() - started)
    print(
        f"[{backend}] ratio GraphQL/plain throughput: {report.ratio:.2f}"
        f"  (backend done in {report.seconds:.1f}s)",
        flush=True,
    )
    return report


def _stepper(backend: str) -> Callable[[str], None]:
    started = time.monotonic()

    def step(message: str) -> None:
        print(f"[{backend} +{time.monotonic() - started:5.1f}s] {message}", flush=True)

    return step


def _line(name: str, result: Result) -> str:
    text = (
        f"{name:<8} {result.rps:8.1f} req/s  p50 {result.p50:7.1f} ms  p99 {result.p99:7.1f} ms"
        f"  ({result.ok} ok, {result.errors} errors, {result.response_bytes} B/response,"
        f" {result.elapsed:.1f}s)"
    )
    if result.first_error:
        text += f"\n         first error: {result.first_error}"
    return text


def print_summary(reports: Sequence[BackendReport], args: argparse.Namespace) -> None:
    headers = (
        "Backend",
        "GraphQL req/s",
        "GraphQL p50 ms",
        "GraphQL p99 ms",
        "Plain req/s",
        "Plain p50 ms",
        "Plain p99 ms",
        "Ratio",
    )
    rows = [
        (
            r.backend,
            f"{r.graphql.rps:.0f}",
            f"{r.graphql.p50:.1f}",
            f"{r.graphql.p99:.1f}",
            f"{r.plain.rps:.0f}",
            f"{r.plain.p50:.1f}",
            f"{r.plain.p99:.1f}",
            f"{r.ratio:.2f}",
        )
        for r in reports
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print()
    print(
        f"Summary: {args.requests} requests per endpoint, {args.concurrency} concurrent "
        f"keep-alive clients, warm-up {args.warmup}; {PROJECTS} projects x "
        f"{MEMBERS_PER_PROJECT} members, page of {PAGE}; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
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
    print(
        f"Targets (reference only, not asserted): ratio >= {TARGET_RATIO} and "
        f"GraphQL p99 < {TARGET_P99_MS:.0f} ms on SQLite."
    )
    for r in reports:
        ratio_ok = "met" if r.ratio >= TARGET_RATIO else "missed"
        line = f"  {r.backend}: ratio {r.ratio:.2f} ({ratio_ok})"
        if r.backend == "sqlite":
            p99_ok = "met" if r.graphql.p99 < TARGET_P99_MS else "missed"
            line += f", GraphQL p99 {r.graphql.p99:.1f} ms ({p99_ok})"
        print(line)


# --------------------------------------------------------------------------
# Entry point.
# --------------------------------------------------------------------------


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.api",
        description="GraphQL projects-with-members throughput against a plain floor.",
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgres",
        help="comma-separated: sqlite, postgres (default both)",
    )
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint (default 2000)")
    parser.add_argument("--warmup", type=int, default=100, help="per endpoint (default 100)")
    parser.add_argument("--concurrency", type=int, default=20, help="clients (default 20)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="time cap per measured phase (default 300)",
    )
    args = parser.parse_args(argv)
    args.backend_list = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backend_list) - set(BACKENDS)
    if unknown or not args.backend_list:
        parser.error(f"--backends takes {', '.join(BACKENDS)}; got {args.backends!r}")
    if not 1 <= args.requests <= 1_000_000 or not 1 <= args.concurrency <= 500:
        parser.error("--requests must be 1..1000000 and --concurrency 1..500")
    if args.warmup < 0 or args.max_seconds <= 0:
        parser.error("--warmup must be >= 0 and --max-seconds > 0")
    return args


async def _run(args: argparse.Namespace) -> list[BackendReport]:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        # SIGTERM unwinds like Ctrl-C: servers stopped, database dropped, temp dirs gone.
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    reports = []
    for backend in args.backend_list:
        reports.append(await bench_backend(backend, args))
    return reports


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve-floor"]:
        return _serve_floor(argv[1:])
    if argv[:1] == ["seed"]:
        return _seed_command(argv[1:])
    args = _parse(argv)
    started = time.monotonic()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            reports = runner.run(_run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; servers stopped and temp data removed", file=sys.stderr)
        return 130
    print_summary(reports, args)
    print(f"\nTotal run time: {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
