"""The middle of the flow with real buildah, a real registry and real git.

A release's Dockerfile is `FROM` the base image the test run built and
pushed; the build clones the source repo over HTTP and the platform repo
from disk, pushes to the registry, and the registry's notification comes
back to the server on its real port.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from starlette.applications import Starlette
from strawberry.relay import from_base64, to_base64

from home_idp.plugins.registry.distribution import MANIFEST_TYPES
from home_idp.server.apps.models import App
from home_idp.server.deploy.models import BuildLogLine, RegistryPush
from home_idp.server.deploy.registry_access import image_tag
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from tests.components import BASE_IMAGE, REGISTRY_HOST, REGISTRY_URL
from tests.deploy.flow import make_app, save_dockerfile, wait_for_release
from tests.factories import Factory, Person
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

# Real components: the system tier.
pytestmark = pytest.mark.system

BUILD_LOG = """subscription($release: ID!, $after: String) {
  buildLog(releaseId: $release, after: $after) { seq text cursor }
}"""
STORED_LOG = """query($release: ID!, $after: String) {
  buildLog(releaseId: $release, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { seq step text } }
  }
}"""
CANCEL = """mutation($id: ID!) {
  cancelRelease(input: {id: $id}) { __typename ... on ReleaseSuccess { release { status } } }
}"""
RETRY = """mutation($id: ID!) {
  retryRelease(input: {id: $id}) { __typename ... on ReleaseSuccess { release { status } } }
}"""
SET_SECRET = (
    """mutation($input: SetAppSecretInput!) { setAppSecret(input: $input) { __typename } }"""
)


def five_steps(marker: str) -> str:
    """A Dockerfile of five steps: FROM the base, RUN, COPY from the source repo, …"""
    return (
        f"FROM {BASE_IMAGE}\n"
        f"RUN echo building {marker} && echo second line\n"
        "COPY index.html /app/index.html\n"
        "COPY run /app/run\n"
        'CMD ["/app/run"]\n'
    )


def transport(address: str, token: str) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=f"ws://{address}/graphql",
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


def release_pk(saved: dict[str, Any]) -> int:
    return int(from_base64(saved["release"]["id"])[1])


async def registry_digest(repository: str, tag: str) -> str | None:
    async with httpx.AsyncClient(base_url=REGISTRY_URL) as client:
        response = await client.head(
            f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}
        )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.headers["docker-content-digest"]


async def wait_for_step_state(release_id: int, name: str, state: StepState) -> ReleaseStep:
    async with asyncio.timeout(60):
        while True:
            step = await ReleaseStep.get(release_id=release_id, name=name)
            if step.state is state:
                return step
            await asyncio.sleep(0.05)


async def developer_and_app(factory: Factory) -> tuple[Person, App]:
    dev = await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    return dev, await make_app(project)


async def test_a_release_builds_pushes_and_advances_on_the_registry_webhook_while_the_log_streams(
    app: Starlette, settings: Settings, factory: Factory, gql: GraphQLClient
) -> None:
    dev, web = await developer_and_app(factory)
    marker = uuid.uuid4().hex
    async with (
        live_server(app, port=settings.port) as address,
        Client(transport=transport(address, dev.token)) as session,
    ):
        saved = await save_dockerfile(gql, dev.token, web, five_steps(marker))
        assert saved["__typename"] == "SaveDockerfileSuccess", saved
        release_id = release_pk(saved)
        lines: list[dict[str, Any]] = []
        running_when_seen: list[bool] = []
        async with asyncio.timeout(60):
            async for result in session.subscribe(
                GraphQLRequest(BUILD_LOG, variable_values={"release": saved["release"]["id"]})
            ):
                line = result["buildLog"]
                lines.append(line)
                if line["text"] == f"building {marker}":
                    build = await ReleaseStep.get(release_id=release_id, name="build")
                    running_when_seen.append(build.state is StepState.RUNNING)
            # The subscription ends by itself when the build is over.
        release = await wait_for_release(release_id)

    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    # The image is in the registry under the release's tag, with the recorded digest.
    assert release.commit_sha is not None
    # The source commit was found before the build, which built exactly it.
    assert release.source_sha is not None and re.fullmatch("[0-9a-f]{40}", release.source_sha)
    tag = image_tag(1, release.commit_sha, release.source_sha)
    assert release.image == f"{REGISTRY_HOST}/shop/web:{tag}"
    assert release.digest is not None and release.digest.startswith("sha256:")
    assert await registry_digest("shop/web", tag) == release.digest
    # The log came live, while the build was still running, in order and whole.
    texts = [line["text"] for line in lines]
    assert f"building {marker}" in texts and "second line" in texts
    assert running_when_seen == [True]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    # The registry's webhook moved await-image on, and it was recorded.
    await_image = await ReleaseStep.get(release_id=release_id, name="await-image")
    assert await_image.detail["advanced_by"] == "webhook", await_image.detail
    push = await RegistryPush.get(repository="shop/web", tag=tag).prefetch_related("delivery")
    assert push.digest == release.digest
    delivery = push.delivery
    assert delivery is not None and delivery.source == "registry"
    assert delivery.signature_ok and delivery.outcome.value == "accepted"
    assert "Authorization" not in str(delivery.headers)


async def test_the_stored_log_reads_back_page_by_page_after_the_build(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    dev, web = await developer_and_app(factory)
    saved = await save_dockerfile(gql, dev.token, web, five_steps("stored"))
    release = await wait_for_release(release_pk(saved))
    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    stored = await BuildLogLine.filter(release_id=release.id).count()
    assert stored > 10
    seen: list[str] = []
    after = None
    while True:
        page = (
            await gql(STORED_LOG, {"release": saved["release"]["id"], "after": after}, dev.token)
        )["buildLog"]
        assert page["totalCount"] == stored
        seen += [edge["node"]["text"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == stored
    assert "building stored" in seen


async def test_a_failing_build_fails_the_release_with_its_last_lines_and_pushes_nothing(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    dev, web = await developer_and_app(factory)
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo about to fail && exit 3\n"
    saved = await save_dockerfile(gql, dev.token, web, dockerfile)
    release = await wait_for_release(release_pk(saved))
    assert release.status is ReleaseStatus.FAILED
    assert release.error is not None
    assert release.error.startswith("build: build failed (exit code"), release.error
    assert "about to fail" in release.error
    build = await ReleaseStep.get(release_id=release.id, name="build")
    assert build.state is StepState.FAILED and build.attempts == 1  # not retried
    image = await ReleaseStep.get(release_id=release.id, name="await-image")
    assert image.state is StepState.PENDING
    assert release.image is None and release.digest is None
    assert release.commit_sha is not None
    tag = image_tag(1, release.commit_sha, release.source_sha)
    assert await registry_digest("shop/web", tag) is None


async def test_secrets_are_masked_in_the_build_log_and_the_error(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    dev, web = await developer_and_app(factory)
    value = f"s3cr3t-{uuid.uuid4().hex}"
    secret = {"app": to_base64("App", web.id), "name": "API_KEY", "value": value}
    assert (await gql(SET_SECRET, {"input": secret}, dev.token))["setAppSecret"][
        "__typename"
    ] == "AppSuccess"
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo the key is {value} && exit 1\n"
    saved = await save_dockerfile(gql, dev.token, web, dockerfile)
    release = await wait_for_release(release_pk(saved))
    assert release.status is ReleaseStatus.FAILED
    texts = await BuildLogLine.filter(release_id=release.id).values_list("text", flat=True)
    assert any("the key is ****" in str(text) for text in texts), texts
    assert not any(value in str(text) for text in texts)
    assert release.error is not None and value not in release.error


async def a_sleeping_build(factory: Factory, gql: GraphQLClient) -> tuple[Person, dict[str, Any]]:
    """A release whose build runs (and sleeps for 60 s): the developer and the save's answer."""
    dev, web = await developer_and_app(factory)
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo sleeping && sleep 60\n"
    saved = await save_dockerfile(gql, dev.token, web, dockerfile)
    release_id = release_pk(saved)
    await wait_for_step_state(release_id, "build", StepState.RUNNING)
    # Before its RUN, the build fetches both repos and reads the source commit; with
    # both databases' system tiers side by side on 2 cores that has taken over 30 s.
    async with asyncio.timeout(90):
        while not await BuildLogLine.exists(release_id=release_id, text="sleeping"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return dev, saved


async def test_cancelling_a_release_stops_its_build(
    app: Starlette, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    dev, saved = await a_sleeping_build(factory, gql)
    release_id = release_pk(saved)
    cancelled = await gql(CANCEL, {"id": saved["release"]["id"]}, dev.token)
    assert cancelled["cancelRelease"]["release"]["status"] == "CANCELLED"
    # The build process is killed within the cancel check, not after its 60 s.
    async with asyncio.timeout(15):
        while runtime.deploy.builder._running:  # type: ignore[attr-defined]  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    release = await Release.get(id=release_id)
    assert release.status is ReleaseStatus.CANCELLED
    assert release.commit_sha is not None
    tag = image_tag(1, release.commit_sha, release.source_sha)
    assert await registry_digest("shop/web", tag) is None


async def test_a_retry_right_after_a_cancel_still_stops_the_cancelled_build(
    app: Starlette, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    # The retry comes before the build step's next look at its cancel: the
    # release is running again, yet the cancelled attempt must stop (one
    # SQLite worker would otherwise wait for its 60 s, and it must not push).
    dev, saved = await a_sleeping_build(factory, gql)
    release_id = release_pk(saved)
    cancelled = await gql(CANCEL, {"id": saved["release"]["id"]}, dev.token)
    assert cancelled["cancelRelease"]["release"]["status"] == "CANCELLED"
    retried = await gql(RETRY, {"id": saved["release"]["id"]}, dev.token)
    assert retried["retryRelease"]["release"]["status"] == "RUNNING", retried
    # The retried build starts (attempt 1 again) well within the first one's 60 s.
    async with asyncio.timeout(20):
        while True:
            step = await ReleaseStep.get(release_id=release_id, name="build")
            if step.state is StepState.RUNNING and step.attempts == 1:
                break
            await asyncio.sleep(0.05)
    await gql(CANCEL, {"id": saved["release"]["id"]}, dev.token)


async def test_a_lost_registry_webhook_is_made_up_for_by_the_reconciler(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    # No server listens on the settings' port: the registry's notification is lost.
    dev, web = await developer_and_app(factory)
    saved = await save_dockerfile(gql, dev.token, web, five_steps("lost"))
    release = await wait_for_release(release_pk(saved))
    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    step = await ReleaseStep.get(release_id=release.id, name="await-image")
    assert step.detail["advanced_by"] == "reconciler"
    assert step.detail["digest"] == release.digest


async def test_a_source_ref_that_does_not_exist_fails_the_build_with_a_clear_reason(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    dev, web = await developer_and_app(factory)
    await App.filter(id=web.id).update(source_ref="no-such-branch")
    saved = await save_dockerfile(gql, dev.token, web, five_steps("ref"))
    release = await wait_for_release(release_pk(saved))
    assert release.status is ReleaseStatus.FAILED
    assert release.error is not None
    assert "the source repo has no ref 'no-such-branch'" in release.error, release.error
