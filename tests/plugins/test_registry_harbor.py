"""The harbor registry plugin: real httpx against the Harbor stand-in, over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from home_idp.plugins.errors import WebhookRejected
from home_idp.plugins.registry.contract import (
    ImagePush,
    ProjectAccess,
    RegistryConfig,
    RegistryError,
    RegistryPlugin,
    RegistryUnavailable,
)
from home_idp.plugins.registry.harbor import HarborRegistry
from tests.doubles.harbor import HarborStandIn, harbor_stand_in
from tests.liveserver import live_server

ADMIN = "admin"
PASSWORD = "Harbor12345-StandIn-Passw0rd"
WEBHOOK_URL = "http://127.0.0.1:9/webhooks/registry"
WEBHOOK_SECRET = "registry-hook-secret-0123456789"
PUSH_NAME = "robot$shop+home-idp"
PULL_NAME = "robot$shop+home-idp-pull"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32

MakePlugin = Callable[..., HarborRegistry]


@pytest.fixture
async def harbor() -> AsyncIterator[HarborStandIn]:
    async with harbor_stand_in(ADMIN, PASSWORD) as stand_in:
        yield stand_in


@pytest.fixture
async def make_plugin(harbor: HarborStandIn) -> AsyncIterator[MakePlugin]:
    made: list[HarborRegistry] = []

    def make(
        *,
        url: str | None = None,
        webhook_url: str = WEBHOOK_URL,
        webhook_secret: str = WEBHOOK_SECRET,
        **options: str,
    ) -> HarborRegistry:
        settings = {"username": ADMIN, "password": PASSWORD} | options
        config = RegistryConfig(url or harbor.base_url, webhook_url, webhook_secret, settings)
        plugin = HarborRegistry(config)
        made.append(plugin)
        return plugin

    yield make
    for plugin in made:
        await plugin.aclose()


@pytest.fixture
def plugin(make_plugin: MakePlugin) -> HarborRegistry:
    return make_plugin()


def mutations(harbor: HarborStandIn) -> list[tuple[str, str]]:
    return harbor.calls("POST", "PUT", "PATCH", "DELETE")


async def robot_can_list(harbor: HarborStandIn, username: str, password: str, repo: str) -> int:
    """The status Harbor gives the robot for listing `repo`'s artifacts (pull access)."""
    async with httpx.AsyncClient(trust_env=False, auth=(username, password)) as client:
        answer = await client.get(
            f"{harbor.base_url}/api/v2.0/projects/shop/repositories/{repo}/artifacts"
        )
        return answer.status_code


# The plugin itself


def test_is_a_registry_plugin(plugin: HarborRegistry, harbor: HarborStandIn) -> None:
    assert isinstance(plugin, RegistryPlugin)
    assert plugin.host == harbor.host
    assert plugin.insecure
    assert PASSWORD not in repr(plugin)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://harbor.example.test", "harbor.example.test"),
        ("https://harbor.example.test:8443/", "harbor.example.test:8443"),
    ],
)
def test_https_harbor_is_secure(make_plugin: MakePlugin, url: str, host: str) -> None:
    plugin = make_plugin(url=url, verify_tls="false")
    assert plugin.host == host
    assert not plugin.insecure


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"username": ""}, "username"),
        ({"password": ""}, "password"),
        ({"verify_tls": "perhaps"}, "verify_tls"),
        ({"timeout": "soon"}, "timeout"),
        ({"url": "ftp://harbor.example.test"}, "http"),
        ({"url": f"https://admin:{PASSWORD}@harbor.example.test"}, "credentials"),
        ({"url": "https://harbor.example.test/api/v2.0"}, "without a path"),
    ],
)
def test_bad_options_are_clear_errors(
    make_plugin: MakePlugin, options: dict[str, str], message: str
) -> None:
    with pytest.raises(RegistryError, match=message) as raised:
        make_plugin(**options)
    assert PASSWORD not in str(raised.value)


