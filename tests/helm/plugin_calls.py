"""The Kubernetes API requests each in-cluster plugin makes, recorded by the stand-in.

Each plugin runs its representative flows against a fresh stand-in, with the
requests, deployments and credentials of its own tests (tests/plugins/):

- kaniko: a build that succeeds with its logs read, one cancelled while it
  runs, and one whose Secret a concurrent start made first;
- kubernetes: rollout status before and after a first release (Secret,
  ConfigMap, Service, Deployment, Ingress), a second release that prunes, the
  running apps of one project and of all, and undeploy;
- argocd: a sync that puts the app's Secret and the pull secret into the
  cluster (Argo CD's own REST API makes the Application; it is no Kubernetes
  call).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import yaml

from home_idp.plugins.builder.contract import BuilderConfig
from home_idp.plugins.builder.kaniko import KanikoBuilder
from home_idp.plugins.deployer.argocd import ArgoCDDeployer
from home_idp.plugins.deployer.contract import AppDeployment, DeployerConfig
from home_idp.plugins.deployer.kubernetes import KubernetesDeployer
from home_idp.plugins.registry.contract import RegistryCredentials
from tests.doubles.argocd import argocd_stand_in
from tests.doubles.kubernetes import KubernetesStandIn, RecordedRequest, kubernetes_stand_in
from tests.plugins import test_builder_kaniko as kaniko
from tests.plugins import test_deployer_argocd as argocd
from tests.plugins import test_deployer_kubernetes as kubernetes

__all__ = ["argocd_calls", "kaniko_calls", "kubernetes_calls"]

KUBE_TOKEN = "kube-token-0123456789abcdef"
POD_LABELS = {
    "home-idp.dev/project": "shop",
    "home-idp.dev/app": "web",
    "home-idp.dev/release": "3",
}


async def kaniko_calls(data_dir: Path) -> list[RecordedRequest]:
    async with kubernetes_stand_in(token=kaniko.TOKEN) as kube:
        options = {
            "api_url": kube.base_url,
            "token": kaniko.TOKEN,
            "poll_interval": "0.02",
            "request_timeout": "2",
            "unavailable_timeout": "0.3",
            "delete_timeout": "2",
        }
        builder = KanikoBuilder(BuilderConfig(data_dir, options))
        try:
            await _successful_build(kube, builder)
            await _cancelled_build(kube, builder)
            await _build_whose_secret_was_made_meanwhile(kube, builder)
        finally:
            await builder.aclose()
        return list(kube.recorded)


async def _successful_build(kube: KubernetesStandIn, builder: KanikoBuilder) -> None:
    handle = await builder.start(kaniko.make_request())
    logs = asyncio.create_task(kaniko.collect(handle))
    kube.finish_job(
        kaniko.NAMESPACE, kaniko.BUILD_ID, logs={"build": ["pushed"]}, digest=kaniko.DIGEST
    )
    assert (await asyncio.wait_for(handle.result(), 5)).digest == kaniko.DIGEST
    assert "pushed" in await asyncio.wait_for(logs, 5)


async def _cancelled_build(kube: KubernetesStandIn, builder: KanikoBuilder) -> None:
    handle = await builder.start(kaniko.make_request(build_id="shop-web-r8"))
    kube.run_container(kaniko.NAMESPACE, "shop-web-r8", "fetch-platform", ["cloning"])
    lines: list[str] = []

    async def read() -> None:
        async for line in handle.log_lines():
            lines.append(line)

    reader = asyncio.create_task(read())
    await kaniko.wait_for(lambda: "cloning" in lines)
    await handle.cancel()
    await asyncio.wait_for(reader, 5)
    assert "cancelled" in (await asyncio.wait_for(handle.result(), 5)).reason


async def _build_whose_secret_was_made_meanwhile(
    kube: KubernetesStandIn, builder: KanikoBuilder
) -> None:
    """A concurrent start made the registry Secret between this start's cleanup and its
    create: the create conflicts, and the Secret is read and replaced."""
    build_id = "shop-web-r9"
    registry_secret = f"{build_id}-registry"
    kube.objects[("v1", kaniko.NAMESPACE, "secrets", registry_secret)] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "data": {},
        "metadata": {
            "name": registry_secret,
            "namespace": kaniko.NAMESPACE,
            "uid": "made-by-the-concurrent-start",
            "resourceVersion": "1",
        },
    }
    # The project's namespace exists; the cleanup's three deletes (the Job, both
    # Secrets) find nothing: the concurrent start came just after.
    kube.fail_next(409, "AlreadyExists", 'namespaces "shop" already exists')
    for _ in range(3):
        kube.fail_next(404, "NotFound", "not found")
    handle = await builder.start(kaniko.make_request(build_id=build_id))
    replaced = kube.get("secrets", kaniko.NAMESPACE, registry_secret)
    assert replaced is not None and replaced["metadata"]["uid"] == "made-by-the-concurrent-start"
    assert (
        "GET",
        f"/api/v1/namespaces/{kaniko.NAMESPACE}/secrets/{registry_secret}",
    ) in kube.requests
    await handle.cancel()


async def kubernetes_calls(data_dir: Path) -> list[RecordedRequest]:
    async with kubernetes_stand_in(token=KUBE_TOKEN) as kube:
        options = {"api_url": kube.base_url, "token": KUBE_TOKEN, "request_timeout": "5"}
        deployer = KubernetesDeployer(DeployerConfig(data_dir, argocd.REPO, "main", options))
        try:
            first = _with_config_map(kubernetes.make_deployment(release=3, ingress=True))
            await deployer.rollout_status(first)  # before the Deployment exists
            await deployer.sync(first)
            kube.roll_out("shop", "web", available=1)
            kube.add_pod("shop", "web-1", POD_LABELS, waiting="CrashLoopBackOff")
            assert "CrashLoopBackOff" in (await deployer.rollout_status(first)).reason
            await _look_at_the_running_app(kube, deployer)
            # The second release has no Ingress, ConfigMap or env Secret: they are pruned.
            await deployer.sync(kubernetes.make_deployment(release=4, secret=False))
            assert kube.get("configmaps", "shop", "web-config") is None
            assert [r.app for r in await deployer.list_running()] == ["web"]
            assert [r.app for r in await deployer.list_running("shop")] == ["web"]
            await deployer.undeploy("shop", "web")
            assert kube.get("deployments", "shop", "web") is None
        finally:
            await deployer.aclose()
        return list(kube.recorded)


async def _look_at_the_running_app(
    kube: KubernetesStandIn, deployer: KubernetesDeployer | ArgoCDDeployer
) -> None:
    """The resource view, the app's logs and deleting a pod."""
    kube.add_pod("shop", "web-2", {**POD_LABELS, "app.kubernetes.io/managed-by": "home-idp"})
    kube.add_pod_logs("shop", "web-2", "app", ["listening"])
    kinds = {r.kind for r in await deployer.app_resources("shop", "web")}
    assert "Pod" in kinds
    lines = deployer.app_logs("shop", "web", follow=False, tail_lines=10)
    assert [line.text async for line in lines] == ["listening"]
    await deployer.delete_instance("shop", "web", "web-2")


