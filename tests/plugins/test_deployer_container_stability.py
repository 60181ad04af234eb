"""The container deployer's stability report, with real podman: an app that answers and then
exits, runs out of memory or stops answering its health check; and a failed release's
container removed while the one before keeps serving."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from home_idp.plugins.deployer.container import ContainerDeployer
from home_idp.plugins.deployer.contract import RolloutState, StabilityReport
from home_idp.server.deploy.stability import stability_problem
from tests.components import BASE_IMAGE, REGISTRY_HOST, BuildComponents, buildah_command
from tests.plugins import test_deployer_container as served
from tests.plugins.test_deployer_container import Engine, deployment, get, wait_for

pytestmark = pytest.mark.system

# The served module's fixtures, shared: its image is built once per run.
engine = served.engine
image = served.image
leave_no_containers = served.leave_no_containers

# Serves its health path, then after 3 s does what $MODE says.
START = """#!/bin/sh
httpd -p "0.0.0.0:$PORT" -h /www
sleep 3
case "$MODE" in
  exit) echo "giving up, token $API_TOKEN"; exit 3 ;;
  oom) echo "loading everything into memory"; exec tail /dev/zero ;;
  unhealthy) echo "health check off"; rm /www/health; exec sleep 3600 ;;
esac
exec sleep 3600
"""
_BUILT: dict[str, str] = {}
SECRET = "s3cr3t-token-value"
WAIT = 60


@pytest.fixture(scope="session")
def unsteady(build_components: BuildComponents, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image that answers at first, in the registry, by digest (built once per run)."""
    if REGISTRY_HOST in _BUILT:
        return _BUILT[REGISTRY_HOST]
    context = tmp_path_factory.mktemp("unsteady")
    (context / "www").mkdir()
    (context / "www" / "health").write_text("ok\n")
    (context / "start").write_text(START)
    (context / "start").chmod(0o755)
    (context / "Dockerfile").write_text(
        f'FROM {BASE_IMAGE}\nCOPY www /www\nCOPY start /start\nCMD ["/start"]\n'
    )
    buildah = buildah_command(build_components.buildah_root)
    tag = f"{REGISTRY_HOST}/shop/unsteady:1"
    build = [*buildah, "bud", "--isolation=chroot", "--tls-verify=false", "-t", tag]
    subprocess.run([*build, str(context)], check=True, capture_output=True, timeout=300)
    digest_file = context / "digest"
    subprocess.run(
        [*buildah, "push", "--tls-verify=false", f"--digestfile={digest_file}", tag],
        check=True,
        capture_output=True,
        timeout=300,
    )
    _BUILT[REGISTRY_HOST] = f"{REGISTRY_HOST}/shop/unsteady@{digest_file.read_text().strip()}"
    return _BUILT[REGISTRY_HOST]


async def watch_until_unstable(
    deployer: ContainerDeployer, mode: str, image: str, expected: str
) -> str:
    """Roll the release out, then read its stability until it shows the `expected` problem.

    An app on its way out may first just not answer its health check (the verify
    step waits for three such looks in a row): a look like that is read past.
    """
    release = deployment(image, env={"MODE": mode}, secrets={"API_TOKEN": SECRET})
    await deployer.sync(release)
    status = await wait_for(deployer, release, RolloutState.READY, RolloutState.FAILED)
    assert status.state is RolloutState.READY, status.reason
    first = await deployer.stability(release)
    assert first.ready and first.running, first
    problem: str | None = None
    try:
        async with asyncio.timeout(WAIT):
            while problem is None or not problem.startswith(expected):
                await asyncio.sleep(0.2)
                report = await deployer.stability(release)
                problem = stability_problem(report, first.restarts, release.health_path)
    except TimeoutError:
        raise AssertionError(f"no {expected!r} within {WAIT} s; the last look: {problem}") from None
    return problem


async def test_an_app_that_exits_after_3_seconds_reports_its_exit_code_and_masked_lines(
    engine: Engine, unsteady: str
) -> None:
    problem = await watch_until_unstable(
        engine.deployer(), "exit", unsteady, "the app stopped (exit code 3)"
    )

    assert "giving up, token ****" in problem
    assert SECRET not in problem


async def test_an_app_that_runs_out_of_memory_says_so(engine: Engine, unsteady: str) -> None:
    deployer = engine.deployer(memory="48m")

    problem = await watch_until_unstable(
        deployer, "oom", unsteady, "the app stopped (out of memory)"
    )

    assert "loading everything into memory" in problem


async def test_an_app_whose_health_check_stops_answering_is_not_ready(
    engine: Engine, unsteady: str
) -> None:
    problem = await watch_until_unstable(
        engine.deployer(), "unhealthy", unsteady, "the app stopped answering GET /health"
    )

    assert "health check off" in problem


async def test_a_failed_release_is_removed_while_the_one_before_keeps_serving(
    engine: Engine, image: str, unsteady: str
) -> None:
    deployer = engine.deployer()
    serving = deployment(image)
    await deployer.sync(serving)
    ready = await wait_for(deployer, serving, RolloutState.READY, RolloutState.FAILED)
    assert ready.state is RolloutState.READY and ready.url is not None, ready.reason
    # The next release never answers its health path (a wrong one).
    failing = deployment(unsteady, release=2, health_path="/missing")
    await deployer.sync(failing)
    assert "hidp-shop-web-r2" in engine.names()

    await deployer.discard(failing)

    assert engine.names() == ["hidp-shop-web-r1"]
    assert (await get(ready.url + "/health")).status_code == 200
    assert await deployer.stability(failing) == StabilityReport(ready=False, running=False)
    await deployer.discard(failing)  # idempotent
