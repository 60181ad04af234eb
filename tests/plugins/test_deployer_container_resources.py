"""The container deployer's resource view and instance restart: real podman, real HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from home_idp.plugins.deployer.container import ContainerDeployer
from home_idp.plugins.deployer.contract import (
    AppResource,
    ConfigFile,
    DeployError,
    InstanceNotFound,
    RolloutState,
)
from tests.plugins import test_deployer_container as served
from tests.plugins.test_deployer_container import Engine, deployment, get, wait_for

FILES = (
    ConfigFile("config.yaml", "/etc/app/config.yaml", "a: 1\n"),
    ConfigFile("greeting.txt", "/srv/data/greeting.txt", "hello\n"),
)

# The served module's fixtures, shared: the image is built once per run.
deployer = served.deployer
engine = served.engine
image = served.image
leave_no_containers = served.leave_no_containers
recorded = served.recorded


async def resources_when(
    deployer: ContainerDeployer, ready: dict[str, bool], seconds: float = 20
) -> list[AppResource]:
    """Poll the app's resources until each named container's `ready` is as given."""
    async with asyncio.timeout(seconds):
        while True:
            resources = await deployer.app_resources("shop", "web")
            if {r.name: r.ready for r in resources} == ready:
                return resources
            await asyncio.sleep(0.1)


async def test_the_resources_are_the_app_s_containers_by_release(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    first = deployment(image, 1, files=FILES)
    await deployer.sync(first)
    await wait_for(deployer, first, RolloutState.READY)
    # Release 2 never answers its health path; its rollout is not asked for, so 1 stays.
    second = deployment(image, 2, health_path="/missing")
    await deployer.sync(second)
    await deployer.sync(deployment(image, 1, app="api"))
    r1, r2 = await resources_when(deployer, {"hidp-shop-web-r1": True, "hidp-shop-web-r2": False})
    assert dataclasses.replace(r1, created_at=None) == AppResource(
        kind="Container",
        name="hidp-shop-web-r1",
        status="running",
        ready=True,
        phase="running",
        restarts=0,
        release=1,
        keys=("/etc/app/config.yaml", "/srv/data/greeting.txt"),
    )
    assert r1.created_at is not None
    assert before < datetime.fromisoformat(r1.created_at) <= datetime.now(UTC)
    assert (r2.name, r2.release, r2.status, r2.ready, r2.keys) == (
        "hidp-shop-web-r2",
        2,
        "running",
        False,
        (),
    )

    engine.podman("kill", "--signal=KILL", "hidp-shop-web-r2")
    _, r2 = await resources_when(deployer, {"hidp-shop-web-r1": True, "hidp-shop-web-r2": False})
    assert (r2.status, r2.phase, r2.ready) == ("exited (code 137)", "exited", False)

    await deployer.undeploy("shop", "web")
    assert await deployer.app_resources("shop", "web") == []
    assert [r.name for r in await deployer.app_resources("shop", "api")] == ["hidp-shop-api-r1"]
    with pytest.raises(DeployError):
        await deployer.app_resources("shop", "Web")


async def test_deleting_an_instance_restarts_its_container(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    release = deployment(image, files=FILES)
    await deployer.sync(release)
    status = await wait_for(deployer, release, RolloutState.READY)
    assert status.url is not None
    container_id = engine.container_id("hidp-shop-web-r1")
    started = engine.podman("inspect", "--format={{.State.StartedAt}}", "hidp-shop-web-r1").stdout

    await deployer.delete_instance("shop", "web", "hidp-shop-web-r1")
    # The same container (its files still mounted), started again, healthy again.
    assert engine.container_id("hidp-shop-web-r1") == container_id
    restarted = engine.podman("inspect", "--format={{.State.StartedAt}}", "hidp-shop-web-r1")
    assert restarted.stdout != started
    [resource] = await resources_when(deployer, {"hidp-shop-web-r1": True})
    # As a fresh pod would: a restart asked for is not one the engine counts.
    assert (resource.keys, resource.restarts) == (tuple(f.mount_path for f in FILES), 0)
    assert (await wait_for(deployer, release, RolloutState.READY)).url == status.url
    assert (await get(f"{status.url}/cgi-bin/cat?/srv/data/greeting.txt")).text == "hello\n"


async def test_deleting_an_instance_of_another_app_is_refused(
    deployer: ContainerDeployer, engine: Engine, image: str, recorded: list[list[str]]
) -> None:
    await deployer.sync(deployment(image, 1, app="api"))
    with pytest.raises(InstanceNotFound, match="no container hidp-shop-api-r1 runs the app"):
        await deployer.delete_instance("shop", "web", "hidp-shop-api-r1")
    with pytest.raises(InstanceNotFound):
        await deployer.delete_instance("shop", "web", "hidp-shop-web-r9")
    recorded.clear()
    for bad in ("--all", "hidp-shop-web-r1 x", "Hidp", "", "a" * 300):
        with pytest.raises(InstanceNotFound):
            await deployer.delete_instance("shop", "web", bad)
    assert recorded == []  # refused before any command ran