def _with_config_map(deployment: AppDeployment) -> AppDeployment:
    """The deployer also applies and prunes ConfigMaps (kubernetes_objects.MANAGED)."""
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-config", "namespace": deployment.project},
        "data": {"GREETING": "hello"},
    }
    manifests = {**deployment.manifests, "configmap.yaml": yaml.safe_dump(config_map)}
    return dataclasses.replace(deployment, manifests=manifests)


async def argocd_calls(data_dir: Path) -> list[RecordedRequest]:
    async with (
        argocd_stand_in(token=argocd.TOKEN) as server,
        kubernetes_stand_in(token=KUBE_TOKEN) as kube,
    ):
        options = {
            "url": server.base_url,
            "token": argocd.TOKEN,
            "kube_api_url": kube.base_url,
            "kube_token": KUBE_TOKEN,
        }
        deployer = ArgoCDDeployer(DeployerConfig(data_dir, argocd.REPO, "main", options))
        try:
            deployment = dataclasses.replace(
                argocd.make_deployment(),
                secrets={"API_KEY": "s3cr3t-value"},
                pull_credentials=RegistryCredentials("robot$shop", "pull-password-1"),
            )
            await deployer.sync(deployment)
            await deployer.rollout_status(deployment)
            await deployer.list_running()
            await _look_at_the_running_app(kube, deployer)
            await deployer.undeploy("shop", "web")
        finally:
            await deployer.aclose()
        assert kube.get("secrets", "shop", "home-idp-registry") is not None
        return list(kube.recorded)
