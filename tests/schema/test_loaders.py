"""DataLoaders: a list costs the same queries for any page size (projects with their
members; releases with their steps, app and Dockerfile version; apps with their live
release)."""

from __future__ import annotations

from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.pipeline.models import Release, ReleaseStep
from home_idp.server.rbac.models import Project
from tests.factories import Factory, project_gid
from tests.graphql import GraphQLClient
from tests.querycount import count_queries

QUERY = """query($first: Int!) {
  projects(first: $first) {
    edges { node { name members { edges { node { user { username } role { name } } } } } }
  }
}"""


async def test_query_count_does_not_grow_with_the_page_size(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    alice = await factory.user("alice")
    for index in range(5):
        await factory.user(f"user{index}")
    for index in range(20):
        await factory.project(f"p{index}", alice="maintainer", **{f"user{index % 5}": "viewer"})

    counts = {}
    for first in (2, 20):
        for caller in (admin, alice):
            with count_queries() as counter:
                result = await gql(QUERY, {"first": first}, token=caller.token)
            assert len(result["projects"]["edges"]) == first
            members = result["projects"]["edges"][0]["node"]["members"]["edges"]
            assert {m["node"]["role"]["name"] for m in members} == {"maintainer", "viewer"}
            counts[(first, caller.user.username)] = counter.count
    assert counts[(2, "root")] == counts[(20, "root")]
    assert counts[(2, "alice")] == counts[(20, "alice")]
    # Bounded by a small constant: auth, projects, members, users, roles (+ rules).
    assert 3 <= counts[(20, "alice")] <= 8, counts


RELEASE_HOPS = """fragment Hops on Release {
  number steps { name } app { name } dockerfileVersion { number }
}"""

RELEASES_QUERY = (
    """query($project: ID!, $first: Int!) {
  apps(project: $project, first: 1) {
    edges { node { releases(first: $first) { edges { node { ...Hops } } } } }
  }
}
"""
    + RELEASE_HOPS
)

LIVE_RELEASES_QUERY = (
    """query($project: ID!, $first: Int!) {
  apps(project: $project, first: $first) { edges { node { name liveRelease { ...Hops } } } }
}
"""
    + RELEASE_HOPS
)


async def _app_with_releases(project: Project, name: str, releases: int) -> App:
    """An app with a Dockerfile version and `releases` releases of three steps each;
    the newest is live."""
    app = await App.create(project=project, name=name, source_repo="https://example.com/a.git")
    version = await DockerfileVersion.create(
        app=app, number=1, content="FROM scratch\n", author="alice", message="first"
    )
    for number in range(1, releases + 1):
        release = await Release.create(
            app=app, number=number, dockerfile_version=version, trigger="save", created_by="alice"
        )
        for position, step in enumerate(("commit", "build", "deploy")):
            await ReleaseStep.create(release=release, position=position, name=step)
    app.live_release_id = release.id
    await app.save()
    return app


async def test_a_page_of_releases_costs_the_same_queries_for_any_page_size(
    gql: GraphQLClient, factory: Factory
) -> None:
    """Release.steps, Release.app and Release.dockerfileVersion go through loaders."""
    alice = await factory.user("alice")
    project = await factory.project("shop", alice="developer")
    await _app_with_releases(project, "web", releases=12)

    counts = {}
    for first in (2, 12):
        with count_queries() as counter:
            result = await gql(
                RELEASES_QUERY, {"project": project_gid(project), "first": first}, alice.token
            )
        releases = result["apps"]["edges"][0]["node"]["releases"]["edges"]
        assert len(releases) == first
        newest = releases[0]["node"]
        assert newest["number"] == 12
        assert [step["name"] for step in newest["steps"]] == ["commit", "build", "deploy"]
        assert newest["app"] == {"name": "web"}
        assert newest["dockerfileVersion"] == {"number": 1}
        counts[first] = counter.count
    assert counts[2] == counts[12], counts


async def test_the_live_releases_of_a_page_of_apps_cost_the_same_queries_for_any_page_size(
    gql: GraphQLClient, factory: Factory
) -> None:
    """App.liveRelease (and the release's own hops) go through loaders."""
    alice = await factory.user("alice")
    project = await factory.project("shop", alice="developer")
    for index in range(12):
        await _app_with_releases(project, f"app{index}", releases=2)

    counts = {}
    for first in (2, 12):
        with count_queries() as counter:
            result = await gql(
                LIVE_RELEASES_QUERY, {"project": project_gid(project), "first": first}, alice.token
            )
        apps = result["apps"]["edges"]
        assert len(apps) == first
        for edge in apps:
            live = edge["node"]["liveRelease"]
            assert live["number"] == 2
            assert live["app"] == {"name": edge["node"]["name"]}
            assert len(live["steps"]) == 3
        counts[first] = counter.count
    assert counts[2] == counts[12], counts
