"""The DeployerPlugin contract, one suite that every in-tree deployer passes.

What the engine's sync and rollout steps and the app views rely on: a synced
release becomes ready (never on an earlier release's state), syncing again
changes nothing, what runs is listed, undeploy is idempotent, and names are
checked. `kubernetes` and `argocd` run their real clients against the
stand-ins, whose controllers' part (a finished rollout, a healthy sync) the
test plays; `container` runs the served image of the test registry with real
podman (the system tier), on the host network at loopback ports, and becomes
ready by itself; `fake` is the in-memory fake the fast tier runs on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from home_idp.plugins.deployer.contract import (
    AppDeployment,
    DeployerConfig,
    DeployerPlugin,
    DeployError,
    InstanceNotFound,
    RolloutState,
)
from home_idp.plugins.discovery import installed_plugins, load_plugin
from home_idp.server.deploy.manifests import AppManifestInput, render_manifests
from tests.doubles.argocd import argocd_stand_in
from tests.doubles.kubernetes import kubernetes_stand_in
from tests.fakes import FakeDeployer
from tests.plugins import test_deployer_container as served

# The served image and the podman storage the container subject runs it with.
engine = served.engine
image = served.image

REPO = "https://git.example/acme/platform.git"
KUBE_TOKEN = "k8s-ContractToken-0123456789abcdefABCDEF"
ARGOCD_TOKEN = "argocd-ContractToken-0123456789abcdef"
DIGEST = "sha256:" + "cd" * 32
SHAS = {
    3: "0123456789abcdef0123456789abcdef01234567",
    4: "89abcdef0123456789abcdef0123456789abcdef",
}
# The served image answers its health path here, whatever runs it.
HEALTH_PATH = "/health"


@dataclass
class Subject:
    """A deployer under test; `become_ready` plays the cluster finishing a rollout.

    `image` and `env` are what the deployer runs: an image it can pull (the
    cluster stand-ins pull nothing) and what the app needs to be told.
    """

    plugin: DeployerPlugin
    become_ready: Callable[[AppDeployment], Awaitable[None]]
    image: str = f"registry.example:5000/shop/web@{DIGEST}"
    env: Mapping[str, str] = field(default_factory=dict)

    def deployment(self, release: int = 3, app: str = "web") -> AppDeployment:
        """A release as the engine hands it over, with the manifests it commits."""
        env = {"GREETING": "hi", **self.env}
        spec = AppManifestInput("shop", app, release, self.image, 8080, 1, HEALTH_PATH, env)
        return AppDeployment(
            project="shop",
            app=app,
            release=release,
            image=self.image,
            port=8080,
            replicas=1,
            health_path=HEALTH_PATH,
            env=env,
            manifests_path=f"projects/shop/apps/{app}/manifests",
            commit_sha=SHAS[release],
            manifests=render_manifests(spec),
        )


@asynccontextmanager
async def _fake(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    async def nothing_to_do(deployment: AppDeployment) -> None:
        return None

    yield Subject(FakeDeployer(DeployerConfig(tmp_path, REPO, "main")), nothing_to_do)


@asynccontextmanager
async def _kubernetes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    async with kubernetes_stand_in(token=KUBE_TOKEN) as kube:
        options = {"api_url": kube.base_url, "token": KUBE_TOKEN, "connect_timeout": "1"}
        plugin = load_plugin("deployer", "kubernetes")(
            DeployerConfig(tmp_path, REPO, "main", options)
        )

        async def roll_out(deployment: AppDeployment) -> None:
            kube.roll_out(deployment.project, deployment.app)

        yield Subject(plugin, roll_out)


@asynccontextmanager
async def _argocd(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    async with (
        argocd_stand_in(token=ARGOCD_TOKEN, projects=("default",)) as argocd,
        kubernetes_stand_in(token=KUBE_TOKEN) as kube,
    ):
        options = {
            "url": argocd.base_url,
            "token": ARGOCD_TOKEN,
            "connect_timeout": "1",
            "kube_api_url": kube.base_url,
            "kube_token": KUBE_TOKEN,
        }
        plugin = load_plugin("deployer", "argocd")(DeployerConfig(tmp_path, REPO, "main", options))

        async def healthy(deployment: AppDeployment) -> None:
            argocd.finish_sync(f"hidp-{deployment.project}-{deployment.app}", health="Healthy")

        yield Subject(plugin, healthy)


@asynccontextmanager
async def _container(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    # Asked for here, not in the signature: only this subject needs podman and the registry.
    served_image: str = request.getfixturevalue("image")
    podman: served.Engine = request.getfixturevalue("engine")  # removes its containers
    plugin = podman.deployer(network="host")

    async def answers(deployment: AppDeployment) -> None:
        # The container comes up by itself: wait until it answers its health path.
        await served.wait_for(plugin, deployment, RolloutState.READY, RolloutState.FAILED)

    # On the host network the app listens where $PORT says, on loopback only.
    yield Subject(plugin, answers, image=served_image, env={"LISTEN": "127.0.0.1"})


Maker = Callable[[pytest.FixtureRequest, Path], AbstractAsyncContextManager[Subject]]
MAKERS: dict[str, Maker] = {
    "argocd": _argocd,
    "kubernetes": _kubernetes,
    "container": _container,
    "fake": _fake,
}
# Real podman and runc, and the registry: the system tier.
SYSTEM = {"container"}


@pytest.fixture(
    params=[
        pytest.param(name, marks=pytest.mark.system) if name in SYSTEM else name for name in MAKERS
    ]
)
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    async with MAKERS[request.param](request, tmp_path) as subject:
        yield subject
        await subject.plugin.aclose()


def test_the_suite_covers_every_installed_deployer_plugin() -> None:
    assert installed_plugins("deployer") == sorted(MAKERS.keys() - {"fake"})


def test_it_is_a_deployer_plugin(subject: Subject) -> None:
    assert isinstance(subject.plugin, DeployerPlugin)


async def test_a_synced_release_becomes_ready_and_a_newer_one_not_on_its_state(
    subject: Subject,
) -> None:
    plugin, first = subject.plugin, subject.deployment(3)
    # Not READY before its sync is all the engine relies on: a cluster has yet
    # to act (PROGRESSING), while the container deployer, whose sync starts the
    # container before it returns, finds none there (FAILED).
    assert (await plugin.rollout_status(first)).state is not RolloutState.READY

    await plugin.sync(first)
    await plugin.sync(first)  # idempotent: the engine may run a step twice
    await subject.become_ready(first)
    assert (await plugin.rollout_status(first)).state is RolloutState.READY

    newer = subject.deployment(4)
    assert (await plugin.rollout_status(newer)).state is not RolloutState.READY
    await plugin.sync(newer)
    await subject.become_ready(newer)
    assert (await plugin.rollout_status(newer)).state is RolloutState.READY


async def test_what_runs_is_listed_and_undeploy_removes_it_idempotently(subject: Subject) -> None:
    plugin = subject.plugin
    for app in ("web", "api"):
        await plugin.sync(subject.deployment(3, app))
        await subject.become_ready(subject.deployment(3, app))

    running = await plugin.list_running("shop")
    assert sorted((r.project, r.app, r.release) for r in running) == [
        ("shop", "api", 3),
        ("shop", "web", 3),
    ]
    assert await plugin.list_running("other") == []

    await plugin.undeploy("shop", "web")
    await plugin.undeploy("shop", "web")
    assert [(r.app) for r in await plugin.list_running("shop")] == ["api"]


async def test_an_instance_that_is_not_the_apps_is_not_found(subject: Subject) -> None:
    await subject.plugin.sync(subject.deployment())
    with pytest.raises(InstanceNotFound):
        await subject.plugin.delete_instance("shop", "web", "no-such-instance")


@pytest.mark.parametrize(("project", "app"), [("../x", "web"), ("shop", "UPPER"), ("a/b", "web")])
async def test_names_that_are_no_dns_labels_are_refused(
    subject: Subject, project: str, app: str
) -> None:
    bad = dataclasses.replace(subject.deployment(), project=project, app=app)
    with pytest.raises(DeployError):
        await subject.plugin.sync(bad)
    with pytest.raises(DeployError):
        await subject.plugin.undeploy(project, app)
