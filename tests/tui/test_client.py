"""The dashboard's client against the real server: typed errors, and subscriptions
that resume after a dropped connection without losing or repeating events."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest
from starlette.applications import Starlette

from home_idp.server.rbac.keys import load_signing_key
from home_idp.server.rbac.tokens import JwtCodec
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from home_idp.tui.client import Gateway
from home_idp.tui.errors import ActionFailed, NotAuthenticated, RequestFailed, ServerUnreachable
from home_idp.tui.results import ADMIN_AUDIT_FEED, ADMIN_USERS, CREATE_PROJECT, ME, AuditEvent
from home_idp.tui.session import Session
from tests.factories import PASSWORD, Factory
from tests.graphql import GraphQLClient
from tests.liveserver import free_port, live_server
from tests.schema.test_audit import wait_for_subscriber

CREATE = "mutation($n: String!) { createProject(input: {name: $n}) { __typename } }"


async def test_a_subscription_resumes_after_the_server_comes_back(
    app: Starlette, settings: Settings, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    admin = await factory.user("root", admin=True)
    connection: list[bool] = []
    gateway = Gateway(
        f"http://127.0.0.1:{settings.port}",
        Session("", "root", admin.token, "", float("inf")),
        on_connection=connection.append,
    )
    seen: list[AuditEvent] = []

    async def follow() -> None:
        async for event in gateway.subscribe(ADMIN_AUDIT_FEED, retry_seconds=0.1):
            seen.append(event)

    async def create(name: str) -> None:
        # Through the app in-process: it works while the socket server is down.
        await gql(CREATE, {"n": name}, token=admin.token)

    async def until(count: int) -> None:
        async with asyncio.timeout(20):
            while len(seen) < count:  # noqa: ASYNC110 - the consumer appends
                await asyncio.sleep(0.02)

    async with live_server(app, port=settings.port):
        follower = asyncio.create_task(follow())
        await wait_for_subscriber(runtime)
        await create("before")
        await until(1)
    # The server is gone: the client notices and keeps retrying meanwhile.
    async with asyncio.timeout(10):
        while False not in connection:  # noqa: ASYNC110 - the client reports it
            await asyncio.sleep(0.02)
    await create("while-away-1")
    await create("while-away-2")
    async with live_server(app, port=settings.port):
        await until(3)
        await create("after")
        await until(4)
        assert connection[-1] is True  # back online
        follower.cancel()
    await gateway.aclose()
    targets = [event["target"] for event in seen]
    assert targets == [
        "project:before",
        "project:while-away-1",
        "project:while-away-2",
        "project:after",
    ]


async def test_typed_errors_for_what_can_go_wrong(server_url: str, factory: Factory) -> None:
    await factory.user("dev")
    gateway = Gateway(server_url)
    session = await gateway.login("dev", PASSWORD)
    assert session.username == "dev" and session.refresh_token

    with pytest.raises(ActionFailed) as invalid:
        await gateway.mutate(CREATE_PROJECT, input={"name": "Bad Name!"})
    assert invalid.value.typename == "ValidationError"
    assert [e.field for e in invalid.value.field_errors] == ["name"]

    # An admin-only query: the server's permission message, as a typed error.
    with pytest.raises(RequestFailed, match="administrators"):
        await gateway.execute(ADMIN_USERS, status=None)

    await gateway.logout()
    with pytest.raises(RequestFailed, match="log in"):
        await gateway.execute(ME)
    await gateway.aclose()


async def test_a_server_that_is_not_there_is_unreachable_not_a_crash() -> None:
    gateway = Gateway(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(ServerUnreachable):
        await gateway.execute(ME)
    assert gateway.online is False
    await gateway.aclose()


async def test_a_websocket_with_a_dead_token_and_no_refresh_token_ends_the_session(
    server_url: str,
) -> None:
    gateway = Gateway(server_url, Session(server_url, "x", "not-a-token", "", float("inf")))
    with pytest.raises(NotAuthenticated):
        async for _event in gateway.subscribe(ADMIN_AUDIT_FEED):
            pass
    await gateway.aclose()


async def _follow_audit_while(
    gateway: Gateway,
    runtime: Runtime,
    gql: GraphQLClient,
    token: str,
    between: Callable[[], Awaitable[None]],
) -> list[str]:
    """Follow the audit log; create a project before and after `between`; the targets seen."""
    seen: list[str] = []

    async def follow() -> None:
        async for event in gateway.subscribe(ADMIN_AUDIT_FEED, retry_seconds=0.1):
            if event["target"].startswith("project:"):  # not the renewals' own events
                seen.append(event["target"])

    async def until(count: int) -> None:
        async with asyncio.timeout(20):
            while len(seen) < count:  # noqa: ASYNC110 - the consumer appends
                await asyncio.sleep(0.02)

    follower = asyncio.create_task(follow())
    await wait_for_subscriber(runtime)
    await gql(CREATE, {"n": "before"}, token=token)
    await until(1)
    await between()
    await gql(CREATE, {"n": "meanwhile"}, token=token)
    await until(2)
    await wait_for_subscriber(runtime)
    await gql(CREATE, {"n": "after"}, token=token)
    await until(3)
    follower.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await follower
    return seen


async def test_a_subscription_whose_token_expires_renews_it_and_resumes(
    server_url: str, settings: Settings, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    root = await factory.user("root", admin=True)
    gateway = Gateway(server_url)
    session = await gateway.login("root", PASSWORD)
    # A token that dies in two seconds, which the client does not know:
    # the server closes the socket when it expires (4403).
    short_lived = JwtCodec(load_signing_key(settings), access_ttl=2, refresh_ttl=60).issue(
        root.user.id, root.user.token_version, "access"
    )
    gateway.session = replace(session, access_token=short_lived, expires_at=math.inf)

    async def until_renewed() -> None:
        async with asyncio.timeout(20):
            while gateway.session is None or gateway.session.access_token == short_lived:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    targets = await _follow_audit_while(gateway, runtime, gql, root.token, until_renewed)
    await gateway.aclose()
    assert targets == ["project:before", "project:meanwhile", "project:after"]


async def test_a_subscription_renews_its_token_before_it_expires(
    server_url: str, runtime: Runtime, factory: Factory, gql: GraphQLClient
) -> None:
    root = await factory.user("root", admin=True)
    gateway = Gateway(server_url)
    session = await gateway.login("root", PASSWORD)
    # Due for renewal in two seconds (thirty before it expires).
    gateway.session = replace(session, expires_at=time.time() + 32)

    async def until_renewed() -> None:
        async with asyncio.timeout(20):
            while gateway.session is None or gateway.session.access_token == session.access_token:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    targets = await _follow_audit_while(gateway, runtime, gql, root.token, until_renewed)
    await gateway.aclose()
    assert targets == ["project:before", "project:meanwhile", "project:after"]
