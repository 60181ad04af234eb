"""The end of the flow with real components: manifests in git, a podman container
answering HTTP on 127.0.0.1, a second release, a rollback, and a failing one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml
from starlette.applications import Starlette
from strawberry.relay import from_base64, to_base64

from home_idp.server.apps.models import App
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from tests.deploy.flow import DOCKERFILE, make_app, save_dockerfile, wait_for_release
from tests.factories import Factory, Person
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

# Real components: the system tier.
pytestmark = pytest.mark.system

ROLLBACK = """mutation($input: RollbackInput!) {
  rollback(input: $input) {
    __typename
    ... on ReleaseSuccess { release { id number trigger status digest } }
    ... on Error { message }
  }
}"""
PLAN = """query($id: ID!) { releasePlan(releaseId: $id) { folder diff files } }"""
APP = """query($id: ID!) {
  node(id: $id) { ... on App { url liveRelease { number url instanceUrl }
    releases(first: 10) { edges { node { number isLive } } } } }
}"""
UPDATE = """mutation($input: UpdateAppInput!) { updateApp(input: $input) { __typename } }"""
FOLDER = "projects/shop/apps/web/manifests"


def release_pk(payload: dict[str, Any]) -> int:
    return int(from_base64(payload["release"]["id"])[1])


def answers(url: str | None) -> str | None:
    """The app's page at `url`, or None when nothing serves there."""
    if url is None:
        return None
    try:
        response = httpx.get(url, timeout=3)
    except httpx.TransportError:
        return None
    return response.text if response.status_code == 200 else None


async def released(gql: GraphQLClient, dev: Person, app: App, content: str) -> Release:
    saved = await save_dockerfile(gql, dev.token, app, content)
    assert saved["__typename"] == "SaveDockerfileSuccess", saved
    return await wait_for_release(release_pk(saved), seconds=120)


async def test_releases_deploy_roll_back_and_a_failing_one_leaves_the_live_one_serving(
    app: Starlette, settings: Settings, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    dev = await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    app_gid = to_base64("App", web.id)
    async with live_server(app, port=settings.port):
        # 1. The first release runs, and the app answers on its URL.
        first = await released(gql, dev, web, DOCKERFILE)
        assert first.status is ReleaseStatus.SUCCEEDED, first.error
        assert answers(first.url) == "hello from web\n"
        # Its manifests are in git at the recorded commit, pinned by digest, valid.
        assert first.manifests_sha is not None and first.digest is not None
        deployment = await runtime.deploy.git.read_file(
            f"{FOLDER}/deployment.yaml", first.manifests_sha
        )
        assert deployment is not None
        document = yaml.safe_load(deployment)
        image = document["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.endswith(f"/shop/web@{first.digest}")
        for version in ("1.29.0", "1.32.0"):
            kubernetes_validate.validate(document, version, strict=True)
        plan = (await gql(PLAN, {"id": to_base64("Release", first.id)}, dev.token))["releasePlan"]
        assert plan["folder"] == FOLDER
        assert f"+        image: {image}" in plan["diff"]
        assert plan["files"] == ["deployment.yaml", "namespace.yaml", "service.yaml"]
        node = (await gql(APP, {"id": app_gid}, dev.token))["node"]
        # The live release answers at the app's address; its container at its own.
        assert node["liveRelease"] == {"number": 1, "url": node["url"], "instanceUrl": first.url}

        # 2. A second release replaces it once ready: a new URL, the old one is gone.
        second = await released(gql, dev, web, f"{DOCKERFILE}ENV SECOND=1\n")
        assert second.status is ReleaseStatus.SUCCEEDED, second.error
        assert second.url != first.url
        assert answers(second.url) == "hello from web\n"
        # The first one is stopped in the background, after a moment for its requests.
        async with asyncio.timeout(30):
            while answers(first.url) is not None:  # noqa: ASYNC110
                await asyncio.sleep(0.2)

        # 3. A rollback runs the first release's exact image again, as release #3.
        rolled = await gql(
            ROLLBACK,
            {"input": {"app": app_gid, "release": to_base64("Release", first.id)}},
            dev.token,
        )
        payload = rolled["rollback"]
        assert payload["__typename"] == "ReleaseSuccess", payload
        assert payload["release"]["trigger"] == "rollback to #1"
        third = await wait_for_release(release_pk(payload), seconds=120)
        assert third.status is ReleaseStatus.SUCCEEDED, third.error
        assert third.digest == first.digest
        assert third.manifests_sha not in (None, first.manifests_sha, second.manifests_sha)
        steps = [s.name for s in await ReleaseStep.filter(release_id=third.id).order_by("position")]
        assert steps == ["manifests", "await-manifest-push", "sync", "rollout", "verify"]
        assert answers(third.url) == "hello from web\n"

        # 4. A release whose health check fails leaves release #3 serving, and is
        # rolled back to it at once: release #5 runs #3's image with #3's settings.
        await gql(UPDATE, {"input": {"id": app_gid, "healthPath": "/missing"}}, dev.token)
        failing = await released(gql, dev, web, f"{DOCKERFILE}ENV BROKEN=1\n")
        assert failing.status is ReleaseStatus.FAILED
        assert failing.error is not None and failing.error.startswith("rollout: ")
        assert "the release before it keeps serving" in failing.error, failing.error
        assert "/missing" in failing.error, failing.error
        assert "release #5 rolls back to #3" in failing.error, failing.error
        rollout = await ReleaseStep.get(release_id=failing.id, name="rollout")
        assert rollout.state is StepState.FAILED
        rollback = await wait_for_release(failing.rolled_back_by_id or 0, seconds=120)
        assert rollback.status is ReleaseStatus.SUCCEEDED, rollback.error
        assert (rollback.trigger, rollback.created_by) == ("auto rollback to #3", "home-idp")
        assert rollback.digest == third.digest
        assert answers(rollback.url) == "hello from web\n"
        assert (await App.get(id=web.id)).live_release_id == rollback.id
        node = (await gql(APP, {"id": app_gid}, dev.token))["node"]
        live = {
            edge["node"]["number"]: edge["node"]["isLive"] for edge in node["releases"]["edges"]
        }
        assert live == {1: False, 2: False, 3: False, 4: False, 5: True}


async def test_a_rollback_to_a_release_that_did_not_succeed_is_refused(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    dev = await factory.user("dev")
    web = await make_app(await factory.project("shop", dev="developer"))
    other = await make_app(await factory.project("blog", dev="developer"), name="site")
    # Its build fails at once, on a file the context lacks: no retry, no wait.
    broken = await released(gql, dev, web, DOCKERFILE.replace("COPY . /app", "COPY absent /app"))
    assert broken.status is ReleaseStatus.FAILED
    before = await Release.all().count()
    refused = await gql(
        ROLLBACK,
        {
            "input": {
                "app": to_base64("App", web.id),
                "release": to_base64("Release", broken.id),
            }
        },
        dev.token,
    )
    assert refused["rollback"]["__typename"] == "Conflict", refused
    # A release of another app is no release of this one.
    elsewhere = await gql(
        ROLLBACK,
        {
            "input": {
                "app": to_base64("App", other.id),
                "release": to_base64("Release", broken.id),
            }
        },
        dev.token,
    )
    assert elsewhere["rollback"]["__typename"] == "NotFound", elsewhere
    assert await Release.all().count() == before
