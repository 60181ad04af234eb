"""Benchmark: an image build run by home-idp against the same build run by hand.

Not a pytest test. Run from the repository root:

    .venv/bin/python -m tests.bench.build [--runs 5]

It starts what the test suite builds with (the Debian registry on a loopback
port, a git server for the source repo, a busybox base image pushed to the
registry) and the real server (`home-idp serve`) with its buildah builder,
notified by the registry. Each run saves a 5-step Dockerfile (FROM the base,
RUN, COPY, COPY, CMD) with a fresh RUN line, so nothing is cached; its app
serves `/` so the release rolls out and ends; the step times are read back
through GraphQL:

- orchestration: from the push webhook's step ending (`await-push`) to the
  build starting, plus from the build's end to the registry webhook ending
  `await-image` — what home-idp adds around the build;
- build: the `build` step, which fetches the platform repo and the source
  repo, runs `buildah bud` and `buildah push`.

The floor, measured in the same run and alternated with it: the same work by
hand — `git clone --depth 1` of the source, `buildah bud` of the same
Dockerfile, `buildah push`, with the same storage and flags (every RUN step
isolated, as the plugin runs it).

With `--cache` it measures the layer cache instead, through the buildah
builder plugin itself (start to result: fetch, bud, push): a Dockerfile with
a slow dependency step (`RUN sleep 3`, standing for a download or a compile)
before `COPY . /app`. Each run builds it cold (a new dependency line, so only
the base is in the project's store) and then again after a source-only change,
which should reuse the dependency layer; and, as the floor of today's
behaviour, the same source-only change with the cache off. Target: the build
after a source-only change takes at most half the cold one.

Every process started here is stopped by its PID; temp dirs are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from home_idp.plugins.builder.buildah import BuildahBuilder
from home_idp.plugins.builder.contract import BuilderConfig, BuildRequest, GitSource
from home_idp.plugins.builder.isolation import BuildIsolation
from tests.components import (
    BASE_IMAGE,
    REGISTRY_HOST,
    SOURCE_REPO,
    BuildComponents,
    build_settings,
    buildah_command,
    remove_app_containers,
    start_build_components,
)
from tests.deploy.remote import make_app, save, wait_until_finished
from tests.liveserver import free_port
from tests.serverprocess import ServerProcess, home_idp_env

TARGET_OVERHEAD_MS = 300.0
TARGET_CACHED_RATIO = 0.5
DEPS_SECONDS = 3
CACHE_DOCKERFILE = "projects/bench/apps/web/Dockerfile"
STEPS_QUERY = (
    "query($id: ID!) { node(id: $id) { ... on Release { status error "
    "steps { name startedAt finishedAt } } } }"
)


def dockerfile() -> str:
    return (
        f"FROM {BASE_IMAGE}\n"
        f"RUN echo run {uuid.uuid4().hex} > /built\n"
        # The app's health check asks for `/`: the page it serves there.
        "COPY index.html /app/index.html\n"
        "COPY run /app/run\n"
        'CMD ["/app/run"]\n'
    )


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def by_hand(components: BuildComponents, work: Path, number: int) -> float:
    """The floor: clone, bud, push, as an operator would type them. Seconds."""
    buildah = buildah_command(components.buildah_root)
    source = work / f"hand-{number}"
    (work / f"hand-{number}.Dockerfile").write_text(dockerfile())
    image = f"{REGISTRY_HOST}/bench/by-hand:{number}"
    started = time.monotonic()
    for argv in (
        ["git", "clone", "--quiet", "--depth", "1", SOURCE_REPO, str(source)],
        [
            *buildah,
            "bud",
            *BuildIsolation().bud_args(),
            "--tls-verify=false",
            "--layers=false",
            "--file",
            str(work / f"hand-{number}.Dockerfile"),
            "--tag",
            image,
            str(source),
        ],
        [*buildah, "push", "--tls-verify=false", image],
    ):
        subprocess.run(argv, check=True, capture_output=True, timeout=300)
    elapsed = time.monotonic() - started
    subprocess.run([*buildah, "rmi", image], check=False, capture_output=True, timeout=60)
    return elapsed


def through_home_idp(server: ServerProcess, app_id: str) -> tuple[float, float, float]:
    """One release; (orchestration before the build, build, after the build) in seconds."""
    release = save(server, app_id, dockerfile())
    state = wait_until_finished(server, release, timeout=300)
    if state["status"] != "SUCCEEDED":
        raise RuntimeError(f"the release did not succeed: {state}")
    node = server.graphql(STEPS_QUERY, {"id": release})["node"]
    steps = {step["name"]: step for step in node["steps"]}
    before = _at(steps["build"]["startedAt"]) - _at(steps["await-push"]["finishedAt"])
    build = _at(steps["build"]["finishedAt"]) - _at(steps["build"]["startedAt"])
    after = _at(steps["await-image"]["finishedAt"]) - _at(steps["build"]["finishedAt"])
    return before.total_seconds(), build.total_seconds(), after.total_seconds()


def run(runs: int) -> int:
    with tempfile.TemporaryDirectory(prefix="home-idp-bench-build-") as tmp:
        work = Path(tmp)
        port = free_port()
        components = start_build_components(
            work / "components", f"http://127.0.0.1:{port}/webhooks/registry"
        )
        try:
            # SQLite: the build's cost does not depend on the database.
            database = f"sqlite://{work / 'home-idp.sqlite3'}"
            server = ServerProcess(
                home_idp_env(
                    work / "data",
                    database,
                    public_url=f"http://127.0.0.1:{port}",
                    log_level="warning",
                    **build_settings(components.buildah_root),
                ),
                port=port,
            )
            server.create_admin()
            server.start()
            try:
                server.login()
                app_id = make_app(server, "bench", "web")
                through_home_idp(server, app_id)  # warm-up: base image into storage
                by_hand(components, work, 0)
                ours: list[tuple[float, float, float]] = []
                floor: list[float] = []
                for number in range(1, runs + 1):
                    ours.append(through_home_idp(server, app_id))
                    floor.append(by_hand(components, work, number))
                    print(
                        f"run {number}: home-idp build {ours[-1][1] * 1000:.0f} ms "
                        f"(+{(ours[-1][0] + ours[-1][2]) * 1000:.0f} ms around it), "
                        f"by hand {floor[-1] * 1000:.0f} ms",
                        flush=True,
                    )
            finally:
                server.kill()
                # The app's container runs on after its server (as a deployed
                # app should); its mounts would keep the temp dir from going.
                asyncio.run(remove_app_containers(work / "data"))
        finally:
            components.stop()
    report(ours, floor)
    return 0


def report(ours: Sequence[tuple[float, float, float]], floor: Sequence[float]) -> None:
    before = statistics.median(o[0] for o in ours) * 1000
    after = statistics.median(o[2] for o in ours) * 1000
    build = statistics.median(o[1] for o in ours) * 1000
    hand = statistics.median(floor) * 1000
    overhead = before + after
    print()
    print(f"{len(ours)} runs, medians:")
    print(
        "| push webhook → build start ms | build step ms | by hand ms | build / by hand "
        "| build end → image webhook ms | orchestration ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {before:.0f} | {build:.0f} | {hand:.0f} | {build / hand:.2f} | {after:.0f} "
        f"| {overhead:.0f} |"
    )
    verdict = "within" if overhead < TARGET_OVERHEAD_MS else "over"
    print(
        f"orchestration overhead {overhead:.0f} ms: {verdict} the {TARGET_OVERHEAD_MS:.0f} ms target"
    )


def cache_dockerfile(marker: str) -> str:
    return (
        f"FROM {BASE_IMAGE}\n"
        # The slow dependency step, before the source: what the cache saves.
        f"RUN sleep {DEPS_SECONDS} && echo deps {marker} > /deps\n"
        "COPY . /app\n"
        "RUN cat /app/msg.txt\n"
    )


def _commit(repo: Path, files: dict[str, str]) -> str:
    """Write files into a work-tree repo and commit them; the commit's sha."""
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@example.test", "-C", str(repo)]
    if not (repo / ".git").is_dir():
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


