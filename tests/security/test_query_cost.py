"""Documents that cost the server more than their size: refused or answered at once.

`query { ...X0 } fragment X0 on Query { ...X1 ...X1 } … fragment Xn on Query { … }`
doubles what a naive validator walks per level; such a request of a kilobyte
once held the server's only event loop for good. These tests drive the real
server (`home-idp serve` in its own process) while health checks keep coming.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from home_idp.schema.core.limits import QUERY_TOO_COMPLEX
from tests.database import scratch_database
from tests.factories import Factory
from tests.graphql import GraphQLClient
from tests.serverprocess import ServerProcess, home_idp_env

# Only a hang detector: a healthy server answers each of these requests in
# milliseconds; the server before the fix did not answer n = 25 within minutes.
HANG_SECONDS = 60.0
FAMILY = range(1, 61)


def fan_out(levels: int, leaf: str = "__typename", on: str = "Query") -> str:
    """Each fragment spreads the next one twice: 2**levels copies of `leaf` once expanded."""
    fragments = [
        f"fragment X{level} on {on} {{ ...X{level + 1} ...X{level + 1} }}"
        for level in range(levels)
    ]
    fragments.append(f"fragment X{levels} on {on} {{ {leaf} }}")
    return f"query {{ ...X0 }} {' '.join(fragments)}"


def deep_fan_out(levels: int) -> str:
    """The same doubling, each level also one field deeper: `me { ...X0 }` on users."""
    fragments = [
        f"fragment X{level} on User {{ memberships {{ edges {{ node {{ user "
        f"{{ ...X{level + 1} ...X{level + 1} }} }} }} }} }}"
        for level in range(levels)
    ]
    fragments.append(f"fragment X{levels} on User {{ username }}")
    return f"query {{ me {{ ...X0 }} }} {' '.join(fragments)}"


def too_complex(body: dict[str, Any], limit: str) -> bool:
    """Whether the answer is the typed refusal for `limit`, without data."""
    codes = [
        (error.get("extensions") or {}).get("code") == QUERY_TOO_COMPLEX
        and error["extensions"]["limit"] == limit
        for error in body.get("errors") or []
    ]
    return body.get("data") is None and any(codes)


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("query-cost")
    async with scratch_database(tmp) as database_url:
        process = ServerProcess(home_idp_env(tmp / "data", database_url))
        process.create_admin()
        process.start()
        try:
            process.login()
            yield process
        finally:
            process.stop()


def bearer(server: ServerProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


async def send_with_health_checks(
    client: httpx.AsyncClient, request: httpx.Request
) -> tuple[httpx.Response, list[int]]:
    """Send `request` and, while it is in flight, ask `/healthz` until it is answered."""
    answer = asyncio.create_task(client.send(request))
    health: list[int] = []
    while True:
        health.append((await client.get("/healthz")).status_code)
        if answer.done():
            return answer.result(), health


async def test_the_fan_out_family_is_answered_and_health_checks_answer_meanwhile(
    server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=HANG_SECONDS) as client:
        for levels in FAMILY:
            request = client.build_request("POST", "/graphql", json={"query": fan_out(levels)})
            response, health = await send_with_health_checks(client, request)
            assert response.status_code == 200
            assert response.json() == {"data": {"__typename": "Query"}}, levels
            assert health and set(health) == {200}


async def test_aliases_in_a_fan_out_are_counted_as_expanded_and_refused(
    server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=HANG_SECONDS) as client:
        for levels in FAMILY:
            request = client.build_request(
                "POST", "/graphql", json={"query": fan_out(levels, leaf="a: __typename")}
            )
            response, health = await send_with_health_checks(client, request)
            body = response.json()
            # Without a login five aliases pass: two levels make four.
            if levels <= 2:
                assert body == {"data": {"a": "Query"}}
            else:
                assert too_complex(body, "aliases"), body
                assert "without a login" in body["errors"][0]["message"]
            assert set(health) == {200}


async def test_a_logged_in_deep_fan_out_is_refused_for_its_depth_also_over_get(
    server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=HANG_SECONDS, headers=bearer(server)
    ) as client:
        for levels in FAMILY:
            request = client.build_request(
                "GET", "/graphql", params={"query": deep_fan_out(levels)}
            )
            response, health = await send_with_health_checks(client, request)
            body = response.json()
            # Each level is four fields deeper; ten is the logged-in limit.
            if levels <= 2:
                assert body == {"data": {"me": {"memberships": {"edges": []}}}}
            else:
                assert too_complex(body, "depth"), body
                assert body["errors"][0]["extensions"]["maximum"] == 10
            assert set(health) == {200}


async def test_the_fan_out_families_over_a_websocket(server: ServerProcess) -> None:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    async with (
        websockets.connect(
            url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
        ) as ws,
        httpx.AsyncClient(base_url=server.base_url, timeout=HANG_SECONDS) as client,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": bearer(server)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for levels in FAMILY:
            for family, query in (("plain", fan_out(levels)), ("deep", deep_fan_out(levels))):
                operation = f"{family}-{levels}"
                message = {"type": "subscribe", "id": operation, "payload": {"query": query}}
                await ws.send(json.dumps(message))
                assert (await client.get("/healthz")).status_code == 200
                answer = json.loads(await asyncio.wait_for(ws.recv(), HANG_SECONDS))
                assert answer["id"] == operation
                if family == "plain" or levels <= 2:
                    assert answer["type"] == "next", answer
                    assert "errors" not in answer["payload"]
                    done = json.loads(await asyncio.wait_for(ws.recv(), HANG_SECONDS))
                    assert done == {"id": operation, "type": "complete"}
                else:
                    assert answer["type"] == "error", answer
                    assert too_complex({"errors": answer["payload"]}, "depth")


async def test_many_copies_of_one_field_are_refused_before_they_tie_up_validation(
    server: ServerProcess,
) -> None:
    # graphql-core compares every pair of same-named fields: 300 copies made
    # 45,000 comparisons of their sub-selections.
    query = "{ " + " ".join("me { username }" for _ in range(300)) + " }"
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=HANG_SECONDS, headers=bearer(server)
    ) as client:
        request = client.build_request("POST", "/graphql", json={"query": query})
        response, health = await send_with_health_checks(client, request)
    assert too_complex(response.json(), "validation"), response.json()
    assert set(health) == {200}


# Seven fields deep: depth 6, over the anonymous 5 and within the logged-in 10.
DEPTH_SIX = "{ me { memberships { edges { node { project { members { totalCount } } } } } } }"


async def test_requests_without_a_login_get_tighter_limits(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    assert too_complex((await gql(DEPTH_SIX)).response.json(), "depth")
    assert (await gql(DEPTH_SIX, token=alice.token))["me"]["memberships"]["edges"] == []

    six_aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(6)) + " }"
    assert too_complex((await gql(six_aliases)).response.json(), "aliases")
    assert len((await gql(six_aliases, token=alice.token)).data or {}) == 6

    # A long comment costs parsing time like any other text.
    long_text = "# " + "x" * 10_000 + "\n{ __typename }"
    refused = await gql(long_text)
    assert refused.data is None
    assert "more than 8192 code points" in refused.error_messages[0]
    assert (await gql(long_text, token=alice.token))["__typename"] == "Query"


async def test_request_bodies_without_a_login_are_capped_lower(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    body = {"query": "query($d: String) { __typename }", "variables": {"d": "y" * 100_000}}
    anonymous = await gql.http.post("/graphql", json=body)
    assert anonymous.status_code == 413
    assert "without a login" in anonymous.json()["errors"][0]["message"]
    logged_in = await gql.http.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {alice.token}"}
    )
    assert logged_in.status_code == 200


def nested_json(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [1_000, 20_000])
async def test_deeply_nested_json_bodies_and_variables_get_400(
    gql: GraphQLClient, factory: Factory, levels: int
) -> None:
    alice = await factory.user("alice")
    headers = {"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"}
    as_body = await gql.http.post("/graphql", content=nested_json(levels), headers=headers)
    as_variables = await gql.http.post(
        "/graphql",
        content='{"query": "{ __typename }", "variables": {"v": ' + nested_json(levels) + "}}",
        headers=headers,
    )
    over_get = await gql.http.get(
        "/graphql",
        # URLs are shorter than bodies: 5,000 levels are past any decoder's reach too.
        params={"query": "{ __typename }", "variables": '{"v": ' + nested_json(5_000) + "}"},
        headers=headers,
    )
    for response in (as_body, as_variables, over_get):
        assert response.status_code == 400, response.text


async def test_nested_variables_within_reach_get_a_graphql_error(
    gql: GraphQLClient, factory: Factory
) -> None:
    alice = await factory.user("alice")
    variables = json.loads('{"v": ' + nested_json(200) + "}")
    result = await gql("query($v: [String]) { __typename }", variables, token=alice.token)
    assert result.status == 200
    assert result.data is None and result.errors


def test_a_deeply_nested_websocket_message_closes_the_socket_as_bad_input(
    server: ServerProcess,
) -> None:
    from websockets.sync.client import connect

    url = server.base_url.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": bearer(server)}))
        assert json.loads(ws.recv(timeout=HANG_SECONDS))["type"] == "connection_ack"
        ws.send('{"type": "ping", "payload": {"v": ' + nested_json(20_000) + "}}")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            ws.recv(timeout=HANG_SECONDS)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
