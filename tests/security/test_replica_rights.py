"""Rights end on every replica: a subscription served by one server process ends
when an administrator on another takes its user's rights away."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.database import BACKEND, scratch_postgres_database
from tests.security.test_websocket_rights import AUDIT_EVENTS, SET_ADMIN, Socket, error_messages
from tests.serverprocess import ServerProcess, home_idp_env

ME = "{ me { id } }"
CREATE_PROJECT = 'mutation { createProject(input: {name: "seen"}) { __typename } }'


@pytest.mark.skipif(BACKEND != "postgres", reason="replicas share a Postgres: the Postgres pass")
async def test_a_subscription_on_one_replica_ends_when_another_demotes_its_user(
    tmp_path: Path,
) -> None:
    async with scratch_postgres_database() as database_url:
        first = ServerProcess(home_idp_env(tmp_path / "data", database_url))
        second = ServerProcess(dict(first.env))
        try:
            await asyncio.to_thread(_start, first, second)
            bob_token = await asyncio.to_thread(second.login, "bob")
            bob_id = (await asyncio.to_thread(second.graphql, ME))["me"]["id"]
            async with Socket.open(f"127.0.0.1:{second.port}", bob_token) as socket:
                following = await socket.start(AUDIT_EVENTS)
                # The subscription is live once it sees bob's own next change.
                await asyncio.to_thread(second.graphql, CREATE_PROJECT)
                await socket.receive(following)
                demoted = await asyncio.to_thread(
                    first.graphql, SET_ADMIN, {"id": bob_id, "admin": False}
                )
                assert demoted["setUserAdmin"]["__typename"] != "PermissionDenied", demoted
                # Within the socket's patience (10 s), far below the 30 s re-check:
                # the change came through Postgres NOTIFY.
                messages = await socket.until_ended(following)
        finally:
            first.kill()
            second.kill()
    # Ended with an error that says why, not quietly.
    assert messages[-1]["type"] != "complete", messages
    assert error_messages(messages[-1]), messages[-1]


def _start(first: ServerProcess, second: ServerProcess) -> None:
    first.create_admin("root")
    first.create_admin("bob")
    first.start()
    second.start()
    first.login("root")
