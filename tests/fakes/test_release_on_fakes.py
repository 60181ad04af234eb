"""A whole release through the GraphQL API on the fakes: no build, no container, no registry."""

from __future__ import annotations

from strawberry.relay import from_base64, to_base64

from home_idp.plugins.deployer.contract import RolloutState
from home_idp.server.apps.models import App
from home_idp.server.deploy.models import WebhookDelivery
from home_idp.server.pipeline.models import ReleaseStatus, ReleaseStep
from tests.deploy.flow import wait_for_release
from tests.factories import Factory
from tests.fakes.server import FakeServer
from tests.graphql import GraphQLClient

DOCKERFILE = 'FROM busybox\nCOPY . /app\nCMD ["/app/run"]\n'
SAVE = """
mutation($input: SaveDockerfileInput!) {
  saveDockerfile(input: $input) {
    __typename
    ... on SaveDockerfileSuccess { release { id status } }
    ... on Error { message }
  }
}
"""
RELEASE = """query($id: ID!) {
  node(id: $id) { ... on Release { status url instanceUrl isLive image digest app { url } } }
}"""


async def test_a_saved_dockerfile_becomes_a_running_release(server: FakeServer) -> None:
    factory = Factory(server.runtime)
    dev = await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await App.create(project=project, name="web", source_repo="http://127.0.0.1:9/web.git")
    gql = GraphQLClient(server.http)

    saved = await gql(
        SAVE,
        {"input": {"app": to_base64("App", web.id), "content": DOCKERFILE, "message": "first"}},
        token=dev.token,
    )

    payload = saved["saveDockerfile"]
    assert payload["__typename"] == "SaveDockerfileSuccess", payload
    release = await wait_for_release(int(from_base64(payload["release"]["id"])[1]), 20)
    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    fakes = server.plugins
    # Built from the committed Dockerfile, pushed, pinned by digest, running.
    assert release.commit_sha is not None and release.digest is not None
    assert await fakes.git.read_file("projects/shop/apps/web/Dockerfile", release.commit_sha) == (
        DOCKERFILE.encode()
    )
    repository, _, tag = (release.image or "").partition("/")[2].rpartition(":")
    assert await fakes.registry.tag_digest(repository, tag) == release.digest
    (running,) = await fakes.deployer.list_running("shop")
    assert (running.app, running.release, running.state) == ("web", 1, RolloutState.READY)
    assert running.image.endswith(f"@{release.digest}")
    # Each wait was ended by the fakes' webhooks, verified by the server.
    steps = {step.name: step for step in await ReleaseStep.filter(release_id=release.id)}
    for wait in ("await-push", "await-image", "await-manifest-push"):
        assert steps[wait].detail.get("advanced_by") == "webhook", (wait, steps[wait].detail)
    deliveries = await WebhookDelivery.filter(outcome="accepted")
    assert sorted(d.source for d in deliveries) == ["git", "git", "registry"]
    assert all(d.signature_ok for d in deliveries)
    # The build's lines were kept, and the API shows the release as it ended.
    shown = await gql(RELEASE, {"id": payload["release"]["id"]}, token=dev.token)
    assert shown["node"]["status"] == "SUCCEEDED"
    # The live release answers at the app's address, which outlives it; its own
    # instance's address is kept, where the server passes the app's requests.
    assert release.url == shown["node"]["instanceUrl"] == running.url
    assert (
        shown["node"]["url"]
        == shown["node"]["app"]["url"]
        == (f"http://web.shop.localhost:{server.runtime.settings.port}")
    )

    again = await gql(
        SAVE,
        {
            "input": {
                "app": to_base64("App", web.id),
                "content": DOCKERFILE + "# 2\n",
                "message": "2",
            }
        },
        token=dev.token,
    )
    second = await wait_for_release(
        int(from_base64(again["saveDockerfile"]["release"]["id"])[1]), 20
    )
    assert second.status is ReleaseStatus.SUCCEEDED, second.error
    # Release #1 serves no more: its address is its own instance's again.
    shown = await gql(RELEASE, {"id": payload["release"]["id"]}, token=dev.token)
    assert (shown["node"]["isLive"], shown["node"]["url"]) == (False, running.url)
    assert shown["node"]["instanceUrl"] == running.url
