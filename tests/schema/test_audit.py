"""The audit log: recorded for every mutation, filtered, and followed live."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gql import Client
from gql import gql as parse
from gql.transport.exceptions import TransportConnectionFailed
from gql.transport.websockets import WebsocketsTransport
from starlette.applications import Starlette
from strawberry.types import ExecutionResult

from home_idp.schema.core.context import Context
from home_idp.schema.schema import build_schema
from home_idp.server.runtime import Runtime
from tests.factories import Factory
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

EVENTS = """query($filter: AuditEventFilter) {
  auditEvents(first: 50, filter: $filter) {
    totalCount edges { node { actor action target project outcome cursor } }
  }
}"""


def target(result: ExecutionResult) -> Any:
    """The target of the audit event a subscription `result` carries."""
    assert result.data is not None
    return result.data["auditEvents"]["target"]


async def test_mutations_are_recorded_and_filterable(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.user("root", admin=True)
    alice = await factory.user("alice")
    await gql('mutation { createProject(input: {name: "web"}) { __typename } }', token=alice.token)
    await gql('mutation { createProject(input: {name: "api"}) { __typename } }', token=admin.token)
    await gql(
        'mutation { createRole(input: {name: "x", policies: []}) { __typename } }',
        token=alice.token,
    )

    everything = (await gql(EVENTS, token=admin.token))["auditEvents"]
    actions = [
        (e["node"]["actor"], e["node"]["action"], e["node"]["outcome"]) for e in everything["edges"]
    ]
    # Newest first; the refused role creation is recorded as denied.
    assert actions == [
        ("alice", "role.create", "denied"),
        ("root", "project.create", "ok"),
        ("alice", "project.create", "ok"),
    ]
    by_alice = await gql(EVENTS, {"filter": {"actor": "alice", "outcome": "ok"}}, token=admin.token)
    assert [e["node"]["target"] for e in by_alice["auditEvents"]["edges"]] == ["project:web"]
    by_prefix = await gql(EVENTS, {"filter": {"action": "project."}}, token=admin.token)
    assert by_prefix["auditEvents"]["totalCount"] == 2
    by_project = await gql(EVENTS, {"filter": {"project": "api"}}, token=admin.token)
    assert by_project["auditEvents"]["totalCount"] == 1


async def test_only_admins_read_the_audit_log(gql: GraphQLClient, factory: Factory) -> None:
    alice = await factory.user("alice")
    result = await gql(EVENTS, token=alice.token)
    assert result.error_messages == ["only administrators may do this"]


async def test_the_subscription_replays_from_a_cursor_then_goes_live(
    runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    admin = await factory.user("root", admin=True)
    for name in ("one", "two", "three"):
        await gql(
            f'mutation {{ createProject(input: {{name: "{name}"}}) {{ __typename }} }}',
            token=admin.token,
        )
    first_cursor = (await gql(EVENTS, {"filter": {"target": "project:one"}}, token=admin.token))[
        "auditEvents"
    ]["edges"][0]["node"]["cursor"]

    schema = build_schema()
    context = Context(runtime=runtime, principal=admin_principal(runtime, admin))
    stream = await schema.subscribe(
        "subscription($after: String) { auditEvents(after: $after) { target } }",
        variable_values={"after": first_cursor},
        context_value=context,
    )
    assert not hasattr(stream, "errors"), stream
    received = [await anext(stream) for _ in range(2)]
    assert [target(r) for r in received] == ["project:two", "project:three"]
    await gql('mutation { createProject(input: {name: "four"}) { __typename } }', token=admin.token)
    live = await asyncio.wait_for(anext(stream), 5)
    assert target(live) == "project:four"
    await stream.aclose()


async def wait_for_subscriber(runtime: Runtime) -> None:
    async with asyncio.timeout(5):
        while runtime.bus.subscriber_count("audit") == 0:  # noqa: ASYNC110 - polling a counter
            await asyncio.sleep(0.01)


def admin_principal(runtime: Runtime, person: Any) -> Any:
    from home_idp.server.rbac import Principal

    return Principal(person.user.id, person.user.username, is_admin=True)


async def test_subscriptions_over_a_real_websocket(
    app: Starlette, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    admin = await factory.user("root", admin=True)
    async with live_server(app) as address:
        transport = WebsocketsTransport(
            url=f"ws://{address}/graphql",
            init_payload={"Authorization": f"Bearer {admin.token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=transport) as session:
            subscription = session.subscribe(
                parse("subscription { auditEvents { actor action target } }")
            )
            first = asyncio.ensure_future(anext(subscription))
            await wait_for_subscriber(runtime)
            await gql(
                'mutation { createProject(input: {name: "live"}) { __typename } }',
                token=admin.token,
            )
            event = await asyncio.wait_for(first, 5)
            assert event["auditEvents"] == {
                "actor": "root",
                "action": "project.create",
                "target": "project:live",
            }
            await subscription.aclose()
        assert transport.subprotocol == "graphql-transport-ws"


async def test_a_websocket_with_a_bad_token_is_rejected(app: Starlette) -> None:
    async with live_server(app) as address:
        transport = WebsocketsTransport(
            url=f"ws://{address}/graphql",
            init_payload={"Authorization": "Bearer not-a-token"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        with pytest.raises(TransportConnectionFailed) as raised:
            async with Client(transport=transport) as session:
                await session.execute(parse("{ me { username } }"))
        assert "4403" in str(raised.value.__cause__)


async def test_anonymous_websocket_subscriptions_are_denied(app: Starlette) -> None:
    async with live_server(app) as address:
        transport = WebsocketsTransport(
            url=f"ws://{address}/graphql",
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=transport) as session:
            with pytest.raises(Exception, match="only administrators"):
                async for _ in session.subscribe(parse("subscription { auditEvents { target } }")):
                    pass
