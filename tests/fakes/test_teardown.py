"""Deleting apps and projects on the fakes: what runs stops, the app's folder leaves the
platform repo in one commit, the rows go last, and a failed teardown can be finished."""

from __future__ import annotations

from typing import Any

from strawberry.relay import from_base64, to_base64

from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.deploy.teardown import app_files
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.rbac.models import AuditEvent, Project
from tests.deploy.flow import wait_for_release
from tests.factories import Factory, Person
from tests.fakes.server import FakeServer
from tests.graphql import GraphQLClient

DOCKERFILE = 'FROM busybox\nCMD ["/app/run"]\n'
SAVE = """
mutation($input: SaveDockerfileInput!) {
  saveDockerfile(input: $input) {
    __typename
    ... on SaveDockerfileSuccess { release { id } }
    ... on Error { message }
  }
}
"""
DELETE_APP = """
mutation($input: DeleteAppInput!) {
  deleteApp(input: $input) {
    __typename
    ... on DeleteAppSuccess { deletedName }
    ... on Error { message }
  }
}
"""
DELETE_PROJECT = """
mutation($input: DeleteProjectInput!) {
  deleteProject(input: $input) {
    __typename
    ... on DeleteProjectSuccess { deletedName deletedApps }
    ... on Error { message }
  }
}
"""


async def released_app(
    server: FakeServer, gql: GraphQLClient, dev: Person, project: Project, name: str
) -> App:
    """An app of `project` whose first release runs on the fake deployer."""
    app = await App.create(project=project, name=name, source_repo="http://127.0.0.1:9/x.git")
    saved = await gql(
        SAVE,
        {"input": {"app": to_base64("App", app.id), "content": DOCKERFILE, "message": "v1"}},
        token=dev.token,
    )
    payload = saved["saveDockerfile"]
    assert payload["__typename"] == "SaveDockerfileSuccess", payload
    release = await wait_for_release(int(from_base64(payload["release"]["id"])[1]), 20)
    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    return app


async def running(server: FakeServer, project: str) -> list[str]:
    return sorted(app.app for app in await server.plugins.deployer.list_running(project))


async def files_in_repo(server: FakeServer, project: str, app: str) -> list[str]:
    git = server.plugins.git
    head = await git.head()
    assert head is not None
    return [path for path in app_files(project, app) if await git.read_file(path, head)]


def parent_of(server: FakeServer, sha: str | None) -> str | None:
    assert sha is not None
    return server.plugins.git._commits[sha].parent


async def delete_app(gql: GraphQLClient, person: Person, app: App) -> dict[str, Any]:
    answer = await gql(DELETE_APP, {"input": {"id": to_base64("App", app.id)}}, token=person.token)
    result: dict[str, Any] = answer["deleteApp"]
    return result


async def test_deleting_an_app_undeploys_it_and_removes_its_folder_in_one_commit(
    server: FakeServer,
) -> None:
    factory = Factory(server.runtime)
    dev = await factory.user("dev")
    project = await factory.project("tear", dev="maintainer")
    gql = GraphQLClient(server.http)
    web = await released_app(server, gql, dev, project, "web")
    api = await released_app(server, gql, dev, project, "api")
    assert await running(server, "tear") == ["api", "web"]
    assert "tear/apps/web/manifests/deployment.yaml" in " ".join(
        await files_in_repo(server, "tear", "web")
    )
    before = await server.plugins.git.head()

    result = await delete_app(gql, dev, web)

    assert result == {"__typename": "DeleteAppSuccess", "deletedName": "web"}, result
    assert await running(server, "tear") == ["api"]
    after = await server.plugins.git.head()
    assert after != before and parent_of(server, after) == before  # one commit
    assert await files_in_repo(server, "tear", "web") == []
    assert await files_in_repo(server, "tear", "api") != []  # the other app keeps its own
    assert not await App.exists(id=web.id)
    assert not await Release.exists(app_id=web.id)
    assert not await DockerfileVersion.exists(app_id=web.id)
    assert await App.exists(id=api.id)
    event = await AuditEvent.get(action="app.delete", target="app:tear/web")
    assert event.actor == "dev"