async def _timed_build(
    builder: BuildahBuilder, data: Path, platform: Path, platform_sha: str, source: Path, sha: str
) -> tuple[float, bool]:
    """One build by the plugin, start to result; (seconds, whether a layer was reused)."""
    tag = uuid.uuid4().hex[:12]
    request = BuildRequest(
        build_id=f"bench-{tag}",
        namespace="bench",
        source=GitSource(str(source), sha),
        platform=GitSource(str(platform), platform_sha),
        dockerfile_path=CACHE_DOCKERFILE,
        image=f"{REGISTRY_HOST}/bench/web:{tag}",
        insecure_registry=True,
        # As the server passes them, different every release.
        env={
            "TRACEPARENT": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
            "HOME_IDP_RELEASE": tag,
        },
    )
    started = time.monotonic()
    handle = await builder.start(request)
    lines = [line async for line in handle.log_lines()]
    result = await handle.result()
    elapsed = time.monotonic() - started
    if not result.succeeded:
        raise RuntimeError(f"the build failed: {result.reason}: {lines[-10:]}")
    # The clean-up runs after the result, off the release's path: not timed,
    # but over before the next build so that the two do not share the CPU.
    while list((data / "builds").glob(f"{request.build_id}.*")):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return elapsed, any("--> Using cache" in line for line in lines)


