"""Custom roles: policies that parse, deny that wins, built-ins that stay fixed."""

from __future__ import annotations

from typing import Any

from strawberry.relay import to_base64

from home_idp.server.rbac.models import Policy, Role
from tests.factories import Factory, project_gid
from tests.graphql import GraphQLClient

CREATE_ROLE = """mutation($name: String!, $policies: [PolicyInput!]!) {
  createRole(input: {name: $name, description: "custom", policies: $policies}) {
    __typename
    ... on RoleSuccess { role { id name builtin policies { effect resource action projectPattern } } }
    ... on ValidationError { fieldErrors { field message } }
    ... on Error { message }
  }
}"""


def policy(effect: str, resource: str, action: str, pattern: str = "*") -> dict[str, str]:
    return {"effect": effect, "resource": resource, "action": action, "projectPattern": pattern}


async def test_builtin_roles_are_listed_with_their_rights(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    roles = (
        await gql(
            "{ roles { edges { node { name builtin policies { effect resource action } } } } }",
            token=alice.token,
        )
    )["roles"]
    by_name = {edge["node"]["name"]: edge["node"] for edge in roles["edges"]}
    assert set(by_name) == {"admin", "maintainer", "developer", "viewer"}
    assert by_name["viewer"]["policies"] == [{"effect": "allow", "resource": "*", "action": "read"}]
    assert all(node["builtin"] for node in by_name.values())


async def test_a_custom_role_grants_only_what_it_says(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    alice = await factory.user("alice")
    await factory.user("bob")
    created = (
        await gql(
            CREATE_ROLE,
            {
                "name": "member-manager",
                "policies": [
                    policy("allow", "*", "read"),
                    policy("allow", "member", "*"),
                    policy("deny", "member", "delete", "prod-*"),
                ],
            },
            token=admin.token,
        )
    )["createRole"]
    assert created["__typename"] == "RoleSuccess"
    staging = await factory.project("staging", alice="member-manager")
    prod = await factory.project("prod-web", alice="member-manager")
    await factory.project("other")

    async def member_change(name: str, project: Any, extra: str = ', role: "viewer"') -> str:
        query = f"""mutation($p: ID!) {{ {name}(input: {{projectId: $p, username: "bob"{extra}}}) {{ __typename }} }}"""
        result: str = (await gql(query, {"p": project_gid(project)}, token=alice.token))[name][
            "__typename"
        ]
        return result

    assert await member_change("addProjectMember", staging) == "MemberSuccess"
    assert await member_change("addProjectMember", prod) == "MemberSuccess"
    assert await member_change("removeProjectMember", staging, "") == "RemoveMemberSuccess"
    # The deny on prod-* wins over the allow on member:*.
    assert await member_change("removeProjectMember", prod, "") == "PermissionDenied"
    update = await gql(
        'mutation($id: ID!) { updateProject(input: {id: $id, description: "x"}) { __typename } }',
        {"id": project_gid(staging)},
        token=alice.token,
    )
    assert update["updateProject"]["__typename"] == "PermissionDenied"


async def test_policies_that_do_not_parse_are_validation_errors(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    answer = (
        await gql(
            CREATE_ROLE,
            {
                "name": "broken",
                "policies": [
                    policy("maybe", "project", "read"),
                    policy("allow", "galaxy", "read"),
                    policy("allow", "project", "explode"),
                    policy("allow", "project", "read", "../etc"),
                ],
            },
            token=admin.token,
        )
    )["createRole"]
    assert answer["__typename"] == "ValidationError"
    assert [error["field"] for error in answer["fieldErrors"]] == [
        "policies[0].effect",
        "policies[1].resource",
        "policies[2].action",
        "policies[3].projectPattern",
    ]
    assert not await Role.exists(name="broken")
    empty = (await gql(CREATE_ROLE, {"name": "empty", "policies": []}, token=admin.token))[
        "createRole"
    ]
    assert empty["__typename"] == "ValidationError"


async def test_builtin_roles_cannot_be_changed_or_deleted(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.user("root", admin=True)
    viewer = await Role.get(name="viewer")
    before = await Policy.filter(role=viewer).count()
    gid = to_base64("Role", viewer.id)
    update = await gql(
        """mutation($id: ID!) { updateRole(input: {id: $id, policies: [{effect: "allow", resource: "*", action: "*"}]}) { __typename } }""",
        {"id": gid},
        token=admin.token,
    )
    assert update["updateRole"]["__typename"] == "ValidationError"
    delete = await gql(
        "mutation($id: ID!) { deleteRole(input: {id: $id}) { __typename } }",
        {"id": gid},
        token=admin.token,
    )
    assert delete["deleteRole"]["__typename"] == "ValidationError"
    assert await Policy.filter(role=viewer).count() == before


async def test_a_role_in_use_cannot_be_deleted(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    await factory.user("alice")
    created = (
        await gql(
            CREATE_ROLE,
            {"name": "reader", "policies": [policy("allow", "*", "read")]},
            token=admin.token,
        )
    )["createRole"]
    await factory.project("web", alice="reader")
    delete = "mutation($id: ID!) { deleteRole(input: {id: $id}) { __typename } }"
    answer = await gql(delete, {"id": created["role"]["id"]}, token=admin.token)
    assert answer["deleteRole"]["__typename"] == "Conflict"
    assert await Role.exists(name="reader")
    update = await gql(
        """mutation($id: ID!) { updateRole(input: {id: $id, policies: [{effect: "allow", resource: "project", action: "read"}]}) {
            __typename ... on RoleSuccess { role { policies { resource } } } } }""",
        {"id": created["role"]["id"]},
        token=admin.token,
    )
    assert update["updateRole"]["role"]["policies"] == [{"resource": "project"}]