async def test_an_app_with_a_running_release_is_not_deleted(server: FakeServer) -> None:
    factory = Factory(server.runtime)
    dev = await factory.user("dev")
    project = await factory.project("busy", dev="maintainer")
    gql = GraphQLClient(server.http)
    web = await App.create(project=project, name="web", source_repo="http://127.0.0.1:9/x.git")
    async with server.plugins.git.commits_held():
        saved = await gql(
            SAVE,
            {"input": {"app": to_base64("App", web.id), "content": DOCKERFILE, "message": "v1"}},
            token=dev.token,
        )
        release_id = int(from_base64(saved["saveDockerfile"]["release"]["id"])[1])

        result = await delete_app(gql, dev, web)

        assert result["__typename"] == "Conflict", result
        assert "web #1" in result["message"] and "cancel" in result["message"]
        assert await App.exists(id=web.id)
    await wait_for_release(release_id, 20)


async def test_a_failed_undeploy_keeps_the_app_and_deleting_again_finishes(
    server: FakeServer,
) -> None:
    factory = Factory(server.runtime)
    dev = await factory.user("dev")
    project = await factory.project("flaky", dev="maintainer")
    gql = GraphQLClient(server.http)
    web = await released_app(server, gql, dev, project, "web")
    server.plugins.deployer.fail_undeploy("flaky", "web", "the container engine is away")

    failed = await delete_app(gql, dev, web)

    assert failed["__typename"] == "Conflict", failed
    assert "the container engine is away" in failed["message"]
    assert "delete it again" in failed["message"]
    # Still listed while it still runs: nothing is left running unseen.
    assert await running(server, "flaky") == ["web"]
    assert await App.exists(id=web.id)
    assert not await AuditEvent.exists(action="app.delete", target="app:flaky/web")
    head = await server.plugins.git.head()

    again = await delete_app(gql, dev, web)

    assert again["__typename"] == "DeleteAppSuccess", again
    assert await running(server, "flaky") == []
    assert not await App.exists(id=web.id)
    # The folder went the first time; the second makes no commit.
    assert await server.plugins.git.head() == head
    assert await files_in_repo(server, "flaky", "web") == []


async def test_a_viewer_cannot_delete_an_app(server: FakeServer) -> None:
    factory = Factory(server.runtime)
    dev = await factory.user("dev")
    viewer = await factory.user("vic")
    project = await factory.project("seen", dev="developer", vic="viewer")
    gql = GraphQLClient(server.http)
    web = await released_app(server, gql, dev, project, "web")
    head = await server.plugins.git.head()

    result = await delete_app(gql, viewer, web)

    assert result["__typename"] == "PermissionDenied", result
    assert await running(server, "seen") == ["web"]
    assert await server.plugins.git.head() == head
    assert await App.exists(id=web.id)


async def test_a_project_with_apps_is_deleted_only_with_them(server: FakeServer) -> None:
    factory = Factory(server.runtime)
    owner = await factory.user("owner")
    project = await factory.project("whole", owner="maintainer")
    gql = GraphQLClient(server.http)
    await released_app(server, gql, owner, project, "web")
    await released_app(server, gql, owner, project, "api")
    project_id = to_base64("Project", project.id)

    refused = await gql(DELETE_PROJECT, {"input": {"id": project_id}}, token=owner.token)

    result = refused["deleteProject"]
    assert result["__typename"] == "Conflict", result
    assert "api, web" in result["message"]
    assert await Project.exists(id=project.id)
    assert await running(server, "whole") == ["api", "web"]

    deleted = await gql(
        DELETE_PROJECT, {"input": {"id": project_id, "deleteApps": True}}, token=owner.token
    )

    assert deleted["deleteProject"] == {
        "__typename": "DeleteProjectSuccess",
        "deletedName": "whole",
        "deletedApps": ["api", "web"],
    }
    assert await running(server, "whole") == []
    for app in ("api", "web"):
        assert await files_in_repo(server, "whole", app) == []
        assert await AuditEvent.exists(action="app.delete", target=f"app:whole/{app}")
    assert not await Project.exists(id=project.id)
    assert not await App.exists(project_id=project.id)
    assert await AuditEvent.exists(action="project.delete", target="project:whole")


async def test_a_project_without_apps_is_deleted_as_before(server: FakeServer) -> None:
    factory = Factory(server.runtime)
    owner = await factory.user("owner")
    project = await factory.project("empty", owner="maintainer")
    gql = GraphQLClient(server.http)

    deleted = await gql(
        DELETE_PROJECT, {"input": {"id": to_base64("Project", project.id)}}, token=owner.token
    )

    assert deleted["deleteProject"]["deletedApps"] == [], deleted
    assert not await Project.exists(id=project.id)
