"""A local app keeps one address across releases and rollbacks, and a cut-over loses
no request: requests go to the app's address all along, and every one is answered."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from strawberry.relay import from_base64, to_base64

from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.settings import Settings
from tests.deploy.flow import DOCKERFILE, make_app, save_dockerfile, wait_for_release
from tests.factories import Factory, Person
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

APP_URL = """query($id: ID!) { node(id: $id) { ... on App { url liveRelease { number url } } } }"""
ROLLBACK = """mutation($input: RollbackInput!) {
  rollback(input: $input) { __typename ... on ReleaseSuccess { release { id } } }
}"""


def version_dockerfile(version: str) -> str:
    """The test app, answering /version.txt with `version`."""
    return f"{DOCKERFILE}RUN echo {version} > /app/version.txt\n"


class Requester:
    """Asks for the app's version at its address, again and again, and keeps every answer."""

    def __init__(self, port: int, host: str) -> None:
        # Sent to the server's port with the app's name as Host: no resolver is
        # needed for `*.localhost` here (browsers and curl resolve it themselves).
        self._client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Host": host}, timeout=10
        )
        self.answers: list[str] = []
        self.failures: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                response = await self._client.get("/version.txt")
            except httpx.TransportError as error:
                self.failures.append(repr(error))
            else:
                if response.status_code == 200:
                    self.answers.append(response.text.strip())
                else:
                    self.failures.append(f"{response.status_code} {response.text[:80]}")
            await asyncio.sleep(0.02)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()

    async def until(self, version: str) -> None:
        """Wait until the address answers with `version`."""
        async with asyncio.timeout(30):
            while not self.answers or self.answers[-1] != version:  # noqa: ASYNC110
                await asyncio.sleep(0.05)


async def release(gql: GraphQLClient, dev: Person, saved: dict[str, object]) -> Release:
    assert saved["__typename"] == "SaveDockerfileSuccess", saved
    release_id = saved["release"]["id"]  # type: ignore[index]
    done = await wait_for_release(int(from_base64(release_id)[1]), seconds=120)
    assert done.status is ReleaseStatus.SUCCEEDED, done.error
    return done


@pytest.mark.system
async def test_an_app_answers_at_one_address_through_releases_and_a_rollback_without_a_miss(
    app: Starlette, settings: Settings, factory: Factory, gql: GraphQLClient
) -> None:
    dev = await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    web = await make_app(project)
    app_gid = to_base64("App", web.id)
    address = f"web.shop.localhost:{settings.port}"
    async with live_server(app, port=settings.port):
        first = await release(
            gql, dev, await save_dockerfile(gql, dev.token, web, version_dockerfile("v1"))
        )
        node = (await gql(APP_URL, {"id": app_gid}, dev.token))["node"]
        assert node["url"] == f"http://{address}"

        requester = Requester(settings.port, address)
        requester.start()
        try:
            await requester.until("v1")
            for version in ("v2", "v3"):
                saved = await save_dockerfile(gql, dev.token, web, version_dockerfile(version))
                await release(gql, dev, saved)
                await requester.until(version)
            rolled = await gql(
                ROLLBACK,
                {"input": {"app": app_gid, "release": to_base64("Release", first.id)}},
                dev.token,
            )
            assert rolled["rollback"]["__typename"] == "ReleaseSuccess", rolled
            await wait_for_release(int(from_base64(rolled["rollback"]["release"]["id"])[1]), 120)
            await requester.until("v1")
        finally:
            await requester.stop()

        assert requester.failures == []
        # Every answer came from one live release after the other, in order.
        changes = [
            v for i, v in enumerate(requester.answers) if i == 0 or requester.answers[i - 1] != v
        ]
        assert changes == ["v1", "v2", "v3", "v1"]
        node = (await gql(APP_URL, {"id": app_gid}, dev.token))["node"]
        # The live release gives the app's address too, not its own container's.
        assert node == {
            "url": f"http://{address}",
            "liveRelease": {"number": 4, "url": f"http://{address}"},
        }


async def test_an_app_without_a_live_release_says_so_at_its_address(
    app: Starlette, settings: Settings, factory: Factory
) -> None:
    project = await factory.project("shop")
    await make_app(project)
    async with live_server(app, port=settings.port), httpx.AsyncClient() as client:
        response = await client.get(
            f"http://127.0.0.1:{settings.port}/",
            headers={"Host": f"web.shop.localhost:{settings.port}"},
        )
        assert (response.status_code, response.text) == (503, "shop/web has no live release")
        # Any other name is the gateway's own.
        health = await client.get(f"http://127.0.0.1:{settings.port}/healthz")
        assert health.status_code == 200
