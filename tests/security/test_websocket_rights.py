"""A websocket carries the rights its user has now, not those they had when it connected.

Each test is one attack, made over a real websocket (graphql-transport-ws,
spoken by hand so that close codes and reasons can be seen) against the
real server, while an administrator changes the attacker's rights over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from strawberry.relay import to_base64
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from home_idp.server.apps.models import AppSecret
from home_idp.server.rbac.keys import load_signing_key
from home_idp.server.rbac.models import Project, User, UserStatus
from home_idp.server.rbac.tokens import JwtCodec
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from tests.deploy.flow import make_app
from tests.factories import PASSWORD, Factory, project_gid
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

# Long enough for a healthy server; a socket that should have ended but did
# not fails the test here instead of hanging it.
PATIENCE = 10.0

CREATE_PROJECT = """mutation($name: String!) {
  createProject(input: {name: $name}) { __typename ... on Error { message } }
}"""
SET_ADMIN = """mutation($id: ID!, $admin: Boolean!) {
  setUserAdmin(input: {userId: $id, admin: $admin}) { __typename ... on Error { message } }
}"""
DISABLE = """mutation($id: ID!) {
  disableUser(input: {userId: $id}) { __typename ... on Error { message } }
}"""
REMOVE_MEMBER = """mutation($project: ID!, $username: String!) {
  removeProjectMember(input: {projectId: $project, username: $username}) {
    __typename ... on Error { message }
  }
}"""
SET_SECRET = """mutation($app: ID!, $value: String!) {
  setAppSecret(input: {app: $app, name: "DB_PASSWORD", value: $value}) {
    __typename ... on Error { message }
  }
}"""
CREATE_API_TOKEN = """mutation {
  createApiToken(input: {name: "script"}) {
    __typename ... on CreateApiTokenSuccess { token apiToken { id } }
  }
}"""
REVOKE_API_TOKEN = """mutation($id: ID!) {
  revokeApiToken(input: {id: $id}) { __typename ... on Error { message } }
}"""
AUDIT_EVENTS = "subscription { auditEvents { action target } }"
RELEASE_EVENTS = "subscription($app: ID!) { releaseEvents(appId: $app) { state } }"


class Socket:
    """One graphql-transport-ws connection."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = 0
        self._inbox: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, address: str, token: str) -> AsyncIterator[Socket]:
        async with connect(
            f"ws://{address}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as connection:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            await connection.send(json.dumps(init))
            ack = json.loads(await asyncio.wait_for(connection.recv(), PATIENCE))
            assert ack["type"] == "connection_ack", ack
            yield cls(connection)

    async def start(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        operation = str(self._ids)
        payload = {"query": query, "variables": variables or {}}
        await self.connection.send(
            json.dumps({"id": operation, "type": "subscribe", "payload": payload})
        )
        return operation

    async def receive(self, operation: str) -> dict[str, Any]:
        """The next message of one operation (`next`, `error` or `complete`)."""
        while not self._inbox.get(operation):
            message = json.loads(await asyncio.wait_for(self.connection.recv(), PATIENCE))
            self._inbox.setdefault(message.get("id", ""), []).append(message)
        return self._inbox[operation].pop(0)

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The data of a query or mutation; it must succeed."""
        message = await self.receive(await self.start(query, variables))
        assert message["type"] == "next" and "errors" not in message["payload"], message
        assert (await self.receive(str(self._ids)))["type"] == "complete"
        return message["payload"]["data"]

    async def try_execute(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The data, or None when the server closed the socket instead of answering."""
        try:
            return await self.execute(query, variables)
        except ConnectionClosed:
            return None

    async def until_ended(self, operation: str) -> list[dict[str, Any]]:
        """Every message of a subscription up to and including its last."""
        messages = []
        while True:
            message = await self.receive(operation)
            messages.append(message)
            if message["type"] in ("error", "complete") or message["payload"].get("errors"):
                return messages

    async def close_reason(self) -> tuple[int | None, str]:
        """How the server closed the socket."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(self.connection.recv(), PATIENCE)
        received = self.connection.protocol.close_rcvd
        return (received.code, received.reason) if received else (None, "")


async def listening(runtime: Runtime, topic: str) -> None:
    """Wait until a subscription listens on `topic` (so it has started)."""
    async with asyncio.timeout(PATIENCE):
        while not runtime.bus.subscriber_count(topic):  # noqa: ASYNC110 - polling a counter
            await asyncio.sleep(0.01)


def gid(type_name: str, node_id: int) -> str:
    return to_base64(type_name, node_id)


def error_messages(message: dict[str, Any]) -> list[str]:
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    return [error["message"] for error in errors]


async def test_an_expired_token_runs_nothing_and_the_socket_closes_for_a_fresh_one(
    app: Starlette, settings: Settings, factory: Factory
) -> None:
    alice = await factory.user("alice")
    short_lived = JwtCodec(load_signing_key(settings), access_ttl=2, refresh_ttl=60)
    token = short_lived.issue(alice.user.id, alice.user.token_version, "access")
    async with live_server(app) as address, Socket.open(address, token) as socket:
        assert (await socket.execute("{ me { username } }"))["me"]["username"] == "alice"
        expires_at = int(time.time()) + 2
        while time.time() <= expires_at + 0.2:  # noqa: ASYNC110 - waiting for the token to die
            await asyncio.sleep(0.2)
        late = await socket.try_execute(CREATE_PROJECT, {"name": "late"})
        assert late is None, late
        code, reason = await socket.close_reason()
    # The close code asks the client to reconnect with a fresh token.
    assert (code, reason) == (4403, "your token has expired; reconnect with a fresh one")
    assert not await Project.exists(name="late")


async def test_a_disabled_user_can_do_nothing_more_over_an_open_socket(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    root = await factory.user("root", admin=True)
    alice = await factory.user("alice")
    async with live_server(app) as address, Socket.open(address, alice.token) as socket:
        created = await socket.execute(CREATE_PROJECT, {"name": "before"})
        assert created["createProject"]["__typename"] == "ProjectSuccess"
        disabled = await gql(DISABLE, {"id": alice.gid}, token=root.token)
        assert disabled["disableUser"]["__typename"] == "UserSuccess"
        assert await socket.try_execute(CREATE_PROJECT, {"name": "after"}) is None
        assert await socket.close_reason() == (4403, "your account is disabled")
    assert not await Project.exists(name="after")


async def test_a_demoted_admin_cannot_promote_himself_again_or_disable_the_other(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    root = await factory.user("root", admin=True)
    bob = await factory.user("bob", admin=True)
    async with live_server(app) as address, Socket.open(address, bob.token) as socket:
        assert (await socket.execute("{ me { isAdmin } }"))["me"]["isAdmin"] is True
        demoted = await gql(SET_ADMIN, {"id": bob.gid, "admin": False}, token=root.token)
        assert demoted["setUserAdmin"]["__typename"] == "UserSuccess"
        again = await socket.try_execute(SET_ADMIN, {"id": bob.gid, "admin": True})
        assert again is None, again
        code, reason = await socket.close_reason()
        assert code == 4403 and "log in again" in reason, reason
    # A fresh socket with the old token is refused, so the second step cannot run either.
    async with live_server(app) as address:
        refused: Exception | None = None
        try:
            async with Socket.open(address, bob.token) as socket:
                await socket.try_execute(DISABLE, {"id": root.gid})
        except (ConnectionClosed, AssertionError) as error:
            refused = error
        assert refused is not None
    assert not (await User.get(username="bob")).is_admin
    assert (await User.get(username="root")).status is UserStatus.ACTIVE


async def test_a_developer_removed_from_a_project_cannot_overwrite_its_secret(
    app: Starlette, factory: Factory, gql: GraphQLClient
) -> None:
    mia = await factory.user("mia")
    dev = await factory.user("dev")
    project = await factory.project("web", mia="maintainer", dev="developer")
    web = await make_app(project)
    async with live_server(app) as address, Socket.open(address, dev.token) as socket:
        first = await socket.execute(SET_SECRET, {"app": gid("App", web.id), "value": "v1"})
        assert first["setAppSecret"]["__typename"] == "AppSuccess", first
        stored = (await AppSecret.get(app_id=web.id, name="DB_PASSWORD")).ciphertext
        removed = await gql(
            REMOVE_MEMBER, {"project": project_gid(project), "username": "dev"}, token=mia.token
        )
        assert removed["removeProjectMember"]["__typename"] == "RemoveMemberSuccess", removed
        second = await socket.execute(SET_SECRET, {"app": gid("App", web.id), "value": "v2"})
        assert second["setAppSecret"]["__typename"] in ("NotFound", "PermissionDenied"), second
    assert (await AppSecret.get(app_id=web.id, name="DB_PASSWORD")).ciphertext == stored


async def test_an_audit_subscription_ends_when_its_admin_is_demoted_and_disabled(
    app: Starlette, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    root = await factory.user("root", admin=True)
    bob = await factory.user("bob", admin=True)
    async with live_server(app) as address, Socket.open(address, bob.token) as socket:
        following = await socket.start(AUDIT_EVENTS)
        await listening(runtime, "audit")
        await gql(CREATE_PROJECT, {"name": "seen"}, token=root.token)
        seen = await socket.receive(following)
        assert seen["payload"]["data"]["auditEvents"]["target"] == "project:seen", seen
        await gql(SET_ADMIN, {"id": bob.gid, "admin": False}, token=root.token)
        await gql(DISABLE, {"id": bob.gid}, token=root.token)
        await gql(CREATE_PROJECT, {"name": "secret-plans"}, token=root.token)
        messages = await socket.until_ended(following)
    targets = [
        m["payload"]["data"]["auditEvents"]["target"]
        for m in messages
        if m["type"] == "next" and m["payload"].get("data")
    ]
    assert "project:secret-plans" not in targets
    (why,) = error_messages(messages[-1])
    assert why in (
        "your session has ended (your password or rights changed); log in again",
        "your account is disabled",
    )


async def test_a_release_subscription_ends_when_its_user_leaves_the_project(
    app: Starlette, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    mia = await factory.user("mia")
    dev = await factory.user("dev")
    project = await factory.project("web", mia="maintainer", dev="developer")
    web = await make_app(project)
    async with live_server(app) as address, Socket.open(address, dev.token) as socket:
        following = await socket.start(RELEASE_EVENTS, {"app": gid("App", web.id)})
        await listening(runtime, f"app:{web.id}")
        # A query on the same socket is answered meanwhile.
        assert (await socket.execute("{ me { username } }"))["me"]["username"] == "dev"
        await gql(
            REMOVE_MEMBER, {"project": project_gid(project), "username": "dev"}, token=mia.token
        )
        messages = await socket.until_ended(following)
    assert error_messages(messages[-1]) == [
        "your rights have changed: you may not read release in project 'web'"
    ]


async def test_a_revoked_api_token_ends_its_subscription_and_its_socket(
    app: Starlette, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    mia = await factory.user("mia")
    project = await factory.project("web", mia="maintainer")
    web = await make_app(project)
    created = (await gql(CREATE_API_TOKEN, token=mia.token))["createApiToken"]
    async with live_server(app) as address, Socket.open(address, created["token"]) as socket:
        following = await socket.start(RELEASE_EVENTS, {"app": gid("App", web.id)})
        await listening(runtime, f"app:{web.id}")
        revoked = await gql(REVOKE_API_TOKEN, {"id": created["apiToken"]["id"]}, token=mia.token)
        assert revoked["revokeApiToken"]["__typename"] == "RevokeApiTokenSuccess", revoked
        messages = await socket.until_ended(following)
        assert error_messages(messages[-1]) == ["the API token was revoked"]
        assert await socket.try_execute(CREATE_PROJECT, {"name": "after"}) is None
        assert await socket.close_reason() == (4403, "the API token was revoked")
    assert not await Project.exists(name="after")


LOGIN = """mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) { ... on Tokens { accessToken refreshToken } }
}"""
LOGOUT = """mutation($r: String) {
  logout(input: {refreshToken: $r}) { __typename ... on Error { message } }
}"""


async def test_a_subscription_ends_when_its_session_is_logged_out(
    app: Starlette, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    await factory.user("mia")
    project = await factory.project("web", mia="maintainer")
    web = await make_app(project)
    tokens = (await gql(LOGIN, {"u": "mia", "p": PASSWORD}))["login"]
    async with live_server(app) as address, Socket.open(address, tokens["accessToken"]) as socket:
        following = await socket.start(RELEASE_EVENTS, {"app": gid("App", web.id)})
        await listening(runtime, f"app:{web.id}")
        # Logged out elsewhere (another terminal, or a stolen session revoked).
        ended = await gql(LOGOUT, {"r": tokens["refreshToken"]})
        assert ended["logout"]["__typename"] != "AuthenticationFailed", ended
        messages = await socket.until_ended(following)
    (why,) = error_messages(messages[-1])
    assert "session has ended" in why, why