async def _cache_runs(work: Path, runs: int) -> list[tuple[float, float, float]]:
    cached_data, uncached_data = work / "cached", work / "uncached"
    cached = BuildahBuilder(BuilderConfig(cached_data, {}))
    uncached = BuildahBuilder(BuilderConfig(uncached_data, {"cache": "false"}))
    platform, source = work / "platform", work / "source"
    sha = _commit(source, {"msg.txt": "source 0\n"})
    platform_sha = _commit(platform, {CACHE_DOCKERFILE: cache_dockerfile("warm-up")})
    # Warm-up: the base image into both stores.
    await _timed_build(cached, cached_data, platform, platform_sha, source, sha)
    await _timed_build(uncached, uncached_data, platform, platform_sha, source, sha)
    measured: list[tuple[float, float, float]] = []
    for number in range(1, runs + 1):
        # A new dependency line: nothing but the base can be reused.
        platform_sha = _commit(platform, {CACHE_DOCKERFILE: cache_dockerfile(uuid.uuid4().hex)})
        cold, reused = await _timed_build(cached, cached_data, platform, platform_sha, source, sha)
        if reused:
            raise RuntimeError("the cold build reused a layer")
        sha = _commit(source, {"msg.txt": f"source {number}\n"})
        warm, reused = await _timed_build(cached, cached_data, platform, platform_sha, source, sha)
        if not reused:
            raise RuntimeError("the build after a source-only change reused no layer")
        sha = _commit(source, {"msg.txt": f"source {number} again\n"})
        off, _ = await _timed_build(uncached, uncached_data, platform, platform_sha, source, sha)
        measured.append((cold, warm, off))
        print(
            f"run {number}: cold {cold * 1000:.0f} ms, after a source-only change "
            f"{warm * 1000:.0f} ms, the same with the cache off {off * 1000:.0f} ms",
            flush=True,
        )
    await cached.aclose()
    await uncached.aclose()
    return measured


def run_cache(runs: int) -> int:
    with tempfile.TemporaryDirectory(prefix="home-idp-bench-cache-") as tmp:
        work = Path(tmp)
        # No server here: nothing listens for the registry's notifications.
        components = start_build_components(
            work / "components", f"http://127.0.0.1:{free_port()}/webhooks/registry"
        )
        try:
            measured = asyncio.run(_cache_runs(work, runs))
        finally:
            components.stop()
    cold = statistics.median(m[0] for m in measured) * 1000
    warm = statistics.median(m[1] for m in measured) * 1000
    off = statistics.median(m[2] for m in measured) * 1000
    print()
    print(f"{len(measured)} runs, medians (a {DEPS_SECONDS} s dependency step before the COPY):")
    print(
        "| cold build ms | after a source-only change ms | warm / cold "
        "| source-only change, cache off ms |"
    )
    print("|---:|---:|---:|---:|")
    print(f"| {cold:.0f} | {warm:.0f} | {warm / cold:.2f} | {off:.0f} |")
    verdict = "within" if warm / cold <= TARGET_CACHED_RATIO else "over"
    print(f"warm / cold {warm / cold:.2f}: {verdict} the {TARGET_CACHED_RATIO:.2f} target")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs (default 5)")
    parser.add_argument(
        "--cache",
        action="store_true",
        help="measure the layer cache: a cold build against one after a source-only change",
    )
    args = parser.parse_args(argv)
    return run_cache(args.runs) if args.cache else run(args.runs)


if __name__ == "__main__":
    sys.exit(main())
