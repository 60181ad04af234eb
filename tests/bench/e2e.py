"""Benchmark: the local flow end to end, step by step, and home-idp's own overhead.

Not a pytest test. Run from the repository root:

    .venv/bin/python -m tests.bench.e2e [--releases 10]

It starts what the test suite uses (the Debian registry and a git server on
loopback ports, a busybox base image pushed to the registry) and the real
server (`home-idp serve`) on SQLite with its local defaults: the local
platform repo, buildah, and the container deployer (podman, published on
127.0.0.1). Each release saves a Dockerfile with a fresh ENV (so every image
is new) whose app serves HTTP; the release's steps are read back through
GraphQL, and the app's URL is fetched to check it answers.

It prints the p50 of every step over the releases, and home-idp's own
overhead: the whole release minus the build (`buildah bud` + push) and minus
the container start (`sync`: pull and run; `rollout`: until the health path
answers). Target: overhead under 1 s per release.

Every process and container started here is stopped; temp dirs are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import httpx

from tests.components import (
    BASE_IMAGE,
    build_settings,
    remove_app_containers,
    start_build_components,
)
from tests.deploy.remote import make_app, save, wait_until_finished
from tests.liveserver import free_port
from tests.serverprocess import ServerProcess, home_idp_env

TARGET_OVERHEAD_S = 1.0
STEPS = (
    "commit",
    "await-push",
    "build",
    "await-image",
    "manifests",
    "await-manifest-push",
    "sync",
    "rollout",
)
RELEASE_QUERY = (
    "query($id: ID!) { node(id: $id) { ... on Release { status error url createdAt finishedAt "
    "steps { name startedAt finishedAt } } } }"
)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def one_release(server: ServerProcess, app_id: str) -> dict[str, float]:
    """Seconds per step, and `total`, of one release that must succeed and answer."""
    dockerfile = f'FROM {BASE_IMAGE}\nCOPY . /app\nENV RUN={uuid.uuid4().hex}\nCMD ["/app/run"]\n'
    release = save(server, app_id, dockerfile)
    state = wait_until_finished(server, release, timeout=300)
    if state["status"] != "SUCCEEDED":
        raise RuntimeError(f"the release did not succeed: {state}")
    node = server.graphql(RELEASE_QUERY, {"id": release})["node"]
    if httpx.get(node["url"], timeout=5).status_code != 200:
        raise RuntimeError(f"the app does not answer at {node['url']}")
    figures = {
        step["name"]: (_at(step["finishedAt"]) - _at(step["startedAt"])).total_seconds()
        for step in node["steps"]
    }
    figures["total"] = (_at(node["finishedAt"]) - _at(node["createdAt"])).total_seconds()
    return figures


def run(releases: int) -> int:
    with tempfile.TemporaryDirectory(prefix="home-idp-bench-e2e-") as tmp:
        work = Path(tmp)
        port = free_port()
        components = start_build_components(
            work / "components", f"http://127.0.0.1:{port}/webhooks/registry"
        )
        data = work / "data"
        try:
            server = ServerProcess(
                home_idp_env(
                    data,
                    f"sqlite://{work / 'home-idp.sqlite3'}",
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
                one_release(server, app_id)  # warm-up: the base image into storage
                samples = []
                for number in range(1, releases + 1):
                    samples.append(one_release(server, app_id))
                    print(f"release {number}: {samples[-1]['total']:.2f}s", flush=True)
            finally:
                server.kill()
                asyncio.run(remove_app_containers(data))
        finally:
            components.stop()
    report(samples)
    return 0


def report(samples: Sequence[dict[str, float]]) -> None:
    p50 = {name: statistics.median(s[name] for s in samples) for name in (*STEPS, "total")}
    overheads = [s["total"] - s["build"] - s["sync"] - s["rollout"] for s in samples]
    overhead = statistics.median(overheads)
    print()
    print(f"{len(samples)} releases, p50 seconds per step:")
    print("| " + " | ".join((*STEPS, "total", "overhead")) + " |")
    print("|" + "---:|" * (len(STEPS) + 2))
    print(
        "| " + " | ".join(f"{p50[name]:.2f}" for name in (*STEPS, "total")) + f" | {overhead:.2f} |"
    )
    verdict = "within" if overhead < TARGET_OVERHEAD_S else "over"
    print(
        f"home-idp's overhead (total - build - sync - rollout) p50 {overhead:.2f}s, max "
        f"{max(overheads):.2f}s: {verdict} the {TARGET_OVERHEAD_S:.0f} s target"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=10, help="measured releases (default 10)")
    args = parser.parse_args(argv)
    return run(args.releases)


if __name__ == "__main__":
    sys.exit(main())
