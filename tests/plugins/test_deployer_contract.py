"""The DeployerPlugin contract, one suite that every in-tree deployer passes.

What the engine's sync and rollout steps and the app views rely on: a synced
release becomes ready (never on an earlier release's state), syncing again
changes nothing, what runs is listed, undeploy is idempotent, and names are
checked. `kubernetes` and `argocd` run their real clients against the
stand-ins, whose controllers' part (a finished rollout, a healthy sync) the
test plays; `fake` is the in-memory fake the fast tier runs on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
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

# The container deployer (real podman) has its own suite in test_deployer_container*.py.
PLUGINS = ["argocd", "kubernetes"]
SUBJECTS = ["argocd", "kubernetes", "fake"]
REPO = "https://git.example/acme/platform.git"
KUBE_TOKEN = "k8s-ContractToken-0123456789abcdefABCDEF"
ARGOCD_TOKEN = "argocd-ContractToken-0123456789abcdef"
DIGEST = "sha256:" + "cd" * 32
SHAS = {
    3: "0123456789abcdef0123456789abcdef01234567",
    4: "89abcdef0123456789abcdef0123456789abcdef",
}


def deployment(release: int = 3, app: str = "web") -> AppDeployment:
    """A release as the engine hands it over, with the manifests it commits."""
    image = f"registry.example:5000/shop/{app}@{DIGEST}"
    spec = AppManifestInput("shop", app, release, image, 8080, 1, "/healthz", {"GREETING": "hi"})
    return AppDeployment(
        project="shop",
        app=app,
        release=release,
        image=image,
        port=8080,
        replicas=1,
        health_path="/healthz",
        env={"GREETING": "hi"},
        manifests_path=f"projects/shop/apps/{app}/manifests",
        commit_sha=SHAS[release],
        manifests=render_manifests(spec),
    )


@dataclass
class Subject:
    """A deployer under test; `become_ready` plays the cluster finishing a rollout."""

    plugin: DeployerPlugin
    become_ready: Callable[[AppDeployment], Awaitable[None]]


@pytest.fixture(params=SUBJECTS)
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    makers = {"fake": _fake, "kubernetes": _kubernetes, "argocd": _argocd}
    async with makers[request.param](tmp_path) as subject:
        yield subject
        await subject.plugin.aclose()


@asynccontextmanager
async def _fake(tmp_path: Path) -> AsyncIterator[Subject]:
    async def nothing_to_do(deployment: AppDeployment) -> None:
        return None

    yield Subject(FakeDeployer(DeployerConfig(tmp_path, REPO, "main")), nothing_to_do)


@asynccontextmanager
async def _kubernetes(tmp_path: Path) -> AsyncIterator[Subject]:
    async with kubernetes_stand_in(token=KUBE_TOKEN) as kube:
        options = {"api_url": kube.base_url, "token": KUBE_TOKEN, "connect_timeout": "1"}
        plugin = load_plugin("deployer", "kubernetes")(
            DeployerConfig(tmp_path, REPO, "main", options)
        )

        async def roll_out(deployment: AppDeployment) -> None:
            kube.roll_out(deployment.project, deployment.app)

        yield Subject(plugin, roll_out)


@asynccontextmanager
async def _argocd(tmp_path: Path) -> AsyncIterator[Subject]:
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


def test_the_suite_covers_every_installed_deployer_plugin() -> None:
    assert installed_plugins("deployer") == sorted([*PLUGINS, "container"])


def test_it_is_a_deployer_plugin(subject: Subject) -> None:
    assert isinstance(subject.plugin, DeployerPlugin)


async def test_a_synced_release_becomes_ready_and_a_newer_one_not_on_its_state(
    subject: Subject,
) -> None:
    plugin, first = subject.plugin, deployment(3)
    assert (await plugin.rollout_status(first)).state is RolloutState.PROGRESSING

    await plugin.sync(first)
    await plugin.sync(first)  # idempotent: the engine may run a step twice
    await subject.become_ready(first)
    assert (await plugin.rollout_status(first)).state is RolloutState.READY

    newer = deployment(4)
    assert (await plugin.rollout_status(newer)).state is RolloutState.PROGRESSING
    await plugin.sync(newer)
    await subject.become_ready(newer)
    assert (await plugin.rollout_status(newer)).state is RolloutState.READY


async def test_what_runs_is_listed_and_undeploy_removes_it_idempotently(subject: Subject) -> None:
    plugin = subject.plugin
    for app in ("web", "api"):
        await plugin.sync(deployment(3, app))
        await subject.become_ready(deployment(3, app))

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
    await subject.plugin.sync(deployment())
    with pytest.raises(InstanceNotFound):
        await subject.plugin.delete_instance("shop", "web", "no-such-instance")


@pytest.mark.parametrize(("project", "app"), [("../x", "web"), ("shop", "UPPER"), ("a/b", "web")])
async def test_names_that_are_no_dns_labels_are_refused(
    subject: Subject, project: str, app: str
) -> None:
    bad = dataclasses.replace(deployment(), project=project, app=app)
    with pytest.raises(DeployError):
        await subject.plugin.sync(bad)
    with pytest.raises(DeployError):
        await subject.plugin.undeploy(project, app)
