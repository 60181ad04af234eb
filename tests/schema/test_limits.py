"""Request limits: depth and alias bombs, token floods, huge bodies, masked errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from home_idp.server.rbac.models import Project
from tests.factories import Factory
from tests.graphql import GraphQLClient


def nested(depth: int) -> str:
    """`me { memberships { edges { node { project { members { … } } } } } }` to any depth."""
    body = "username"
    for level in range(depth):
        body = (
            f"memberships {{ edges {{ node {{ project {{ members {{ edges {{ node {{ user {{ {body} }} }} }} }} }} }} }} }}"
            if level % 2 == 0
            else body
        )
    return f"{{ me {{ {body} }} }}"


async def test_a_depth_bomb_is_refused_before_it_runs(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    result = await gql(nested(6), token=alice.token)
    assert result.data is None
    assert any("exceeds maximum operation depth" in m for m in result.error_messages)


async def test_an_alias_bomb_is_refused(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    aliases = " ".join(f"a{i}: me {{ username }}" for i in range(100))
    result = await gql(f"{{ {aliases} }}", token=alice.token)
    assert result.data is None
    assert any("aliases" in m for m in result.error_messages)


async def test_a_token_flood_is_refused(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    fields = " ".join("__typename" for _ in range(3000))
    result = await gql(f"{{ {fields} }}", token=alice.token)
    assert result.data is None
    assert result.errors


async def test_a_ten_megabyte_body_gets_413_and_changes_nothing(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    description = "x" * (10 * 1024 * 1024)
    response = await gql.http.post(
        "/graphql",
        json={
            "query": 'mutation($d: String!) { createProject(input: {name: "web", description: $d}) { __typename } }',
            "variables": {"d": description},
        },
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert response.status_code == 413
    assert await Project.all().count() == 0


async def test_a_streamed_body_without_length_is_also_capped(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "mutation { createProject(input: {name: \\"web\\", description: \\"'
        # 4 MiB, over the 3 MiB default.
        for _ in range(64):
            yield b"y" * 65536
        yield b'\\"}) { __typename } }"}'

    response = await gql.http.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert await Project.all().count() == 0


async def test_unexpected_errors_are_masked_and_logged(
    gql: GraphQLClient,
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from home_idp.server.rbac.projects import ProjectService

    async def broken(self: ProjectService) -> object:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(ProjectService, "visible", broken)
    alice = await factory.user("alice")
    with caplog.at_level(logging.ERROR):
        result = await gql("{ projects { totalCount } }", token=alice.token)
    assert result.error_messages == ["Unexpected error."]
    assert "secret internal detail" not in result.response.text
    assert "secret internal detail" in caplog.text
