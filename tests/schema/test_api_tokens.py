"""API tokens: shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from home_idp.server.rbac.models import ApiToken, Project
from tests.factories import Factory
from tests.graphql import GraphQLClient

CREATE = """mutation($name: String!, $scopes: [String!], $days: Int) {
  createApiToken(input: {name: $name, scopes: $scopes, expiresInDays: $days}) {
    __typename
    ... on CreateApiTokenSuccess { token apiToken { id name prefix scopes expiresAt } }
    ... on ValidationError { fieldErrors { field } }
    ... on Error { message }
  }
}"""
CREATE_PROJECT = 'mutation { createProject(input: {name: "web"}) { __typename } }'


async def test_the_secret_is_shown_once_and_only_its_hash_is_kept(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    created = (await gql(CREATE, {"name": "ci"}, token=alice.token))["createApiToken"]
    secret = created["token"]
    assert created["__typename"] == "CreateApiTokenSuccess"
    assert secret.startswith("hidp_")
    stored = await ApiToken.get(name="ci")
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(await ApiToken.all().values())
    listed = await gql("{ apiTokens { edges { node { name prefix scopes } } } }", token=alice.token)
    assert listed["apiTokens"]["edges"] == [
        {"node": {"name": "ci", "prefix": secret[:9], "scopes": ["read", "write"]}}
    ]
    assert "token" not in str(listed.response.text).replace('"apiTokens"', "")
    # The token works as a bearer credential.
    assert (await gql("{ me { username } }", token=secret))["me"]["username"] == "alice"


async def test_a_read_only_token_cannot_change_anything(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    secret = (await gql(CREATE, {"name": "ro", "scopes": ["read"]}, token=alice.token))[
        "createApiToken"
    ]["token"]
    assert (await gql("{ projects { totalCount } }", token=secret))["projects"]["totalCount"] == 0
    answer = (await gql(CREATE_PROJECT, token=secret))["createProject"]
    assert answer["__typename"] == "PermissionDenied"
    assert await Project.all().count() == 0


async def test_revoked_and_expired_tokens_stop_working(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    created = (await gql(CREATE, {"name": "ci"}, token=alice.token))["createApiToken"]
    revoke = "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { __typename } }"
    answer = await gql(revoke, {"id": created["apiToken"]["id"]}, token=alice.token)
    assert answer["revokeApiToken"]["__typename"] == "RevokeApiTokenSuccess"
    assert (await gql("{ me { username } }", token=created["token"])).status == 401
    again = await gql(revoke, {"id": created["apiToken"]["id"]}, token=alice.token)
    assert again["revokeApiToken"]["__typename"] == "Conflict"

    expiring = (await gql(CREATE, {"name": "short", "days": 1}, token=alice.token))[
        "createApiToken"
    ]
    await ApiToken.filter(name="short").update(expires_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert (await gql("{ me { username } }", token=expiring["token"])).status == 401


async def test_nobody_else_can_revoke_or_see_my_tokens(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    mallory = await factory.user("mallory")
    created = (await gql(CREATE, {"name": "ci"}, token=alice.token))["createApiToken"]
    answer = await gql(
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { __typename } }",
        {"id": created["apiToken"]["id"]},
        token=mallory.token,
    )
    assert answer["revokeApiToken"]["__typename"] == "NotFound"
    node = await gql(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": created["apiToken"]["id"]},
        token=mallory.token,
    )
    assert node["node"] is None
    assert (await ApiToken.get(name="ci")).revoked_at is None


async def test_bad_token_requests_are_refused(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "ci", "scopes": ["admin"]}, "scopes"),
        ({"name": "ci", "scopes": []}, "scopes"),
        ({"name": "ci", "days": 0}, "expiresInDays"),
    ]
    for variables, field in cases:
        answer = (await gql(CREATE, variables, token=alice.token))["createApiToken"]
        assert answer["__typename"] == "ValidationError", variables
        assert answer["fieldErrors"][0]["field"] == field
    assert await ApiToken.all().count() == 0
    await gql(CREATE, {"name": "ci"}, token=alice.token)
    duplicate = (await gql(CREATE, {"name": "ci"}, token=alice.token))["createApiToken"]
    assert duplicate["__typename"] == "Conflict"


async def test_an_api_token_cannot_mint_more_tokens(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    secret = (await gql(CREATE, {"name": "ci"}, token=alice.token))["createApiToken"]["token"]
    answer = (await gql(CREATE, {"name": "more"}, token=secret))["createApiToken"]
    assert answer["__typename"] == "ValidationError"
    assert await ApiToken.all().count() == 1
