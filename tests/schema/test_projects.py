"""Projects: names, visibility, members, changes and deletion."""

from __future__ import annotations

from typing import Any

import pytest

from home_idp.server.rbac.models import Membership, Project
from tests.factories import Factory, project_gid
from tests.graphql import GraphQLClient

CREATE = """mutation($name: String!, $description: String! = "") {
  createProject(input: {name: $name, description: $description}) {
    __typename
    ... on ProjectSuccess { project { id name description myRole } }
    ... on ValidationError { fieldErrors { field message } }
    ... on Error { message }
  }
}"""
NAMES = "{ projects(first: 50) { totalCount edges { node { name } } } }"


async def test_create_makes_the_creator_maintainer(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    answer = (await gql(CREATE, {"name": "web", "description": "the site"}, token=alice.token))[
        "createProject"
    ]
    assert answer["__typename"] == "ProjectSuccess"
    assert answer["project"]["name"] == "web"
    assert answer["project"]["myRole"] == "maintainer"
    assert (await gql(NAMES, token=alice.token))["projects"]["totalCount"] == 1


@pytest.mark.parametrize(
    "name", ["../x", "Web", "web_app", "-web", "web-", "", "a" * 64, "web/app", "we b", "ünï"]
)
async def test_names_that_are_not_dns_labels_are_refused(
    gql: GraphQLClient, factory: Factory, name: str
) -> None:
    alice = await factory.user("alice")
    answer = (await gql(CREATE, {"name": name}, token=alice.token))["createProject"]
    assert answer["__typename"] == "ValidationError"
    assert answer["fieldErrors"][0]["field"] == "name"
    assert await Project.all().count() == 0


@pytest.mark.parametrize(
    "name",
    ["kube-system", "kube-anything", "default", "kube-public", "home-idp", "argocd", "harbor"],
)
async def test_names_of_the_clusters_own_namespaces_are_refused(
    gql: GraphQLClient, factory: Factory, name: str
) -> None:
    # A project's name becomes a namespace that home-idp writes to.
    alice = await factory.user("alice")
    answer = (await gql(CREATE, {"name": name}, token=alice.token))["createProject"]
    assert answer["__typename"] == "ValidationError"
    assert "namespace of the cluster or of home-idp" in answer["fieldErrors"][0]["message"]
    assert await Project.all().count() == 0


async def test_a_63_character_name_is_fine(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    answer = (await gql(CREATE, {"name": "a" * 63}, token=alice.token))["createProject"]
    assert answer["__typename"] == "ProjectSuccess"


async def test_an_existing_project_is_a_conflict(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    bob = await factory.user("bob")
    await gql(CREATE, {"name": "web"}, token=alice.token)
    answer = (await gql(CREATE, {"name": "web"}, token=bob.token))["createProject"]
    assert answer["__typename"] == "Conflict"
    assert await Membership.filter(user=bob.user).count() == 0


async def test_an_overlong_description_is_refused(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    answer = (await gql(CREATE, {"name": "web", "description": "x" * 501}, token=alice.token))[
        "createProject"
    ]
    assert answer["fieldErrors"][0]["field"] == "description"


async def test_users_see_only_their_projects_and_admins_all(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    alice = await factory.user("alice")
    bob = await factory.user("bob")
    await factory.project("web", alice="viewer")
    await factory.project("api", bob="developer")
    await factory.project("db")

    def names(result: dict[str, Any]) -> list[str]:
        return [edge["node"]["name"] for edge in result["edges"]]

    assert names((await gql(NAMES, token=alice.token))["projects"]) == ["web"]
    assert names((await gql(NAMES, token=bob.token))["projects"]) == ["api"]
    assert names((await gql(NAMES, token=admin.token))["projects"]) == ["web", "api", "db"]
    hidden = await gql('{ project(name: "api") { name } }', token=alice.token)
    assert hidden["project"] is None


async def test_pages_follow_the_cursor(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    for index in range(5):
        await factory.project(f"p{index}")
    page_query = """query($after: String) { projects(first: 2, after: $after) {
        edges { node { name } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        page = (await gql(page_query, {"after": after}, token=admin.token))["projects"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["p0", "p1", "p2", "p3", "p4"]
    too_big = await gql("{ projects(first: 1000) { totalCount } }", token=admin.token)
    assert too_big.error_messages == ["first must be between 1 and 100"]
    bad_cursor = await gql('{ projects(after: "nonsense") { totalCount } }', token=admin.token)
    assert bad_cursor.error_messages == ["invalid cursor"]


MEMBER = """mutation($project: ID!, $username: String!, $role: String!) {{
  {name}(input: {{projectId: $project, username: $username, role: $role}}) {{
    __typename
    ... on MemberSuccess {{ member {{ user {{ username }} role {{ name }} project {{ name }} }} }}
    ... on ValidationError {{ fieldErrors {{ field message }} }}
    ... on Error {{ message }}
  }}
}}"""


async def test_members_are_added_changed_and_removed(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    await factory.user("bob")
    project = await factory.project("web", alice="maintainer")
    variables = {"project": project_gid(project), "username": "bob", "role": "viewer"}
    added = (await gql(MEMBER.format(name="addProjectMember"), variables, token=alice.token))[
        "addProjectMember"
    ]
    assert added["member"] == {
        "user": {"username": "bob"},
        "role": {"name": "viewer"},
        "project": {"name": "web"},
    }
    again = (await gql(MEMBER.format(name="addProjectMember"), variables, token=alice.token))[
        "addProjectMember"
    ]
    assert again["__typename"] == "Conflict"
    changed = (
        await gql(
            MEMBER.format(name="setProjectMemberRole"),
            {**variables, "role": "developer"},
            token=alice.token,
        )
    )["setProjectMemberRole"]
    assert changed["member"]["role"]["name"] == "developer"
    removed = await gql(
        """mutation($project: ID!) { removeProjectMember(input: {projectId: $project, username: "bob"}) {
            __typename ... on RemoveMemberSuccess { removedUsername } } }""",
        {"project": project_gid(project)},
        token=alice.token,
    )
    assert removed["removeProjectMember"]["removedUsername"] == "bob"
    assert await Membership.filter(user__username="bob").count() == 0


@pytest.mark.parametrize(
    ("username", "role", "field"),
    [("ghost", "viewer", "username"), ("bob", "owner", "role"), ("bob", "admin", "role")],
)
async def test_bad_member_requests_change_nothing(
    gql: GraphQLClient, factory: Factory, username: str, role: str, field: str
) -> None:
    alice = await factory.user("alice")
    await factory.user("bob")
    project = await factory.project("web", alice="maintainer")
    answer = (
        await gql(
            MEMBER.format(name="addProjectMember"),
            {"project": project_gid(project), "username": username, "role": role},
            token=alice.token,
        )
    )["addProjectMember"]
    assert answer["__typename"] == "ValidationError"
    assert answer["fieldErrors"][0]["field"] == field
    assert await Membership.all().count() == 1


async def test_update_and_delete(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    project = await factory.project("web", alice="maintainer")
    gid = project_gid(project)
    updated = await gql(
        """mutation($id: ID!) { updateProject(input: {id: $id, description: "new words"}) {
            __typename ... on ProjectSuccess { project { description } } } }""",
        {"id": gid},
        token=alice.token,
    )
    assert updated["updateProject"]["project"]["description"] == "new words"
    deleted = await gql(
        """mutation($id: ID!) { deleteProject(input: {id: $id}) {
            __typename ... on DeleteProjectSuccess { deletedName } } }""",
        {"id": gid},
        token=alice.token,
    )
    assert deleted["deleteProject"]["deletedName"] == "web"
    assert await Project.all().count() == 0
    assert await Membership.all().count() == 0


async def test_a_non_member_cannot_find_a_project_to_change(
    gql: GraphQLClient, factory: Factory
) -> None:
    mallory = await factory.user("mallory")
    project = await factory.project("web")
    answer = await gql(
        "mutation($id: ID!) { deleteProject(input: {id: $id}) { __typename } }",
        {"id": project_gid(project)},
        token=mallory.token,
    )
    # Not even the project's existence leaks to a non-member.
    assert answer["deleteProject"]["__typename"] == "NotFound"
    assert await Project.exists(name="web")
