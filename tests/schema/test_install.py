"""The install-manager through GraphQL: components, installs in the background, one at
a time, audited; state left by a stopped server is not trusted."""

from __future__ import annotations

import asyncio

import pytest

from home_idp.server.install.models import Component
from home_idp.server.rbac.models import AuditEvent
from home_idp.server.runtime import Runtime
from tests.factories import Factory
from tests.graphql import GraphQLClient

COMPONENTS = "{ components { name chart version namespace dependsOn status message } }"
INSTALL = """mutation($name: String!) {
  installComponent(input: {name: $name}) {
    __typename
    ... on ComponentSuccess { component { name status message } }
    ... on Error { message }
  }
}"""
INSTALL_ALL = """mutation($components: [String!]) {
  installAll(input: {components: $components}) {
    __typename
    ... on InstallAllSuccess { components { name status } }
    ... on Error { message }
  }
}"""


# The local installer finds the test run's real registry already answering.
@pytest.mark.system
async def test_the_local_registry_is_installed_in_the_background(
    gql: GraphQLClient, factory: Factory, runtime: Runtime
) -> None:
    admin = await factory.user("root", admin=True)
    [before] = (await gql(COMPONENTS, token=admin.token))["components"]
    assert before == {
        "name": "registry",
        "chart": "docker-registry",
        "version": "2",
        "namespace": "local",
        "dependsOn": [],
        "status": "ABSENT",
        "message": "not installed by home-idp yet",
    }
    started = (await gql(INSTALL, {"name": "registry"}, token=admin.token))["installComponent"]
    assert started["component"] == {
        "name": "registry",
        "status": "INSTALLING",
        "message": "install queued",
    }
    await runtime.install.idle()
    # The tests' registry already answers on the configured port: used as it is,
    # and said to be someone else's rather than "up to date".
    [after] = (await gql(COMPONENTS, token=admin.token))["components"]
    assert after["status"] == "READY"
    assert after["message"].startswith("a registry not started by home-idp answers at http://")
    assert after["message"].endswith("; home-idp leaves it alone")
    assert await AuditEvent.exists(action="component.install", actor="root", outcome="ok")


async def test_one_install_at_a_time(
    gql: GraphQLClient, factory: Factory, runtime: Runtime
) -> None:
    admin = await factory.user("root", admin=True)
    answers = await asyncio.gather(
        gql(INSTALL, {"name": "registry"}, token=admin.token),
        gql(INSTALL, {"name": "registry"}, token=admin.token),
    )
    kinds = sorted(answer["installComponent"]["__typename"] for answer in answers)
    assert kinds == ["ComponentSuccess", "Conflict"]
    await runtime.install.idle()
    # The next one may start once the first has ended.
    again = await gql(INSTALL_ALL, {"components": None}, token=admin.token)
    assert again["installAll"]["__typename"] == "InstallAllSuccess"
    await runtime.install.idle()


async def test_unknown_components_change_nothing(
    gql: GraphQLClient, factory: Factory, runtime: Runtime
) -> None:
    admin = await factory.user("root", admin=True)
    answer = (await gql(INSTALL, {"name": "harbor"}, token=admin.token))["installComponent"]
    assert answer["__typename"] == "NotFound"
    assert "no component 'harbor'" in answer["message"]
    answer = (await gql(INSTALL_ALL, {"components": ["registry", "nope"]}, token=admin.token))[
        "installAll"
    ]
    assert answer["__typename"] == "NotFound"
    assert not await Component.exists()
    assert not runtime.install.reserved


async def test_an_install_a_stopped_server_left_is_marked_interrupted(runtime: Runtime) -> None:
    await Component.create(
        name="registry",
        chart="docker-registry",
        version="2",
        namespace="local",
        status="installing",
        message="install queued",
    )
    await runtime.install.start()
    row = await Component.get(name="registry")
    assert (row.status, row.message.split(":")[0]) == ("failed", "interrupted")
