"""The running-app API's own checks: bad arguments, the stream limit, masking before cutting.

What the deployers stream is their tests' business (tests/plugins); the end
to end flow with a real container is in test_app_config_flow.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from strawberry.relay import to_base64
from strawberry.types import ExecutionResult

from home_idp.plugins.deployer.contract import AppLogLine
from home_idp.schema.core.context import Context
from home_idp.schema.schema import build_schema
from home_idp.server.apps.models import AppSecret
from home_idp.server.deploy.app_runtime import MAX_LOG_LINE
from home_idp.server.rbac import Principal
from home_idp.server.rbac.models import Membership
from home_idp.server.runtime import Runtime
from tests.deploy.flow import make_app
from tests.factories import Factory
from tests.graphql import GraphQLClient

LOGS = """subscription($app: ID!, $tail: Int!) {
  appLogs(appId: $app, follow: false, tailLines: $tail) { source text }
}"""
DELETE_POD = """mutation($input: DeletePodInput!) {
  deletePod(input: $input) { __typename ... on Error { message } }
}"""
SECRET = "a-secret-that-straddles"


async def read_logs(runtime: Runtime, person: Any, app_gid: str, tail: int) -> list[Any]:
    """Every event of the subscription, run in-process as the websocket would."""
    principal = Principal(person.user.id, person.user.username)
    stream = await build_schema(runtime.settings.graphql).subscribe(
        LOGS,
        variable_values={"app": app_gid, "tail": tail},
        context_value=Context(runtime=runtime, principal=principal),
    )
    if isinstance(stream, ExecutionResult):  # refused before it started
        return [stream]
    return [result async for result in stream]


async def test_lines_are_masked_before_they_are_cut_and_the_arguments_are_checked(
    runtime: Runtime, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    app = await make_app(project)
    await AppSecret.create(
        app=app,
        name="TOKEN",
        ciphertext=runtime.secret_box.encrypt(SECRET),
        updated_by="dev",
    )
    # A secret across the point where a line is cut is masked whole.
    long_line = "x" * (MAX_LOG_LINE - 5) + SECRET + "y" * 10

    async def app_logs(
        project: str, app: str, *, follow: bool, tail_lines: int
    ) -> AsyncIterator[AppLogLine]:
        yield AppLogLine("web-1", f"token={SECRET}")
        yield AppLogLine("web-2", long_line)

    monkeypatch.setattr(runtime.deploy.deployer, "app_logs", app_logs)
    app_gid = to_base64("App", app.id)

    results = await read_logs(runtime, dev, app_gid, 10)
    assert [r.errors for r in results] == [None, None]
    lines = [r.data["appLogs"] for r in results]
    assert lines[0] == {"source": "web-1", "text": "token=****"}
    assert lines[1]["text"] == "x" * (MAX_LOG_LINE - 5) + "****" + "y" + "…"
    assert all(SECRET[:8] not in line["text"] for line in lines)

    # tailLines out of range: a clear error, nothing read.
    for tail in (-1, 5001):
        [result] = await read_logs(runtime, dev, app_gid, tail)
        assert result.errors is not None
        assert "tailLines: must be 0 to 5000" in result.errors[0].message

    # No free log stream: a clear error rather than one more open stream.
    monkeypatch.setattr(runtime.deploy.log_slots, "per_user", 0)
    [result] = await read_logs(runtime, dev, app_gid, 10)
    assert result.errors is not None
    assert "you have 0 app log streams open already" in result.errors[0].message
    monkeypatch.setattr(runtime.deploy.log_slots, "limit", 0)
    [result] = await read_logs(runtime, dev, app_gid, 10)
    assert result.errors is not None
    assert "app log streams are open already" in result.errors[0].message
    assert runtime.deploy.log_slots.open == 0


async def test_a_pod_name_is_checked_before_it_reaches_the_deployer(
    runtime: Runtime, factory: Factory, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    mia = await factory.user("mia")
    project = await factory.project("shop", mia="maintainer")
    app = await make_app(project)
    asked: list[str] = []

    async def delete_instance(project: str, app: str, name: str) -> None:
        asked.append(name)

    monkeypatch.setattr(runtime.deploy.deployer, "delete_instance", delete_instance)
    for name in ("../x", "Web_1", "a" * 254, "web-1\n", ""):
        variables = {"input": {"app": to_base64("App", app.id), "name": name}}
        answer = (await gql(DELETE_POD, variables, mia.token))["deletePod"]
        assert answer["__typename"] == "ValidationError", (name, answer)
    assert asked == []
    variables = {"input": {"app": to_base64("App", app.id), "name": "web-7d9f-x2"}}
    answer = (await gql(DELETE_POD, variables, mia.token))["deletePod"]
    assert answer["__typename"] == "DeletePodSuccess", answer
    assert asked == ["web-7d9f-x2"]


async def test_a_followed_log_stops_when_the_reader_is_no_longer_a_member(
    runtime: Runtime, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    vic = await factory.user("vic")
    project = await factory.project("shop", vic="viewer")
    app = await make_app(project)
    second_line = asyncio.Event()

    async def app_logs(
        project: str, app: str, *, follow: bool, tail_lines: int
    ) -> AsyncIterator[AppLogLine]:
        yield AppLogLine("web-1", "before")
        await second_line.wait()
        yield AppLogLine("web-1", "after")
        await asyncio.Event().wait()  # followed: more lines may come

    monkeypatch.setattr(runtime.deploy.deployer, "app_logs", app_logs)
    principal = Principal(vic.user.id, vic.user.username)
    stream = await build_schema(runtime.settings.graphql).subscribe(
        LOGS,
        variable_values={"app": to_base64("App", app.id), "tail": 10},
        context_value=Context(runtime=runtime, principal=principal),
    )
    assert not isinstance(stream, ExecutionResult)
    first = await asyncio.wait_for(anext(stream), 5)
    assert first.data == {"appLogs": {"source": "web-1", "text": "before"}}
    await Membership.filter(user_id=vic.user.id).delete()
    # What the rights manager says after removing a member.
    await runtime.rbac.access.announce([vic.user.id])
    second_line.set()
    # A line already on its way may still arrive (with Postgres the news
    # travels through NOTIFY); then the stream ends with the reason.
    refused = await asyncio.wait_for(anext(stream), 5)
    if refused.errors is None:
        assert refused.data == {"appLogs": {"source": "web-1", "text": "after"}}
        refused = await asyncio.wait_for(anext(stream), 5)
    assert refused.errors is not None
    assert "you may not read log in project 'shop'" in refused.errors[0].message
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stream), 5)
    assert runtime.deploy.log_slots.open == 0
