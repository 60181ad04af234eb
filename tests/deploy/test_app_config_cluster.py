"""Config files and shared variables in cluster mode, against the Kubernetes API stand-in.

The server renders a release's manifests and its deployment (files, the
project's variables and secrets, the app's own winning) as the manifests and
sync steps do; the kubernetes deployer applies them through the official
client; every object the cluster then holds is checked against the official
schemas, and the resource view shows Secrets by key only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from home_idp.plugins.deployer.contract import DeployerConfig
from home_idp.plugins.deployer.kubernetes import KubernetesDeployer
from home_idp.server.apps.models import (
    App,
    AppFile,
    AppSecret,
    DockerfileVersion,
    ProjectVariable,
)
from home_idp.server.deploy.deploy_steps import DeploymentSource, render_release_manifests
from home_idp.server.deploy.manifests import config_map_name
from home_idp.server.pipeline.models import Release
from home_idp.server.runtime import Runtime
from tests.deploy.flow import make_app
from tests.doubles.kubernetes import KubernetesStandIn, kubernetes_stand_in
from tests.factories import Factory

TOKEN = "kube-token-for-config-tests"
PROJECT_SECRET = "project-db-password-123"
APP_SECRET = "app-own-api-key-456"
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
async def kube() -> AsyncIterator[KubernetesStandIn]:
    async with kubernetes_stand_in(token=TOKEN) as stand_in:
        yield stand_in


async def a_configured_release(runtime: Runtime, factory: Factory) -> Release:
    await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    app = await make_app(project)
    box = runtime.secret_box
    for name, value, secret in (
        ("REGION", "eu", False),
        ("LOG_LEVEL", "info", False),
        ("DB_PASSWORD", box.encrypt(PROJECT_SECRET), True),
        ("UNUSED", "not used", False),
    ):
        await ProjectVariable.create(
            project=project, name=name, is_secret=secret, value=value, updated_by="dev"
        )
    await App.filter(id=app.id).update(
        env={"LOG_LEVEL": "debug"}, shared_env=["DB_PASSWORD", "LOG_LEVEL", "REGION"]
    )
    await AppSecret.create(
        app=app, name="API_KEY", ciphertext=box.encrypt(APP_SECRET), updated_by="dev"
    )
    for name, path, content in (
        ("app.yaml", "/etc/web/app.yaml", "server:\n  port: 8080\n"),
        ("Flags_v2.json", "/srv/flags.json", '{"beta": true}'),
    ):
        await AppFile.create(
            app=app,
            name=name,
            mount_path=path,
            content=content,
            size=len(content),
            updated_by="dev",
        )
    version = await DockerfileVersion.create(
        app=app, number=1, content="FROM x\n", author="dev", message="first"
    )
    release = await Release.create(
        app=app,
        number=1,
        dockerfile_version=version,
        trigger="dockerfile",
        created_by="dev",
        image="registry.example:5000/shop/web:r1-abc",
        digest=DIGEST,
        manifests_sha="c0ffee" * 6 + "abcd",
    )
    await release.fetch_related("app__project")
    release.manifests = await render_release_manifests(
        release, f"registry.example:5000/shop/web@{DIGEST}"
    )
    await release.save(update_fields=["manifests"])
    return release


async def test_files_and_shared_secrets_become_valid_objects_in_the_cluster(
    runtime: Runtime, factory: Factory, kube: KubernetesStandIn, tmp_path: Path
) -> None:
    release = await a_configured_release(runtime, factory)
    source = DeploymentSource(runtime.deploy.accounts, runtime.secret_box)
    deployment = await source.of(release)
    # The app's own value wins; only the variables it names come from the project.
    assert dict(deployment.env) == {"LOG_LEVEL": "debug", "REGION": "eu"}
    assert dict(deployment.secrets) == {"API_KEY": APP_SECRET, "DB_PASSWORD": PROJECT_SECRET}
    # Secret values never reach git: the manifests name them only.
    assert not [t for t in deployment.manifests.values() if PROJECT_SECRET in t or APP_SECRET in t]

    deployer = KubernetesDeployer(
        DeployerConfig(tmp_path, "", "", {"api_url": kube.base_url, "token": TOKEN})
    )
    try:
        await deployer.sync(deployment)
        stored = list(kube.objects.values())
        kinds = sorted(obj["kind"] for obj in stored)
        assert kinds == ["ConfigMap", "ConfigMap", "Deployment", "Namespace", "Secret", "Service"]
        for obj in stored:
            for version in ("1.29.0", "1.32.0"):
                kubernetes_validate.validate(obj, version, strict=True)

        config_map = kube.get("configmaps", "shop", config_map_name("web", "Flags_v2.json"))
        assert config_map is not None and config_map["data"] == {"Flags_v2.json": '{"beta": true}'}
        pod = kube.get("deployments", "shop", "web")["spec"]["template"]["spec"]  # type: ignore[index]
        [container] = pod["containers"]
        env = {
            e["name"]: e.get("value") or e["valueFrom"]["secretKeyRef"] for e in container["env"]
        }
        assert env == {
            "LOG_LEVEL": "debug",
            "REGION": "eu",
            "API_KEY": {"name": "web-secrets", "key": "API_KEY"},
            "DB_PASSWORD": {"name": "web-secrets", "key": "DB_PASSWORD"},
        }
        mounts = {m["mountPath"]: (m["subPath"], m["readOnly"]) for m in container["volumeMounts"]}
        assert mounts == {
            "/etc/web/app.yaml": ("app.yaml", True),
            "/srv/flags.json": ("Flags_v2.json", True),
        }

        resources = await deployer.app_resources("shop", "web")
        by_kind = {(r.kind, r.name): r for r in resources}
        assert by_kind[("Secret", "web-secrets")].keys == ("API_KEY", "DB_PASSWORD")
        assert by_kind[("ConfigMap", config_map_name("web", "app.yaml"))].keys == ("app.yaml",)
        assert PROJECT_SECRET not in repr(resources) and APP_SECRET not in repr(resources)
        # What git holds for the release reads back as the same documents.
        for name, text in deployment.manifests.items():
            assert list(yaml.safe_load_all(text)), name
    finally:
        await deployer.aclose()


@pytest.mark.parametrize(("issuer", "scheme"), [("letsencrypt-prod", "https"), ("", "http")])
async def test_an_ingress_host_gets_tls_from_the_cert_manager_issuer_when_one_is_set(
    runtime: Runtime,
    factory: Factory,
    kube: KubernetesStandIn,
    tmp_path: Path,
    issuer: str,
    scheme: str,
) -> None:
    release = await a_configured_release(runtime, factory)
    await App.filter(id=release.app.id).update(ingress_host="web.shop.example.org")
    await release.app.refresh_from_db()
    release.manifests = await render_release_manifests(
        release, f"registry.example:5000/shop/web@{DIGEST}", issuer
    )
    await release.save(update_fields=["manifests"])
    deployment = await DeploymentSource(runtime.deploy.accounts, runtime.secret_box).of(release)
    deployer = KubernetesDeployer(
        DeployerConfig(tmp_path, "", "", {"api_url": kube.base_url, "token": TOKEN})
    )
    try:
        await deployer.sync(deployment)
        ingress = kube.get("ingresses", "shop", "web", "networking.k8s.io/v1")
        assert ingress is not None
        for version in ("1.29.0", "1.32.0"):
            kubernetes_validate.validate(ingress, version, strict=True)
        annotations = ingress["metadata"].get("annotations") or {}
        if issuer:
            # What cert-manager's ingress-shim reads (https://cert-manager.io/docs/usage/ingress/).
            assert annotations == {"cert-manager.io/cluster-issuer": issuer}
            assert ingress["spec"]["tls"] == [
                {"hosts": ["web.shop.example.org"], "secretName": "web-tls"}
            ]
        else:
            assert "cert-manager.io/cluster-issuer" not in annotations
            assert "tls" not in ingress["spec"]
        [running] = await deployer.list_running("shop")
        assert running.url == f"{scheme}://web.shop.example.org/"
    finally:
        await deployer.aclose()
