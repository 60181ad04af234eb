"""The kubernetes deployer's resource view and pod deletion, against the Kubernetes stand-in."""

from __future__ import annotations

import base64
import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import kubernetes_validate
import pytest
import yaml

from home_idp.plugins.deployer.contract import (
    AppDeployment,
    AppResource,
    DeployError,
    DeployUnavailable,
    InstanceNotFound,
)
from home_idp.plugins.deployer.kubernetes import KubernetesDeployer
from tests.doubles.kubernetes import KubernetesStandIn
from tests.plugins import test_deployer_kubernetes as kubernetes_tests
from tests.plugins.test_deployer_kubernetes import SECRET_VALUE, VERSIONS, make_deployment

# The fixtures of the deployer's main tests, used here by name.
kube = kubernetes_tests.kube
make_deployer = kubernetes_tests.make_deployer
deployer = kubernetes_tests.deployer

POD_LABELS = {
    "app.kubernetes.io/managed-by": "home-idp",
    "home-idp.dev/project": "shop",
    "home-idp.dev/app": "web",
    "home-idp.dev/release": "3",
}
CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "web-file-0123456789"},
    "data": {"config.yaml": "a: 1\n"},
}


def with_config_map(deployment: AppDeployment) -> AppDeployment:
    """The deployment with a ConfigMap of config files among its manifests."""
    manifests = {**deployment.manifests, "configmaps.yaml": yaml.safe_dump(CONFIG_MAP)}
    return dataclasses.replace(deployment, manifests=manifests)


