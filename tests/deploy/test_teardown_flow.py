"""Deleting a deployed app with real components: its podman containers are gone, it no
longer answers, and its folder left the platform repo in one commit."""

from __future__ import annotations

import asyncio
from asyncio.subprocess import PIPE

import httpx
import pytest
from starlette.applications import Starlette
from strawberry.relay import from_base64, to_base64

from home_idp.server.apps.models import App
from home_idp.server.deploy.teardown import app_files
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from tests.deploy.flow import make_app, save_dockerfile, unique_dockerfile, wait_for_release
from tests.factories import Factory
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

# Real components: the system tier.
pytestmark = pytest.mark.system

DELETE_APP = """mutation($input: DeleteAppInput!) {
  deleteApp(input: $input) { __typename ... on Error { message } }
}"""


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.TransportError:
        return False


async def test_a_deleted_app_has_no_container_left_and_no_folder_in_git(
    app: Starlette, settings: Settings, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    owner = await factory.user("owner")
    # A project of its own: other tests' shop/web containers may still run.
    project = await factory.project("gone", owner="maintainer")
    web = await make_app(project)
    deployer, git = runtime.deploy.deployer, runtime.deploy.git
    async with live_server(app, port=settings.port):
        saved = await save_dockerfile(gql, owner.token, web, unique_dockerfile())
        assert saved["__typename"] == "SaveDockerfileSuccess", saved
        release = await wait_for_release(int(from_base64(saved["release"]["id"])[1]), 120)
        assert release.status is ReleaseStatus.SUCCEEDED, release.error
        assert release.url is not None and answers(release.url)
        assert [r.app for r in await deployer.list_running("gone")] == ["web"]
        before = await git.head()

        deleted = await gql(DELETE_APP, {"input": {"id": to_base64("App", web.id)}}, owner.token)

        assert deleted["deleteApp"] == {"__typename": "DeleteAppSuccess"}, deleted
        assert await deployer.list_running("gone") == []
        assert await deployer.app_resources("gone", "web") == []
        assert not answers(release.url)
        head = await git.head()
        assert head is not None and head != before
        assert [path for path in app_files("gone", "web") if await git.read_file(path, head)] == []
        # One commit, straight on the one that still had the folder.
        assert git.local_path is not None
        rev_parse = await asyncio.create_subprocess_exec(
            "git", "-C", str(git.local_path), "rev-parse", f"{head}^", stdout=PIPE
        )
        parent, _ = await rev_parse.communicate()
        assert parent.decode().strip() == before
        assert before is not None and await git.read_file(app_files("gone", "web")[0], before)
        assert not await App.exists(id=web.id)
        assert not await Release.exists(app_id=web.id)
