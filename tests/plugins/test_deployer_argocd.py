"""The argocd deployer against the Argo CD stand-in, over HTTP (httpx, bearer token)."""

from __future__ import annotations

import base64
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from home_idp.plugins.deployer.argocd import ArgoCDDeployer
from home_idp.plugins.deployer.contract import (
    AppDeployment,
    DeployerConfig,
    DeployerPlugin,
    DeployError,
    DeployUnavailable,
    InstanceNotFound,
    RolloutState,
)
from tests.doubles.argocd import UNAVAILABLE, ArgoCDStandIn, RecordedRequest, argocd_stand_in
from tests.doubles.kubernetes import kubernetes_stand_in
from tests.liveserver import free_port

TOKEN = "argocd-ApiKey-0123456789abcdefABCDEF.eyJhbGciOi"
REPO = "https://git.example/acme/platform.git"
SHA = "0123456789abcdef0123456789abcdef01234567"
NEXT_SHA = "89abcdef0123456789abcdef0123456789abcdef"
DIGEST = "sha256:" + "ef" * 32
NAME = "hidp-shop-web"

MakeDeployer = Callable[..., ArgoCDDeployer]


def make_deployment(
    project: str = "shop", app: str = "web", release: int = 3, sha: str = SHA
) -> AppDeployment:
    return AppDeployment(
        project=project,
        app=app,
        release=release,
        image=f"registry.example:5000/{project}/{app}@{DIGEST}",
        port=8080,
        replicas=2,
        health_path="/healthz",
        env={},
        manifests_path=f"projects/{project}/apps/{app}/manifests",
        commit_sha=sha,
        manifests={"deployment.yaml": "kind: Deployment\n"},
    )


@pytest.fixture
async def argocd() -> AsyncIterator[ArgoCDStandIn]:
    async with argocd_stand_in(token=TOKEN, projects=("default", "homelab")) as stand_in:
        yield stand_in


@pytest.fixture
async def make_deployer(argocd: ArgoCDStandIn, tmp_path: Path) -> AsyncIterator[MakeDeployer]:
    made: list[ArgoCDDeployer] = []

    def make(**options: str) -> ArgoCDDeployer:
        settings = {
            "url": argocd.base_url,
            "token": TOKEN,
            "connect_timeout": "1",
            "request_timeout": "5",
        }
        deployer = ArgoCDDeployer(DeployerConfig(tmp_path, REPO, "main", settings | options))
        made.append(deployer)
        return deployer

    yield make
    for deployer in made:
        await deployer.aclose()


@pytest.fixture
def deployer(make_deployer: MakeDeployer) -> ArgoCDDeployer:
    return make_deployer()


def calls(argocd: ArgoCDStandIn) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in argocd.recorded]


def last(argocd: ArgoCDStandIn, method: str, path: str) -> RecordedRequest:
    return [r for r in argocd.recorded if (r.method, r.path) == (method, path)][-1]


# Sync.


def test_the_deployer_is_a_deployer_plugin(deployer: ArgoCDDeployer) -> None:
    assert isinstance(deployer, DeployerPlugin)
    assert TOKEN not in repr(deployer)


async def test_sync_upserts_the_application_and_starts_a_sync(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    await deployer.sync(make_deployment())

    assert calls(argocd) == [
        ("POST", "/api/v1/applications"),
        ("POST", f"/api/v1/applications/{NAME}/sync"),
    ]
    create = argocd.recorded[0]
    assert create.query == {"upsert": "true"}
    assert create.body == {
        "metadata": {
            "name": NAME,
            "labels": {
                "app.kubernetes.io/managed-by": "home-idp",
                "home-idp.dev/project": "shop",
                "home-idp.dev/app": "web",
                "home-idp.dev/release": "3",
            },
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": REPO,
                "targetRevision": SHA,
                "path": "projects/shop/apps/web/manifests",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
            },
        },
    }
    assert argocd.recorded[1].body == {"revision": SHA, "prune": True}
    assert set(argocd.applications) == {NAME}
    assert argocd.applications[NAME]["status"]["operationState"]["phase"] == "Running"