async def test_the_resources_are_the_apps_objects_and_a_secrets_key_names_only(
    deployer: KubernetesDeployer, kube: KubernetesStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = datetime.now(UTC) - timedelta(seconds=5)
    await deployer.sync(with_config_map(make_deployment(release=3, ingress=True)))
    await deployer.sync(make_deployment(app="api", release=1))  # another app: not shown
    kube.roll_out("shop", "web", available=1)
    kube.add_pod("shop", "web-7d9f8c6b5-abcde", POD_LABELS, container="web")
    kube.add_pod(
        "shop", "web-7d9f8c6b5-fghij", POD_LABELS, waiting="CrashLoopBackOff", container="web"
    )
    kube.add_pod("shop", "api-1", {**POD_LABELS, "home-idp.dev/app": "api"}, container="api")

    resources = await deployer.app_resources("shop", "web")

    assert [(r.kind, r.name) for r in resources] == [
        ("Deployment", "web"),
        ("Pod", "web-7d9f8c6b5-abcde"),
        ("Pod", "web-7d9f8c6b5-fghij"),
        ("Service", "web"),
        ("Ingress", "web"),
        ("ConfigMap", "web-file-0123456789"),
        ("Secret", "web-env"),
        ("Secret", "web-secrets"),
    ]
    deployment, running, crashing, service, ingress, config_map, env, app_secrets = resources
    for resource in resources:
        assert resource.created_at is not None
        assert before < datetime.fromisoformat(resource.created_at) <= datetime.now(UTC)
    assert dataclasses.replace(deployment, created_at=None) == AppResource(
        kind="Deployment", name="web", status="1/2 ready, release 3", ready=False, release=3
    )
    assert dataclasses.replace(running, created_at=None) == AppResource(
        kind="Pod",
        name="web-7d9f8c6b5-abcde",
        status="Running",
        ready=True,
        phase="Running",
        restarts=0,
        release=3,
    )
    assert (crashing.status, crashing.ready, crashing.phase, crashing.restarts) == (
        "CrashLoopBackOff",
        False,
        "Pending",
        3,
    )
    assert service.status.startswith("ClusterIP 10.96.")
    assert service.status.endswith(", port 80")
    assert ingress.status == "host web.shop.home.example"
    assert (config_map.status, config_map.keys) == ("1 key", ("config.yaml",))
    assert (env.status, env.keys) == ("Opaque, 1 key", ("API_KEY",))
    assert (app_secrets.status, app_secrets.keys) == ("Opaque, 1 key", ("API_KEY",))

    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    for text in (repr(resources), caplog.text, *(r.getMessage() for r in caplog.records)):
        assert SECRET_VALUE not in text
        assert encoded not in text

    # Once the rollout is done, the Deployment is ready.
    kube.roll_out("shop", "web")
    resources = await deployer.app_resources("shop", "web")
    assert (resources[0].status, resources[0].ready) == ("2/2 ready, release 3", True)


async def test_the_config_map_of_config_files_is_applied_and_pruned(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    await deployer.sync(with_config_map(make_deployment()))

    applied = [r for r in kube.recorded if r.path.endswith("/configmaps/web-file-0123456789")]
    assert [r.method for r in applied] == ["PATCH"]
    for version in VERSIONS:
        kubernetes_validate.validate(applied[0].body, version, strict=True)
    stored = kube.get("configmaps", "shop", "web-file-0123456789")
    assert stored is not None
    assert stored["data"] == {"config.yaml": "a: 1\n"}
    assert stored["metadata"]["labels"]["home-idp.dev/app"] == "web"
    [config_map] = [r for r in await deployer.app_resources("shop", "web") if r.kind == "ConfigMap"]
    assert config_map.keys == ("config.yaml",)

    # A release without config files leaves no ConfigMap behind.
    await deployer.sync(make_deployment(release=4))
    assert kube.get("configmaps", "shop", "web-file-0123456789") is None


async def test_the_resources_of_an_app_that_is_not_there(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    assert await deployer.app_resources("shop", "web") == []
    selectors = {r.query.get("labelSelector") for r in kube.recorded}
    assert selectors == {"home-idp.dev/app=web,app.kubernetes.io/managed-by=home-idp"}
    assert {r.path for r in kube.recorded} == {
        "/apis/apps/v1/namespaces/shop/deployments",
        "/api/v1/namespaces/shop/pods",
        "/api/v1/namespaces/shop/services",
        "/apis/networking.k8s.io/v1/namespaces/shop/ingresses",
        "/api/v1/namespaces/shop/configmaps",
        "/api/v1/namespaces/shop/secrets",
    }


async def test_a_secret_applied_by_kubectl_leaves_no_value_in_the_view(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    # kubectl's client-side apply keeps the whole object, values too, in an annotation.
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "by-kubectl", "labels": POD_LABELS},
        "stringData": {"TOKEN": SECRET_VALUE},
    }
    annotation = {"kubectl.kubernetes.io/last-applied-configuration": str(secret)}
    secret["metadata"]["annotations"] = annotation
    kube.objects[("v1", "shop", "secrets", "by-kubectl")] = {
        **secret,
        "metadata": {**secret["metadata"], "namespace": "shop", "creationTimestamp": "x"},
        "data": {"TOKEN": base64.b64encode(SECRET_VALUE.encode()).decode()},
    }

    [found] = await deployer.app_resources("shop", "web")

    assert (found.kind, found.name, found.keys) == ("Secret", "by-kubectl", ("TOKEN",))
    assert SECRET_VALUE not in repr(found)


async def test_bad_names_are_refused_before_any_request(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    with pytest.raises(DeployError, match="DNS-1123"):
        await deployer.app_resources("../x", "web")
    with pytest.raises(DeployError, match="DNS-1123"):
        await deployer.app_resources("shop", "Web")
    assert kube.recorded == []


async def test_the_api_server_down_is_unavailable(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    await kube.stop()
    with pytest.raises(DeployUnavailable, match="could not be reached"):
        await deployer.app_resources("shop", "web")
    with pytest.raises(DeployUnavailable, match="could not be reached"):
        await deployer.delete_instance("shop", "web", "web-1")


# Deleting a pod.


async def test_delete_instance_deletes_the_apps_pod(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    kube.add_pod("shop", "web-7d9f8c6b5-abcde", POD_LABELS, container="web")
    kube.add_pod("shop", "web-7d9f8c6b5-fghij", POD_LABELS, container="web")
    uid = kube.objects[("v1", "shop", "pods", "web-7d9f8c6b5-abcde")]["metadata"]["uid"]

    await deployer.delete_instance("shop", "web", "web-7d9f8c6b5-abcde")

    assert kube.get("pods", "shop", "web-7d9f8c6b5-abcde") is None
    assert kube.get("pods", "shop", "web-7d9f8c6b5-fghij") is not None
    [delete] = [r for r in kube.recorded if r.method == "DELETE"]
    assert delete.path == "/api/v1/namespaces/shop/pods/web-7d9f8c6b5-abcde"
    assert delete.body == {"preconditions": {"uid": uid}}
    # Deleted already: it is not one of the app's any more.
    with pytest.raises(InstanceNotFound):
        await deployer.delete_instance("shop", "web", "web-7d9f8c6b5-abcde")


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("api-1", {**POD_LABELS, "home-idp.dev/app": "api"}),
        ("by-hand", {"home-idp.dev/app": "web"}),
        ("missing", None),
    ],
)
async def test_delete_instance_refuses_pods_that_are_not_the_apps(
    deployer: KubernetesDeployer,
    kube: KubernetesStandIn,
    name: str,
    labels: dict[str, str] | None,
) -> None:
    if labels is not None:
        kube.add_pod("shop", name, labels)
    with pytest.raises(InstanceNotFound, match=name):
        await deployer.delete_instance("shop", "web", name)
    assert [r.method for r in kube.recorded] == ["GET"]
    if labels is not None:
        assert kube.get("pods", "shop", name) is not None


@pytest.mark.parametrize("name", ["../x", "A_B", "", "a" * 254, "web-1/log", "web-1\n"])
async def test_delete_instance_refuses_invalid_names_before_any_request(
    deployer: KubernetesDeployer, kube: KubernetesStandIn, name: str
) -> None:
    with pytest.raises(DeployError, match="not a valid pod name") as caught:
        await deployer.delete_instance("shop", "web", name)
    assert not isinstance(caught.value, InstanceNotFound)
    assert kube.recorded == []
