"""The kubernetes deployer: the real kubernetes client against the Kubernetes stand-in.

No cluster runs here, so every object the deployer applies is validated
against the official schemas (kubernetes-validate, strict, 1.29 and 1.32),
and the controllers' part (a Deployment's status, its pods) is played by the
test through the stand-in's controls.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from home_idp.plugins.deployer.contract import (
    AppDeployment,
    DeployerConfig,
    DeployerPlugin,
    DeployError,
    DeployUnavailable,
    RolloutState,
)
from home_idp.plugins.deployer.kubernetes import KubernetesDeployer
from home_idp.plugins.registry.contract import RegistryCredentials
from tests.doubles.kubernetes import KubernetesStandIn, RecordedRequest, kubernetes_stand_in
from tests.liveserver import free_port

TOKEN = "k8s-DeployerToken-0123456789abcdefABCDEF"
SECRET_VALUE = "s3cr3t-ApiKey-0123456789"
DIGEST = "sha256:" + "cd" * 32
SHA = "0123456789abcdef0123456789abcdef01234567"
VERSIONS = ("1.29.0", "1.32.0")
SELECTOR = "home-idp.dev/app=web,app.kubernetes.io/managed-by=home-idp"

MakeDeployer = Callable[..., KubernetesDeployer]


def render(
    project: str = "shop",
    app: str = "web",
    release: int = 3,
    *,
    replicas: int = 2,
    env: dict[str, str] | None = None,
    secret: bool = True,
    ingress: bool = False,
) -> dict[str, str]:
    """Manifests shaped as home-idp renders them (file name -> one YAML document)."""
    selector = {"home-idp.dev/project": project, "home-idp.dev/app": app}
    labels = {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/managed-by": "home-idp",
        **selector,
        "home-idp.dev/release": str(release),
    }
    metadata = {"name": app, "namespace": project, "labels": labels}
    container: dict[str, Any] = {
        "name": app,
        "image": f"registry.example:5000/{project}/{app}@{DIGEST}",
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [{"name": k, "value": v} for k, v in (env or {"GREETING": "hello"}).items()],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
    }
    if secret:
        container["envFrom"] = [{"secretRef": {"name": f"{app}-env"}}]
    docs: dict[str, dict[str, Any]] = {
        "namespace.yaml": {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": project,
                "labels": {
                    "app.kubernetes.io/managed-by": "home-idp",
                    "home-idp.dev/project": project,
                },
            },
        },
        "deployment.yaml": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
        "service.yaml": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": {
                "selector": selector,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    }
    if secret:
        docs["secret.yaml"] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {**metadata, "name": f"{app}-env"},
            "type": "Opaque",
            "data": {"API_KEY": base64.b64encode(SECRET_VALUE.encode()).decode()},
        }
    if ingress:
        docs["ingress.yaml"] = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": metadata,
            "spec": {
                "rules": [
                    {
                        "host": f"{app}.{project}.home.example",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": app, "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        }
    return {name: yaml.safe_dump(doc, sort_keys=False) for name, doc in docs.items()}


def make_deployment(
    project: str = "shop", app: str = "web", release: int = 3, **render_options: Any
) -> AppDeployment:
    return AppDeployment(
        project=project,
        app=app,
        release=release,
        image=f"registry.example:5000/{project}/{app}@{DIGEST}",
        port=8080,
        replicas=render_options.get("replicas", 2),
        health_path="/healthz",
        env={"GREETING": "hello"},
        manifests_path=f"projects/{project}/apps/{app}/manifests",
        commit_sha=SHA,
        manifests=render(project, app, release, **render_options),
        secrets={"API_KEY": SECRET_VALUE},
    )


@pytest.fixture
async def kube() -> AsyncIterator[KubernetesStandIn]:
    async with kubernetes_stand_in(token=TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
async def make_deployer(kube: KubernetesStandIn, tmp_path: Path) -> AsyncIterator[MakeDeployer]:
    made: list[KubernetesDeployer] = []

    def make(**options: str) -> KubernetesDeployer:
        settings = {
            "api_url": kube.base_url,
            "token": TOKEN,
            "connect_timeout": "1",
            "request_timeout": "5",
        }
        deployer = KubernetesDeployer(
            DeployerConfig(tmp_path, "https://git.example/platform.git", "main", settings | options)
        )
        made.append(deployer)
        return deployer

    yield make
    for deployer in made:
        await deployer.aclose()


@pytest.fixture
def deployer(make_deployer: MakeDeployer) -> KubernetesDeployer:
    return make_deployer()


def patches(kube: KubernetesStandIn) -> list[RecordedRequest]:
    return [r for r in kube.recorded if r.method == "PATCH"]


def deletes(kube: KubernetesStandIn) -> list[str]:
    return [r.path for r in kube.recorded if r.method == "DELETE"]


# Manifests and sync.


@pytest.mark.parametrize("version", VERSIONS)
def test_rendered_test_manifests_are_valid(version: str) -> None:
    for text in render(ingress=True).values():
        kubernetes_validate.validate(yaml.safe_load(text), version, strict=True)


def test_the_deployer_is_a_deployer_plugin(deployer: KubernetesDeployer) -> None:
    assert isinstance(deployer, DeployerPlugin)
    assert TOKEN not in repr(deployer)


async def test_sync_applies_every_object_namespace_first(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    await deployer.sync(make_deployment(ingress=True))

    applied = patches(kube)
    assert [r.path for r in applied] == [
        "/api/v1/namespaces/shop",
        "/api/v1/namespaces/shop/secrets/web-env",
        "/api/v1/namespaces/shop/secrets/web-secrets",
        "/api/v1/namespaces/shop/services/web",
        "/apis/apps/v1/namespaces/shop/deployments/web",
        "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web",
    ]
    for request in applied:
        assert request.content_type == "application/apply-patch+yaml"
        assert request.query == {"fieldManager": "home-idp", "force": "true"}
        for version in VERSIONS:
            kubernetes_validate.validate(request.body, version, strict=True)
    # Then the prune pass: one list per managed kind, by the app's labels, and nothing to delete.
    lists = [r for r in kube.recorded if r.method == "GET"]
    assert {r.query["labelSelector"] for r in lists} == {SELECTOR}
    assert len(lists) == 5
    assert deletes(kube) == []

    deployment = kube.get("deployments", "shop", "web")
    assert deployment is not None
    assert deployment["metadata"]["labels"]["home-idp.dev/release"] == "3"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(DIGEST)
    assert kube.get("namespaces", "", "shop") is not None
    assert kube.get("secrets", "shop", "web-env") is not None
    # The app's secret values reach the cluster as the Secret the manifests name.
    app_secrets = kube.get("secrets", "shop", "web-secrets")
    assert app_secrets is not None
    assert base64.b64decode(app_secrets["data"]["API_KEY"]).decode() == SECRET_VALUE


async def test_second_sync_changes_nothing(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    deployment = make_deployment()
    await deployer.sync(deployment)
    first = {key: dict(obj) for key, obj in kube.objects.items()}
    await deployer.sync(deployment)

    assert set(kube.objects) == set(first)
    for key, obj in kube.objects.items():
        assert obj["metadata"]["uid"] == first[key]["metadata"]["uid"]
        assert obj["metadata"]["generation"] == first[key]["metadata"]["generation"] == 1
        assert obj.get("spec") == first[key].get("spec")
    assert deletes(kube) == []


async def test_a_new_release_updates_and_prunes(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    await deployer.sync(
        make_deployment(release=3, ingress=True, env={"GREETING": "hi", "OLD": "1"})
    )
    # Objects of another app and objects home-idp does not manage are left alone.
    await deployer.sync(make_deployment(app="api", release=1))
    kube.objects[("v1", "shop", "configmaps", "by-hand")] = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "by-hand", "namespace": "shop", "uid": "u", "resourceVersion": "1"},
    }
    kube.recorded.clear()

    await deployer.sync(make_deployment(release=4, secret=False, env={"GREETING": "hi"}))

    assert sorted(deletes(kube)) == [
        "/api/v1/namespaces/shop/secrets/web-env",
        "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web",
    ]
    assert kube.get("ingresses", "shop", "web", "networking.k8s.io/v1") is None
    assert kube.get("secrets", "shop", "web-env") is None
    assert kube.get("secrets", "shop", "api-env") is not None
    assert kube.get("deployments", "shop", "api") is not None
    assert kube.get("configmaps", "shop", "by-hand") is not None
    deployment = kube.get("deployments", "shop", "web")
    assert deployment is not None
    assert deployment["metadata"]["generation"] == 2
    assert deployment["metadata"]["labels"]["home-idp.dev/release"] == "4"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "GREETING", "value": "hi"}]
    assert "envFrom" not in container


async def test_missing_labels_and_namespace_are_added(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    manifests = render()
    service = yaml.safe_load(manifests["service.yaml"])
    service["metadata"] = {"name": "web"}
    manifests["service.yaml"] = yaml.safe_dump(service)
    del manifests["namespace.yaml"]
    deployment = make_deployment()
    await deployer.sync(AppDeployment(**{**deployment.__dict__, "manifests": manifests}))

    applied = {r.path: r.body for r in patches(kube)}
    assert (
        applied["/api/v1/namespaces/shop"]["metadata"]["labels"]["home-idp.dev/project"] == "shop"
    )
    labels = applied["/api/v1/namespaces/shop/services/web"]["metadata"]["labels"]
    assert labels["home-idp.dev/app"] == "web"
    assert labels["app.kubernetes.io/managed-by"] == "home-idp"
    for body in applied.values():
        for version in VERSIONS:
            kubernetes_validate.validate(body, version, strict=True)


@pytest.mark.parametrize(
    ("file_name", "text", "expected"),
    [
        (
            "rbac.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\n",
            "applies only",
        ),
        (
            "service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: other}\n",
            "not in the namespace",
        ),
        (
            "service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {home-idp.dev/app: api}\n",
            "must be 'web'",
        ),
        (
            "namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n",
            "project's",
        ),
        ("broken.yaml", f"data:\n  key: {SECRET_VALUE}\n  - [\n", "not valid YAML"),
        ("list.yaml", "- a\n- b\n", "not a Kubernetes object"),
    ],
)
async def test_bad_manifests_are_refused_before_any_request(
    deployer: KubernetesDeployer, kube: KubernetesStandIn, file_name: str, text: str, expected: str
) -> None:
    deployment = make_deployment()
    manifests = {**deployment.manifests, file_name: text}
    with pytest.raises(DeployError, match=expected) as caught:
        await deployer.sync(AppDeployment(**{**deployment.__dict__, "manifests": manifests}))
    assert SECRET_VALUE not in str(caught.value)
    assert kube.recorded == []


@pytest.mark.parametrize(
    ("project", "app"), [("../x", "web"), ("shop", "UPPER"), ("shop", "a" * 64), ("", "web")]
)
async def test_bad_names_are_refused_before_any_request(
    deployer: KubernetesDeployer, kube: KubernetesStandIn, project: str, app: str
) -> None:
    deployment = make_deployment()
    bad = AppDeployment(**{**deployment.__dict__, "project": project, "app": app})
    with pytest.raises(DeployError, match="DNS-1123"):
        await deployer.sync(bad)
    with pytest.raises(DeployError, match="DNS-1123"):
        await deployer.rollout_status(bad)
    with pytest.raises(DeployError, match="DNS-1123"):
        await deployer.undeploy(project, app)
    if project != "shop":
        with pytest.raises(DeployError, match="DNS-1123"):
            await deployer.list_running(project)
    assert kube.recorded == []


async def test_an_api_refusal_is_a_deploy_error_with_its_message(
    deployer: KubernetesDeployer,
) -> None:
    deployment = make_deployment()
    secret = yaml.safe_load(deployment.manifests["secret.yaml"])
    secret["data"]["API_KEY"] = "not base64!"
    manifests = {**deployment.manifests, "secret.yaml": yaml.safe_dump(secret)}
    with pytest.raises(DeployError, match="illegal base64") as caught:
        await deployer.sync(AppDeployment(**{**deployment.__dict__, "manifests": manifests}))
    assert not isinstance(caught.value, DeployUnavailable)
    assert "422" in str(caught.value)


# Rollout status.


async def test_rollout_status_follows_the_deployment(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    deployment = make_deployment(replicas=3, ingress=True)
    status = await deployer.rollout_status(deployment)
    assert status.state is RolloutState.PROGRESSING
    assert "does not exist" in status.reason

    await deployer.sync(deployment)
    status = await deployer.rollout_status(deployment)
    assert (status.state, status.reason) == (
        RolloutState.PROGRESSING,
        "waiting for the rollout to start",
    )

    kube.roll_out("shop", "web", available=2)
    kube.add_pod(
        "shop",
        "web-1",
        {"home-idp.dev/project": "shop", "home-idp.dev/app": "web", "home-idp.dev/release": "3"},
    )
    status = await deployer.rollout_status(deployment)
    assert (status.state, status.reason) == (RolloutState.PROGRESSING, "2 of 3 replicas ready")
    assert status.url == "http://web.shop.home.example/"

    kube.roll_out("shop", "web")
    status = await deployer.rollout_status(deployment)
    assert status.state is RolloutState.READY
    assert status.url == "http://web.shop.home.example/"

    # A new release is not ready on the old one's status.
    newer = make_deployment(release=4, replicas=3, env={"GREETING": "bonjour"})
    status = await deployer.rollout_status(newer)
    assert status.state is RolloutState.PROGRESSING
    assert "release 3" in status.reason
    await deployer.sync(newer)
    assert (await deployer.rollout_status(newer)).state is RolloutState.PROGRESSING
    kube.roll_out("shop", "web")
    status = await deployer.rollout_status(newer)
    assert status.state is RolloutState.READY
    assert status.url is None


async def test_old_replicas_keep_a_rollout_progressing(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    deployment = make_deployment(replicas=2)
    await deployer.sync(deployment)
    kube.roll_out("shop", "web")
    kube.set_status("deployments", "shop", "web", {"replicas": 3})
    status = await deployer.rollout_status(deployment)
    assert (status.state, status.reason) == (
        RolloutState.PROGRESSING,
        "1 old replicas are pending termination",
    )


async def test_progress_deadline_exceeded_fails(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    deployment = make_deployment()
    await deployer.sync(deployment)
    kube.roll_out("shop", "web", available=0)
    kube.set_status(
        "deployments",
        "shop",
        "web",
        {
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": 'ReplicaSet "web-7d9f8c6b5" has timed out progressing.',
                }
            ]
        },
    )
    status = await deployer.rollout_status(deployment)
    assert status.state is RolloutState.FAILED
    assert (
        status.reason
        == 'ProgressDeadlineExceeded: ReplicaSet "web-7d9f8c6b5" has timed out progressing.'
    )


@pytest.mark.parametrize(
    "reason", ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"]
)
async def test_a_pod_that_cannot_start_fails_the_rollout(
    deployer: KubernetesDeployer, kube: KubernetesStandIn, reason: str
) -> None:
    deployment = make_deployment()
    await deployer.sync(deployment)
    kube.roll_out("shop", "web", available=1)
    pod_labels = {
        "home-idp.dev/project": "shop",
        "home-idp.dev/app": "web",
        "home-idp.dev/release": "3",
    }
    kube.add_pod("shop", "web-ok", pod_labels)
    kube.add_pod(
        "shop",
        "web-bad",
        pod_labels,
        waiting=reason,
        message="back-off 40s restarting",
        container="web",
    )

    status = await deployer.rollout_status(deployment)

    assert status.state is RolloutState.FAILED
    assert status.reason == f"{reason} in pod web-bad, container web: back-off 40s restarting"
    pods = [r for r in kube.recorded if r.path == "/api/v1/namespaces/shop/pods"]
    assert (
        pods[-1].query["labelSelector"]
        == "home-idp.dev/app=web,home-idp.dev/project=shop,home-idp.dev/release=3"
    )


async def test_pods_of_other_releases_and_harmless_waits_do_not_fail(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    deployment = make_deployment()
    await deployer.sync(deployment)
    kube.roll_out("shop", "web", available=1)
    base = {"home-idp.dev/project": "shop", "home-idp.dev/app": "web"}
    kube.add_pod(
        "shop", "web-old", {**base, "home-idp.dev/release": "2"}, waiting="CrashLoopBackOff"
    )
    kube.add_pod(
        "shop", "web-new", {**base, "home-idp.dev/release": "3"}, waiting="ContainerCreating"
    )
    kube.add_pod(
        "shop",
        "web-init",
        {**base, "home-idp.dev/release": "3"},
        waiting="PodInitializing",
        init=True,
    )

    status = await deployer.rollout_status(deployment)

    assert (status.state, status.reason) == (RolloutState.PROGRESSING, "1 of 2 replicas ready")


# Undeploy and listing.


async def test_undeploy_removes_the_apps_objects_only(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    await deployer.sync(make_deployment(ingress=True))
    await deployer.sync(make_deployment(app="api", release=1))

    await deployer.undeploy("shop", "web")

    assert kube.get("deployments", "shop", "web") is None
    assert kube.get("services", "shop", "web") is None
    assert kube.get("secrets", "shop", "web-env") is None
    assert kube.get("ingresses", "shop", "web", "networking.k8s.io/v1") is None
    assert kube.get("namespaces", "", "shop") is not None
    assert kube.get("deployments", "shop", "api") is not None
    assert kube.get("services", "shop", "api") is not None
    kube.recorded.clear()
    await deployer.undeploy("shop", "web")  # idempotent
    await deployer.undeploy("elsewhere", "web")
    assert deletes(kube) == []


async def test_list_running(deployer: KubernetesDeployer, kube: KubernetesStandIn) -> None:
    assert await deployer.list_running() == []
    await deployer.sync(make_deployment(ingress=True))
    await deployer.sync(make_deployment(app="api", release=7))
    await deployer.sync(make_deployment(project="blog", app="web", release=1))
    kube.roll_out("shop", "web")

    running = await deployer.list_running()

    assert [(r.project, r.app, r.release, r.state) for r in running] == [
        ("blog", "web", 1, RolloutState.PROGRESSING),
        ("shop", "api", 7, RolloutState.PROGRESSING),
        ("shop", "web", 3, RolloutState.READY),
    ]
    assert running[2].image == f"registry.example:5000/shop/web@{DIGEST}"
    assert running[2].url == "http://web.shop.home.example/"
    assert running[1].url is None
    assert any(r.path == "/apis/apps/v1/deployments" for r in kube.recorded)

    only_blog = await deployer.list_running("blog")
    assert [(r.project, r.app) for r in only_blog] == [("blog", "web")]
    assert (
        kube.recorded[-2].query["labelSelector"]
        == "app.kubernetes.io/managed-by=home-idp,home-idp.dev/project=blog"
    )


# Failures, credentials and configuration.


async def test_an_api_server_that_is_down_is_unavailable_fast(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    await kube.stop()
    deployment = make_deployment()
    started = time.monotonic()
    for call in (
        deployer.sync(deployment),
        deployer.rollout_status(deployment),
        deployer.undeploy("shop", "web"),
        deployer.list_running(),
    ):
        with pytest.raises(DeployUnavailable, match="could not be reached"):
            await call
    assert time.monotonic() - started < 5


async def test_an_address_where_nothing_listens_is_unavailable(make_deployer: MakeDeployer) -> None:
    deployer = make_deployer(api_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DeployUnavailable):
        await deployer.list_running()


async def test_the_token_is_never_in_errors_or_logs(
    make_deployer: MakeDeployer, kube: KubernetesStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    deployment = make_deployment()
    deployer = make_deployer()
    await deployer.sync(deployment)
    await deployer.rollout_status(deployment)
    await deployer.undeploy("shop", "web")

    wrong = make_deployer(token=TOKEN[::-1])
    with pytest.raises(DeployError, match="refused the credentials") as refused:
        await wrong.sync(deployment)
    await kube.stop()
    with pytest.raises(DeployUnavailable) as away:
        await deployer.sync(deployment)

    for text in (str(refused.value), str(away.value), caplog.text, repr(deployer)):
        assert TOKEN not in text
        assert TOKEN[::-1] not in text
        assert SECRET_VALUE not in text
        assert base64.b64encode(SECRET_VALUE.encode()).decode() not in text


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"api_url": "ftp://cluster"}, "http"),
        ({"api_url": "https://cluster"}, "needs `token`"),
        ({"api_url": "https://cluster", "token": "t", "verify_tls": "maybe"}, "verify_tls"),
        (
            {"api_url": "https://cluster", "token": "t", "request_timeout": "soon"},
            "request_timeout",
        ),
        ({"kubeconfig": "/nonexistent/kubeconfig"}, "could not load"),
        ({}, "could not load"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    tmp_path: Path, options: dict[str, str], expected: str
) -> None:
    with pytest.raises(DeployError, match=expected):
        KubernetesDeployer(
            DeployerConfig(tmp_path, "https://git.example/platform.git", "main", options)
        )


@pytest.mark.parametrize(
    ("code", "reason"),
    [(503, "ServiceUnavailable"), (429, "TooManyRequests"), (500, "InternalError")],
)
async def test_a_failing_api_server_is_unavailable(
    deployer: KubernetesDeployer, kube: KubernetesStandIn, code: int, reason: str
) -> None:
    kube.fail_next(code, reason, "etcdserver: request timed out")
    with pytest.raises(DeployUnavailable, match=f"answered {code}.*etcdserver: request timed out"):
        await deployer.sync(make_deployment())


async def test_the_pull_secret_is_made_from_the_registry_account(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    deployment = dataclasses.replace(
        make_deployment(), pull_credentials=RegistryCredentials("robot$shop", "pull-password-1")
    )
    await deployer.sync(deployment)
    pull = kube.get("secrets", "shop", "home-idp-registry")
    assert pull is not None and pull["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(pull["data"][".dockerconfigjson"]))
    auth = base64.b64decode(config["auths"]["registry.example:5000"]["auth"]).decode()
    assert auth == "robot$shop:pull-password-1"
    applied = [r for r in kube.recorded if r.path.endswith("/secrets/home-idp-registry")]
    for version in VERSIONS:
        kubernetes_validate.validate(applied[0].body, version, strict=True)