async def test_a_second_sync_is_idempotent_and_a_new_release_updates(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    await deployer.sync(make_deployment())
    argocd.finish_sync(NAME)
    uid = argocd.applications[NAME]["metadata"]["uid"]
    await deployer.sync(make_deployment())
    assert argocd.applications[NAME]["metadata"]["generation"] == 1
    argocd.finish_sync(NAME)

    await deployer.sync(make_deployment(release=4, sha=NEXT_SHA))

    application = argocd.applications[NAME]
    assert set(argocd.applications) == {NAME}
    assert application["metadata"]["uid"] == uid
    assert application["metadata"]["generation"] == 2
    assert application["spec"]["source"]["targetRevision"] == NEXT_SHA
    assert application["metadata"]["labels"]["home-idp.dev/release"] == "4"
    assert last(argocd, "POST", f"/api/v1/applications/{NAME}/sync").body == {
        "revision": NEXT_SHA,
        "prune": True,
    }


async def test_a_sync_while_argo_cd_is_busy_asks_for_a_hard_refresh(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    await deployer.sync(make_deployment())
    argocd.finish_sync(NAME)
    argocd.start_operation(NAME)  # an automated sync got there first
    argocd.recorded.clear()

    await deployer.sync(make_deployment())

    assert calls(argocd) == [
        ("POST", "/api/v1/applications"),
        ("POST", f"/api/v1/applications/{NAME}/sync"),
        ("GET", f"/api/v1/applications/{NAME}"),
    ]
    assert argocd.recorded[-1].query == {"refresh": "hard"}


async def test_project_mode_has_one_application_per_project(
    make_deployer: MakeDeployer, argocd: ArgoCDStandIn
) -> None:
    deployer = make_deployer(
        mode="project", project="homelab", dest_server="https://cluster.example:6443"
    )
    await deployer.sync(make_deployment())
    await deployer.sync(make_deployment(app="api", release=1))

    assert set(argocd.applications) == {"hidp-shop"}
    create = last(argocd, "POST", "/api/v1/applications")
    assert create.body["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "home-idp",
        "home-idp.dev/project": "shop",
    }
    assert create.body["spec"]["project"] == "homelab"
    assert create.body["spec"]["source"] == {
        "repoURL": REPO,
        "targetRevision": "main",
        "path": "projects/shop",
        "directory": {"recurse": True},
    }
    assert create.body["spec"]["destination"] == {
        "server": "https://cluster.example:6443",
        "namespace": "shop",
    }
    assert argocd.recorded[1].body == {"revision": "main", "prune": True}


async def test_argo_cd_refusals_are_deploy_errors_with_its_message(
    make_deployer: MakeDeployer, argocd: ArgoCDStandIn
) -> None:
    deployer = make_deployer(project="nowhere")
    with pytest.raises(DeployError, match="project nowhere which does not exist") as caught:
        await deployer.sync(make_deployment())
    assert not isinstance(caught.value, DeployUnavailable)
    assert "400" in str(caught.value)
    assert argocd.applications == {}


# Rollout status.


async def test_rollout_status_follows_sync_and_health(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    deployment = make_deployment()
    status = await deployer.rollout_status(deployment)
    assert (status.state, status.reason) == (
        RolloutState.PROGRESSING,
        f"the Argo CD Application {NAME} does not exist yet",
    )

    await deployer.sync(deployment)
    status = await deployer.rollout_status(deployment)
    assert status.state is RolloutState.PROGRESSING
    assert status.reason == "Argo CD: OutOfSync at no revision, Missing, sync running"

    argocd.finish_sync(NAME, health="Progressing", urls=["https://web.shop.home.example/"])
    status = await deployer.rollout_status(deployment)
    assert (status.state, status.reason) == (
        RolloutState.PROGRESSING,
        "Argo CD: Synced at 0123456789ab, Progressing",
    )

    argocd.set_health(NAME, "Healthy")
    status = await deployer.rollout_status(deployment)
    assert status.state is RolloutState.READY
    assert status.url == "https://web.shop.home.example/"

    # The next release is not ready on the last one's state.
    newer = make_deployment(release=4, sha=NEXT_SHA)
    assert (await deployer.rollout_status(newer)).state is RolloutState.PROGRESSING
    await deployer.sync(newer)
    argocd.finish_sync(NAME)
    assert (await deployer.rollout_status(newer)).state is RolloutState.READY
    assert last(argocd, "GET", f"/api/v1/applications/{NAME}").query == {}


@pytest.mark.parametrize("phase", ["Failed", "Error"])
async def test_a_failed_sync_fails_the_rollout(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn, phase: str
) -> None:
    deployment = make_deployment()
    await deployer.sync(deployment)
    argocd.fail_sync(
        NAME, 'one or more objects failed to apply, reason: Deployment.apps "web" is invalid', phase
    )

    status = await deployer.rollout_status(deployment)

    assert status.state is RolloutState.FAILED
    assert status.reason == (
        f'the Argo CD sync {phase.lower()}: one or more objects failed to apply, reason: Deployment.apps "web" is invalid'
    )


async def test_an_earlier_releases_failed_sync_does_not_fail_this_one(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    await deployer.sync(make_deployment())
    argocd.fail_sync(NAME, "boom")
    assert (
        await deployer.rollout_status(make_deployment(release=4, sha=NEXT_SHA))
    ).state is RolloutState.PROGRESSING


async def test_a_degraded_app_fails_the_rollout(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    deployment = make_deployment()
    await deployer.sync(deployment)
    argocd.finish_sync(NAME, health="Degraded")
    argocd.set_resources(
        NAME,
        [
            {
                "group": "apps",
                "version": "v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "status": "Synced",
                "health": {
                    "status": "Degraded",
                    "message": 'Deployment "web" exceeded its progress deadline',
                },
            },
        ],
    )
    status = await deployer.rollout_status(deployment)
    assert status.state is RolloutState.FAILED
    assert (
        status.reason
        == 'Argo CD reports the app Degraded: Deployment web: Deployment "web" exceeded its progress deadline'
    )

    argocd.set_health(NAME, "Degraded", "back-off restarting failed container")
    status = await deployer.rollout_status(deployment)
    assert status.reason == "Argo CD reports the app Degraded: back-off restarting failed container"


async def test_project_mode_looks_at_the_apps_own_deployment(
    make_deployer: MakeDeployer, argocd: ArgoCDStandIn
) -> None:
    deployer = make_deployer(mode="project")
    web, api = make_deployment(), make_deployment(app="api", release=1)
    await deployer.sync(web)
    argocd.finish_sync("hidp-shop", revision=SHA, images=[web.image])
    argocd.set_resources(
        "hidp-shop",
        [
            {
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "status": "Synced",
                "health": {"status": "Healthy"},
            },
            {
                "kind": "Deployment",
                "namespace": "shop",
                "name": "api",
                "status": "Synced",
                "health": {"status": "Degraded", "message": "no pods"},
            },
        ],
    )

    assert (await deployer.rollout_status(web)).state is RolloutState.READY
    # api's image is not running yet: this release is not the one that is degraded.
    assert (await deployer.rollout_status(api)).state is RolloutState.PROGRESSING
    argocd.finish_sync("hidp-shop", revision=SHA, images=[web.image, api.image])
    argocd.set_resources(
        "hidp-shop",
        [
            {
                "kind": "Deployment",
                "namespace": "shop",
                "name": "api",
                "status": "Synced",
                "health": {"status": "Degraded", "message": "no pods"},
            }
        ],
    )
    status = await deployer.rollout_status(api)
    assert (status.state, status.reason) == (
        RolloutState.FAILED,
        "Argo CD reports the app Degraded: no pods",
    )
    assert (
        await deployer.rollout_status(web)
    ).state is RolloutState.PROGRESSING  # web's Deployment is Missing


# Undeploy and listing.


async def test_undeploy_deletes_the_application_with_cascade(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    await deployer.sync(make_deployment())
    await deployer.sync(make_deployment(app="api", release=1))

    await deployer.undeploy("shop", "web")

    assert set(argocd.applications) == {"hidp-shop-api"}
    assert last(argocd, "DELETE", f"/api/v1/applications/{NAME}").query == {"cascade": "true"}
    await deployer.undeploy("shop", "web")  # idempotent: a 404 is what was wanted


async def test_undeploy_in_project_mode_prunes_by_syncing(
    make_deployer: MakeDeployer, argocd: ArgoCDStandIn
) -> None:
    deployer = make_deployer(mode="project")
    await deployer.undeploy("shop", "web")  # no Application: nothing to do
    await deployer.sync(make_deployment())
    argocd.finish_sync("hidp-shop")
    argocd.recorded.clear()

    await deployer.undeploy("shop", "web")

    assert "hidp-shop" in argocd.applications
    assert calls(argocd) == [
        ("GET", "/api/v1/applications/hidp-shop"),
        ("POST", "/api/v1/applications/hidp-shop/sync"),
    ]
    assert argocd.recorded[-1].body == {"revision": "main", "prune": True}


async def test_list_running(deployer: ArgoCDDeployer, argocd: ArgoCDStandIn) -> None:
    assert await deployer.list_running() == []
    await deployer.sync(make_deployment())
    await deployer.sync(make_deployment(app="api", release=7))
    await deployer.sync(make_deployment(project="blog", app="web", release=1))
    argocd.finish_sync(
        NAME, images=[make_deployment().image], urls=["http://web.shop.home.example/"]
    )
    argocd.finish_sync("hidp-blog-web", health="Degraded")
    # An Application home-idp did not make is left out.
    argocd.applications["guestbook"] = {
        "metadata": {"name": "guestbook", "labels": {}},
        "spec": {"project": "default"},
        "status": {},
    }

    running = await deployer.list_running()

    assert [(r.project, r.app, r.release, r.state) for r in running] == [
        ("blog", "web", 1, RolloutState.FAILED),
        ("shop", "api", 7, RolloutState.PROGRESSING),
        ("shop", "web", 3, RolloutState.READY),
    ]
    assert running[2].image == make_deployment().image
    assert running[2].url == "http://web.shop.home.example/"
    assert last(argocd, "GET", "/api/v1/applications").query == {
        "selector": "app.kubernetes.io/managed-by=home-idp"
    }

    only_blog = await deployer.list_running("blog")
    assert [(r.project, r.app) for r in only_blog] == [("blog", "web")]
    assert last(argocd, "GET", "/api/v1/applications").query == {
        "selector": "app.kubernetes.io/managed-by=home-idp,home-idp.dev/project=blog"
    }


async def test_list_running_in_project_mode(
    make_deployer: MakeDeployer, argocd: ArgoCDStandIn
) -> None:
    deployer = make_deployer(mode="project")
    web = make_deployment()
    await deployer.sync(web)
    argocd.finish_sync("hidp-shop", images=[web.image])
    argocd.set_resources(
        "hidp-shop",
        [
            {
                "kind": "Service",
                "namespace": "shop",
                "name": "web",
                "status": "Synced",
                "health": {"status": "Healthy"},
            },
            {
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "status": "Synced",
                "health": {"status": "Healthy"},
            },
            {
                "kind": "Deployment",
                "namespace": "shop",
                "name": "api",
                "status": "OutOfSync",
                "health": {"status": "Progressing"},
            },
        ],
    )
    running = await deployer.list_running("shop")
    assert [(r.app, r.release, r.image, r.state) for r in running] == [
        ("api", None, "", RolloutState.PROGRESSING),
        ("web", None, web.image, RolloutState.READY),
    ]


# Bad input, failures, credentials.


@pytest.mark.parametrize(
    ("project", "app"), [("../x", "web"), ("shop", "UPPER"), ("shop", "a/b"), ("", "web")]
)
async def test_bad_names_are_refused_before_any_request(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn, project: str, app: str
) -> None:
    deployment = make_deployment()
    bad = AppDeployment(**{**deployment.__dict__, "project": project, "app": app})
    for call in (deployer.sync(bad), deployer.rollout_status(bad), deployer.undeploy(project, app)):
        with pytest.raises(DeployError, match="DNS-1123"):
            await call
    if project != "shop":
        with pytest.raises(DeployError, match="DNS-1123"):
            await deployer.list_running(project)
    assert argocd.recorded == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"manifests_path": "../../etc"}, "relative path"),
        ({"manifests_path": "/projects/shop"}, "relative path"),
        ({"manifests_path": "projects/shop?ref=x"}, "relative path"),
        ({"commit_sha": "main; rm -rf"}, "not a commit id"),
    ],
)
async def test_bad_paths_and_revisions_are_refused_before_any_request(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn, changes: dict[str, Any], expected: str
) -> None:
    bad = AppDeployment(**{**make_deployment().__dict__, **changes})
    with pytest.raises(DeployError, match=expected):
        await deployer.sync(bad)
    assert argocd.recorded == []


async def test_argo_cd_down_is_unavailable_fast(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    await argocd.stop()
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
    deployer = make_deployer(url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DeployUnavailable):
        await deployer.list_running()


async def test_the_token_is_never_in_errors_or_logs(
    make_deployer: MakeDeployer, argocd: ArgoCDStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    deployment = make_deployment()
    deployer = make_deployer()
    await deployer.sync(deployment)
    await deployer.rollout_status(deployment)
    await deployer.list_running()
    await deployer.undeploy("shop", "web")

    wrong = make_deployer(token=TOKEN[::-1])
    with pytest.raises(DeployError, match=r"refused the token.*\(401\)") as refused:
        await wrong.sync(deployment)
    await argocd.stop()
    with pytest.raises(DeployUnavailable) as away:
        await deployer.sync(deployment)

    assert any(r.name.startswith("httpx") for r in caplog.records)  # the client did log
    for text in (str(refused.value), str(away.value), caplog.text, repr(deployer)):
        assert TOKEN not in text
        assert TOKEN[::-1] not in text


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"token": "t"}, "needs `url`"),
        ({"url": "ftp://argocd"}, "`url` option must be an http"),
        ({"url": "https://argocd"}, "needs `token`"),
        ({"url": "https://argocd", "token": "t", "mode": "cluster"}, "`mode`"),
        ({"url": "https://argocd", "token": "t", "project": "Bad Project"}, "`project`"),
        ({"url": "https://argocd", "token": "t", "verify_tls": "perhaps"}, "verify_tls"),
        ({"url": "https://argocd", "token": "t", "dest_server": "cluster"}, "dest_server"),
        ({"url": "https://argocd", "token": "t", "connect_timeout": "-1"}, "connect_timeout"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    tmp_path: Path, options: dict[str, str], expected: str
) -> None:
    with pytest.raises(DeployError, match=expected):
        ArgoCDDeployer(DeployerConfig(tmp_path, REPO, "main", options))


async def test_a_failing_argo_cd_is_unavailable(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    argocd.fail_next(UNAVAILABLE, "connection error: desc = the repo server is not reachable")
    with pytest.raises(DeployUnavailable, match=r"answered 503.*repo server is not reachable"):
        await deployer.sync(make_deployment())
    assert argocd.applications == {}


async def test_the_apps_secrets_reach_the_cluster_through_its_api_and_never_git(
    make_deployer: MakeDeployer, argocd: ArgoCDStandIn
) -> None:
    async with kubernetes_stand_in(token="kube-token-0123456789") as kube:
        deployer = make_deployer(kube_api_url=kube.base_url, kube_token="kube-token-0123456789")
        deployment = dataclasses.replace(make_deployment(), secrets={"API_KEY": "s3cr3t-value"})
        await deployer.sync(deployment)
        stored = kube.get("secrets", "shop", "web-secrets")
        assert stored is not None
        assert base64.b64decode(stored["data"]["API_KEY"]).decode() == "s3cr3t-value"
        # Only the Secret (and its Namespace) went to the cluster: Argo CD applies the rest.
        assert kube.get("deployments", "shop", "web") is None
        assert "s3cr3t-value" not in str(argocd.applications)
    assert calls(argocd)[-1][0] == "POST"  # the sync that Argo CD was asked for


# The app's pods, logs and objects: read from the cluster's API.


async def test_pods_logs_and_objects_come_from_the_clusters_api(
    make_deployer: MakeDeployer, argocd: ArgoCDStandIn
) -> None:
    pod_labels = {
        "app.kubernetes.io/managed-by": "home-idp",
        "home-idp.dev/project": "shop",
        "home-idp.dev/app": "web",
        "home-idp.dev/release": "3",
    }
    async with kubernetes_stand_in(token="kube-token-0123456789") as kube:
        deployer = make_deployer(kube_api_url=kube.base_url, kube_token="kube-token-0123456789")
        await deployer.sync(dataclasses.replace(make_deployment(), secrets={"API_KEY": "v4lue"}))
        kube.add_pod("shop", "web-1", pod_labels, container="web")
        kube.add_pod("shop", "web-2", pod_labels, container="web")
        kube.add_pod_logs("shop", "web-1", "web", ["one", "two"])

        resources = await deployer.app_resources("shop", "web")
        # Never its Secrets: listing them would read their values, a right the
        # Argo CD deployer's account does not get.
        assert [(r.kind, r.name) for r in resources] == [("Pod", "web-1"), ("Pod", "web-2")]
        assert not kube.calls("GET", "/api/v1/namespaces/shop/secrets")

        lines = deployer.app_logs("shop", "web", follow=False, tail_lines=1)
        assert [(line.source, line.text) async for line in lines] == [("web-1", "two")]

        await deployer.delete_instance("shop", "web", "web-2")
        assert kube.get("pods", "shop", "web-2") is None
        with pytest.raises(InstanceNotFound):
            await deployer.delete_instance("shop", "web", "web-2")
    # Argo CD itself was asked for none of it.
    assert [path for _, path in calls(argocd)] == [
        "/api/v1/applications",
        f"/api/v1/applications/{NAME}/sync",
    ]


async def test_without_the_clusters_api_pods_and_logs_are_a_clear_error(
    deployer: ArgoCDDeployer, argocd: ArgoCDStandIn
) -> None:
    expected = (
        "the argocd deployer needs the kube_api_url option (or kube_kubeconfig) "
        "to show an app's pods and logs"
    )
    with pytest.raises(DeployError) as caught:
        await deployer.app_resources("shop", "web")
    assert str(caught.value) == expected
    with pytest.raises(DeployError) as caught:
        await anext(deployer.app_logs("shop", "web", follow=True, tail_lines=10))
    assert str(caught.value) == expected
    with pytest.raises(DeployError) as caught:
        await deployer.delete_instance("shop", "web", "web-1")
    assert str(caught.value) == expected
    assert argocd.recorded == []
