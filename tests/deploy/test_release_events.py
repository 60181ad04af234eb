"""Release events over a real websocket, resumed from a cursor; cancel and retry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from starlette.applications import Starlette
from strawberry.relay import to_base64

from home_idp.server.apps.models import DockerfileVersion
from home_idp.server.deploy.releases import RELEASE_PLAN
from home_idp.server.pipeline.events import app_topic
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from tests.deploy.flow import make_app, save_dockerfile
from tests.factories import Factory
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

EVENTS = """subscription($app: ID, $release: ID, $after: String) {
  releaseEvents(appId: $app, releaseId: $release, after: $after) { step state message cursor }
}"""


def events(**variables: str) -> GraphQLRequest:
    return GraphQLRequest(EVENTS, variable_values=variables)


def transport(address: str, token: str) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=f"ws://{address}/graphql",
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


async def collect_until_done(subscription: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(90):
        async for result in subscription:
            event = result["releaseEvents"]
            events.append(event)
            if event["step"] is None and event["state"] in ("succeeded", "failed"):
                return events
    raise AssertionError("the subscription ended early")


WAITING_IMAGE = ("await-image", "waiting")


async def test_release_events_arrive_live_and_resume_from_a_cursor(
    app: Starlette, settings: Settings, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    dev = await factory.user("dev")
    viewer = await factory.user("viewer")
    project = await factory.project("shop", dev="developer", viewer="viewer")
    web = await make_app(project)
    app_id = to_base64("App", web.id)
    async with (
        live_server(app, port=settings.port) as address,
        Client(transport=transport(address, viewer.token)) as session,
    ):
        subscription = session.subscribe(events(app=app_id))
        first = asyncio.ensure_future(anext(subscription))
        async with asyncio.timeout(5):
            while runtime.bus.subscriber_count(app_topic(web.id)) == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        saved = await save_dockerfile(gql, dev.token, web)
        assert saved["__typename"] == "SaveDockerfileSuccess"
        seen = [(await first)["releaseEvents"], *await collect_until_done(subscription)]
        await subscription.aclose()
    # The registry notifies asynchronously: await-image may or may not park first.
    flow = [(e["step"], e["state"]) for e in seen if (e["step"], e["state"]) != WAITING_IMAGE]
    assert flow == [
        (None, "running"),
        *((step, state) for step in RELEASE_PLAN for state in ("running", "succeeded")),
        (None, "succeeded"),
    ]
    # A client that saw the first two events gets exactly the rest on resuming.
    async with live_server(app) as address, Client(transport=transport(address, dev.token)) as s:
        resumed = s.subscribe(events(release=saved["release"]["id"], after=seen[1]["cursor"]))
        rest = await collect_until_done(resumed)
        await resumed.aclose()
    assert rest == seen[2:]


async def test_outsiders_cannot_follow_a_release(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    await factory.user("dev")
    outsider = await factory.user("outsider")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    async with (
        live_server(app) as address,
        Client(transport=transport(address, outsider.token)) as s,
    ):
        subscription = s.subscribe(events(app=to_base64("App", web.id)))
        with pytest.raises(TransportQueryError, match="no such app"):
            await anext(subscription)
        await subscription.aclose()


async def waiting_release(factory: Factory) -> tuple[Release, Any]:
    """A release parked in await-push for a commit no webhook will ever report."""
    dev = await factory.user("dev")
    await factory.user("viewer")
    project = await factory.project("shop", dev="developer", viewer="viewer")
    web = await make_app(project)
    version = await DockerfileVersion.create(
        app=web, number=1, content="FROM scratch\n", author="dev", message="m"
    )
    release = await Release.create(
        app=web,
        number=1,
        dockerfile_version=version,
        trigger="dockerfile",
        created_by="dev",
        commit_sha="ab" * 20,
    )
    now = datetime.now(UTC)
    await ReleaseStep.create(
        release=release, position=0, name="commit", state=StepState.SUCCEEDED, attempts=1
    )
    await ReleaseStep.create(
        release=release,
        position=1,
        name="await-push",
        state=StepState.WAITING,
        attempts=1,
        started_at=now,
        deadline=now + timedelta(hours=1),
    )
    return release, dev


CANCEL = "mutation($id: ID!) { cancelRelease(input: {id: $id}) { __typename ... on ReleaseSuccess { release { status steps { name state } } } ... on Error { message } } }"
RETRY = "mutation($id: ID!) { retryRelease(input: {id: $id}) { __typename ... on ReleaseSuccess { release { status steps { name state } } } ... on Error { message } } }"


async def test_cancel_stops_a_release_and_retry_runs_it_again_from_the_open_step(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    release, dev = await waiting_release(factory)
    release_id = to_base64("Release", release.id)
    early_retry = (await gql(RETRY, {"id": release_id}, token=dev.token))["retryRelease"]
    assert early_retry["__typename"] == "Conflict"

    cancelled = (await gql(CANCEL, {"id": release_id}, token=dev.token))["cancelRelease"]
    assert cancelled["release"]["status"] == "CANCELLED"
    assert [s["state"] for s in cancelled["release"]["steps"]] == ["SUCCEEDED", "CANCELLED"]
    again = (await gql(CANCEL, {"id": release_id}, token=dev.token))["cancelRelease"]
    assert again["__typename"] == "Conflict"

    retried = (await gql(RETRY, {"id": release_id}, token=dev.token))["retryRelease"]
    assert retried["release"]["status"] == "RUNNING"
    assert retried["release"]["steps"][0]["state"] == "SUCCEEDED"  # not redone
    async with asyncio.timeout(5):
        while (  # noqa: ASYNC110 - polling the database
            await ReleaseStep.get(release_id=release.id, position=1)
        ).state != StepState.WAITING:
            await asyncio.sleep(0.05)
    assert (await Release.get(id=release.id)).status is ReleaseStatus.RUNNING