# ensure_project


async def test_ensure_project_creates_project_robots_and_webhook(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    access = await plugin.ensure_project("shop", None)

    project = harbor.projects["shop"]
    assert not project.public
    assert ("POST", "/projects") in harbor.calls()
    push, pull = harbor.robot(PUSH_NAME), harbor.robot(PULL_NAME)
    assert access.push is not None and access.pull is not None
    assert (access.push.username, access.push.password) == (PUSH_NAME, push.secret)
    assert (access.pull.username, access.pull.password) == (PULL_NAME, pull.secret)
    for robot in (push, pull):
        assert robot.level == "project"
        assert robot.project_id == project.id
        assert robot.duration == -1 and robot.expires_at == -1
        assert not robot.disable
    assert push.permissions == [
        {
            "kind": "project",
            "namespace": "shop",
            "access": [
                {"resource": "repository", "action": "push"},
                {"resource": "repository", "action": "pull"},
            ],
        }
    ]
    assert pull.may("shop", "pull") and not pull.may("shop", "push")
    [policy] = harbor.project_policies("shop")
    assert policy.name == "home-idp"
    assert policy.enabled
    assert policy.event_types == ["PUSH_ARTIFACT"]
    assert policy.targets == [
        {
            "type": "http",
            "address": WEBHOOK_URL,
            "auth_header": f"Bearer {WEBHOOK_SECRET}",
            "skip_cert_verify": False,
        }
    ]
    # The secrets work for basic auth, each with its own rights.
    harbor.add_artifact("shop", "web", "v1", DIGEST)
    assert await robot_can_list(harbor, PUSH_NAME, access.push.password, "web") == 200
    assert await robot_can_list(harbor, PULL_NAME, access.pull.password, "web") == 200
    assert PASSWORD not in repr(access)


async def test_a_second_call_with_known_changes_nothing(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    known = await plugin.ensure_project("shop", None)
    secrets_before = {robot.name: robot.secret for robot in harbor.robots.values()}
    harbor.requests.clear()

    again = await plugin.ensure_project("shop", known)

    assert again == known
    assert mutations(harbor) == []
    assert {m for m, _ in harbor.calls()} == {"GET"}
    assert len(harbor.robots) == 2
    assert len(harbor.project_policies("shop")) == 1
    assert {robot.name: robot.secret for robot in harbor.robots.values()} == secrets_before


async def test_without_known_an_existing_robots_secret_is_refreshed(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    first = await plugin.ensure_project("shop", None)
    harbor.add_artifact("shop", "web", "v1", DIGEST)
    harbor.requests.clear()

    second = await plugin.ensure_project("shop", None)

    assert second.push is not None and second.pull is not None
    assert first.push is not None and first.pull is not None
    push, pull = harbor.robot(PUSH_NAME), harbor.robot(PULL_NAME)
    assert mutations(harbor) == [("PATCH", f"/robots/{push.id}"), ("PATCH", f"/robots/{pull.id}")]
    assert len(harbor.robots) == 2
    assert second.push.username == PUSH_NAME and second.push.password != first.push.password
    assert second.pull.username == PULL_NAME and second.pull.password != first.pull.password
    assert await robot_can_list(harbor, PUSH_NAME, second.push.password, "web") == 200
    assert await robot_can_list(harbor, PULL_NAME, second.pull.password, "web") == 200
    assert await robot_can_list(harbor, PUSH_NAME, first.push.password, "web") == 401


async def test_known_credentials_of_another_robot_are_not_returned(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    first = await plugin.ensure_project("shop", None)
    assert first.push is not None
    stale = ProjectAccess(push=first.push, pull=None)
    harbor.requests.clear()

    access = await plugin.ensure_project("shop", stale)

    assert access.push == first.push
    assert access.pull is not None and access.pull.password == harbor.robot(PULL_NAME).secret
    assert mutations(harbor) == [("PATCH", f"/robots/{harbor.robot(PULL_NAME).id}")]


async def test_a_deleted_robot_is_made_again(harbor: HarborStandIn, plugin: HarborRegistry) -> None:
    known = await plugin.ensure_project("shop", None)
    del harbor.robots[harbor.robot(PUSH_NAME).id]

    access = await plugin.ensure_project("shop", known)

    assert access.push is not None and access.push != known.push
    assert access.push.password == harbor.robot(PUSH_NAME).secret
    assert access.pull == known.pull


async def test_a_disabled_robot_gets_its_rights_back(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    known = await plugin.ensure_project("shop", None)
    robot = harbor.robot(PUSH_NAME)
    robot.disable = True
    robot.permissions = [
        {
            "kind": "project",
            "namespace": "shop",
            "access": [{"resource": "repository", "action": "pull"}],
        }
    ]
    harbor.requests.clear()

    access = await plugin.ensure_project("shop", known)

    assert access == known  # the secret still holds
    assert mutations(harbor) == [("PUT", f"/robots/{robot.id}")]
    assert not robot.disable
    assert robot.may("shop", "push") and robot.may("shop", "pull")


async def test_a_policy_with_a_stale_address_is_updated(
    harbor: HarborStandIn, make_plugin: MakePlugin
) -> None:
    known = await make_plugin(webhook_url="http://127.0.0.1:9/old/hook").ensure_project(
        "shop", None
    )
    [policy] = harbor.project_policies("shop")
    policy.enabled = False
    harbor.requests.clear()

    await make_plugin(webhook_secret="rotated-secret-0123").ensure_project("shop", known)

    assert mutations(harbor) == [("PUT", f"/projects/shop/webhook/policies/{policy.id}")]
    [updated] = harbor.project_policies("shop")
    assert updated.id == policy.id
    assert updated.enabled
    assert updated.targets[0]["address"] == WEBHOOK_URL
    assert updated.targets[0]["auth_header"] == "Bearer rotated-secret-0123"


async def test_a_project_created_meanwhile_is_fine(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    harbor.create_project_meanwhile("shop")

    access = await plugin.ensure_project("shop", None)

    assert access.push is not None
    assert harbor.robot(PUSH_NAME).project_id == harbor.projects["shop"].id
    assert len(harbor.projects) == 1


async def test_an_all_digit_project_is_named_not_numbered(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    harbor.add_project("other")  # id 1: "1" as an id would be this one
    await plugin.ensure_project("1", None)

    assert len(harbor.project_policies("1")) == 1
    assert harbor.project_policies("other") == []


@pytest.mark.parametrize(
    "name", ["../x", "UPPER", "a" * 64, "", "-x", "x-", "a_b", "a.b", "a/b", "a b"]
)
async def test_bad_project_names_send_no_request(
    harbor: HarborStandIn, plugin: HarborRegistry, name: str
) -> None:
    with pytest.raises(RegistryError, match="project name"):
        await plugin.ensure_project(name, None)
    assert harbor.requests == []


@pytest.mark.parametrize(
    ("webhook_url", "webhook_secret", "message"),
    [
        ("ftp://127.0.0.1/hook", WEBHOOK_SECRET, "http"),
        ("http://127.0.0.1:9/hook?token=x", WEBHOOK_SECRET, "query"),
        (WEBHOOK_URL, "", "secret"),
    ],
)
async def test_a_webhook_harbor_cannot_send_is_refused_first(
    harbor: HarborStandIn,
    make_plugin: MakePlugin,
    webhook_url: str,
    webhook_secret: str,
    message: str,
) -> None:
    plugin = make_plugin(webhook_url=webhook_url, webhook_secret=webhook_secret)
    with pytest.raises(RegistryError, match=message):
        await plugin.ensure_project("shop", None)
    assert harbor.requests == []


# tags


async def test_tag_digest(harbor: HarborStandIn, plugin: HarborRegistry) -> None:
    harbor.add_artifact("shop", "web", "v1", DIGEST)
    harbor.add_artifact("shop", "web", "v2", OTHER_DIGEST)

    assert await plugin.tag_digest("shop/web", "v1") == DIGEST
    assert await plugin.tag_digest("shop/web", "v2") == OTHER_DIGEST
    assert await plugin.tag_digest("shop/web", "v3") is None
    assert await plugin.tag_digest("shop/api", "v1") is None
    assert await plugin.tag_digest("nowhere/web", "v1") is None


async def test_tag_digest_encodes_a_slash_in_the_name_twice(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    harbor.add_artifact("shop", "team/web", "v1", DIGEST)

    assert await plugin.tag_digest("shop/team/web", "v1") == DIGEST
    assert harbor.calls() == [("GET", "/projects/shop/repositories/team%252Fweb/artifacts/v1")]


async def test_list_tags_follows_pages(harbor: HarborStandIn, plugin: HarborRegistry) -> None:
    tags = [f"v{n}" for n in range(250)]
    for n, tag in enumerate(tags):
        harbor.add_artifact("shop", "team/web", tag, "sha256:" + f"{n:064x}")
    harbor.add_artifact("shop", "team/web", "latest", "sha256:" + f"{249:064x}")
    harbor.add_artifact("shop", "team/web", "untagged", "sha256:" + "ef" * 32)
    harbor.repositories[("shop", "team/web")].artifacts[-1].tags.clear()

    listed = await plugin.list_tags("shop/team/web")

    assert listed == sorted([*tags, "latest"])
    calls = harbor.requests
    assert len(calls) == 3  # 251 artifacts, 100 a page
    assert {call.path for call in calls} == {"/projects/shop/repositories/team%252Fweb/artifacts"}
    assert [dict(pair.split("=") for pair in call.query.split("&"))["page"] for call in calls] == [
        "1",
        "2",
        "3",
    ]


async def test_list_tags_of_a_missing_repository_is_empty(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    harbor.add_project("shop")
    assert await plugin.list_tags("shop/web") == []
    assert await plugin.list_tags("nowhere/web") == []


@pytest.mark.parametrize(
    ("repository", "tag"),
    [
        ("../etc", "v1"),
        ("shop", "v1"),
        ("shop/", "v1"),
        ("shop/../x", "v1"),
        ("Shop/web", "v1"),
        ("shop/web:v1", "v1"),
        ("shop/web%2Fx", "v1"),
        ("shop/web", "../v1"),
        ("shop/web", ""),
        ("shop/web", "v1/x"),
        ("shop/web", "a" * 129),
    ],
)
async def test_bad_repository_names_and_tags_send_no_request(
    harbor: HarborStandIn, plugin: HarborRegistry, repository: str, tag: str
) -> None:
    with pytest.raises(RegistryError, match=r"not a valid tag|not a repository name"):
        await plugin.tag_digest(repository, tag)
    if tag == "v1":
        with pytest.raises(RegistryError, match="not a repository name"):
            await plugin.list_tags(repository)
    assert harbor.requests == []


# webhooks


def test_verify_webhook(plugin: HarborRegistry) -> None:
    body = b'{"type": "PUSH_ARTIFACT"}'
    assert plugin.verify_webhook({"authorization": f"Bearer {WEBHOOK_SECRET}"}, body)
    assert plugin.verify_webhook({"Authorization": f"Bearer {WEBHOOK_SECRET}"}, body)
    assert not plugin.verify_webhook({"authorization": "Bearer wrong"}, body)
    assert not plugin.verify_webhook({"authorization": WEBHOOK_SECRET}, body)
    assert not plugin.verify_webhook({}, body)


def test_parse_webhook(harbor: HarborStandIn, plugin: HarborRegistry) -> None:
    body = harbor.push_event_body("shop", "web", "v1", DIGEST)

    event = plugin.parse_webhook({}, body)

    assert event.event == "PUSH_ARTIFACT"
    assert event.pushes == (ImagePush("shop/web", "v1", DIGEST),)
    assert plugin.parse_webhook({}, body).delivery_id == event.delivery_id
    other = harbor.push_event_body("shop", "web", "v2", DIGEST)
    assert plugin.parse_webhook({}, other).delivery_id != event.delivery_id


def test_parse_webhook_of_a_nested_repository(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    body = harbor.push_event_body("shop", "team/web", "v1", DIGEST)
    assert plugin.parse_webhook({}, body).pushes == (ImagePush("shop/team/web", "v1", DIGEST),)


def test_a_pull_event_has_no_pushes(harbor: HarborStandIn, plugin: HarborRegistry) -> None:
    payload = json.loads(harbor.push_event_body("shop", "web", "v1", DIGEST))
    payload["type"] = "PULL_ARTIFACT"

    event = plugin.parse_webhook({}, json.dumps(payload).encode())

    assert event.event == "PULL_ARTIFACT"
    assert event.pushes == ()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"type": "PUSH_ARTIFACT"}',
        b'{"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name": "shop/web"}}}',
        b'{"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name": "shop/web"},'
        b' "resources": [{"tag": "v1", "digest": "md5:x"}]}}',
    ],
)
def test_a_malformed_body_is_rejected(plugin: HarborRegistry, body: bytes) -> None:
    with pytest.raises(WebhookRejected):
        plugin.parse_webhook({}, body)


async def test_a_push_reaches_the_webhook_verified(
    harbor: HarborStandIn, make_plugin: MakePlugin
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=202)

    receiver = Starlette(routes=[Route("/webhooks/registry", receive, methods=["POST"])])
    async with live_server(receiver) as address:
        plugin = make_plugin(webhook_url=f"http://{address}/webhooks/registry")
        await plugin.ensure_project("shop", None)
        [delivery] = await harbor.push("shop", "web", "v1", DIGEST)

    assert delivery.status == 202
    [(headers, body)] = received
    assert plugin.verify_webhook(headers, body)
    assert plugin.parse_webhook(headers, body).pushes == (ImagePush("shop/web", "v1", DIGEST),)
    assert await plugin.tag_digest("shop/web", "v1") == DIGEST


# failures


async def test_harbor_down_is_unavailable_quickly(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    await harbor.stop()
    calls: list[Any] = [
        plugin.ensure_project("shop", None),
        plugin.tag_digest("shop/web", "v1"),
        plugin.list_tags("shop/web"),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable, match="could not be reached") as raised:
            await call
        assert time.monotonic() - started < 2
        assert harbor.base_url in str(raised.value)
        assert PASSWORD not in str(raised.value)


async def test_a_wrong_password_is_a_registry_error_without_it(make_plugin: MakePlugin) -> None:
    wrong = PASSWORD + "-wrong"
    plugin = make_plugin(password=wrong)
    for call in (plugin.ensure_project("shop", None), plugin.tag_digest("shop/web", "v1")):
        with pytest.raises(RegistryError, match="401") as raised:
            await call
        assert not isinstance(raised.value, RegistryUnavailable)
        assert "unauthorized" in str(raised.value)
        for secret in (wrong, PASSWORD):
            assert secret not in str(raised.value)
            assert secret not in repr(raised.value)


async def test_harbor_errors_carry_its_message(
    harbor: HarborStandIn, plugin: HarborRegistry
) -> None:
    harbor.fail_next(400, f"bad thing near {PASSWORD}")
    with pytest.raises(RegistryError, match=r"400.*bad thing near \*\*\*") as raised:
        await plugin.ensure_project("shop", None)
    assert not isinstance(raised.value, RegistryUnavailable)
    assert PASSWORD not in str(raised.value)

    harbor.fail_next(503, "the database is away")
    with pytest.raises(RegistryUnavailable, match=r"503.*the database is away"):
        await plugin.list_tags("shop/web")
