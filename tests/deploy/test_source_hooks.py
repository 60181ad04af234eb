"""`newSourceWebhookSecret` registers the app's push webhook on GitHub itself: a
`home-idp serve` process with the github git plugin, against the GitHub stand-in.

The stand-in runs in this test's event loop, so every blocking call to the
server process goes through a worker thread (`asyncio.to_thread`) and the
stand-in keeps answering the server meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from tests.doubles.github import HOOKS_NONE, Delivery, GitHubStandIn, github_stand_in
from tests.liveserver import free_port
from tests.serverprocess import ServerProcess, home_idp_env

# A server process: the system tier.
pytestmark = pytest.mark.system

TOKEN = "ghp_SourceHooksStandInToken0123456789abc"
LOGIN = "home-idp-bot"
PROJECT = "shop"

CREATE_PROJECT = """
mutation($name: String!) {
  createProject(input: {name: $name}) { __typename ... on ProjectSuccess { project { id } } }
}
"""
CREATE_APP = """
mutation($project: ID!, $name: String!, $source: String!) {
  createApp(input: {project: $project, name: $name, sourceRepo: $source, autoDeploy: false}) {
    __typename
    ... on AppSuccess { app { id } }
    ... on Error { message }
  }
}
"""
NEW_SECRET = """
mutation($app: ID!) {
  newSourceWebhookSecret(input: {app: $app}) {
    __typename
    ... on SourceWebhookSecretSuccess {
      secret registered note app { sourceWebhook { url secretSet } }
    }
    ... on Error { message }
  }
}
"""
AUDIT = """
query {
  auditEvents(filter: {action: "app.source_webhook_register"}) {
    edges { node { target outcome detail } }
  }
}
"""
DELIVERIES = """
query {
  webhookDeliveries(filter: {source: "source", event: "github:push"}) {
    edges { node { outcome signatureOk detail } }
  }
}
"""


@dataclass
class Platform:
    """The server, on the github plugin, and the GitHub it talks to."""

    server: ServerProcess
    github: GitHubStandIn
    project_id: str

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(self.server.graphql, query, variables)

    async def app(self, name: str, source: str) -> str:
        variables = {"project": self.project_id, "name": name, "source": source}
        created = (await self.graphql(CREATE_APP, variables))["createApp"]
        assert created["__typename"] == "AppSuccess", created
        app_id: str = created["app"]["id"]
        return app_id

    async def new_secret(self, app_id: str) -> dict[str, Any]:
        made: dict[str, Any] = (await self.graphql(NEW_SECRET, {"app": app_id}))[
            "newSourceWebhookSecret"
        ]
        assert made["__typename"] == "SourceWebhookSecretSuccess", made
        assert made["app"]["sourceWebhook"]["secretSet"] is True
        return made

    def on_github(self, full_name: str) -> str:
        """The clone URL of a repository on the stand-in (its web host is its API host)."""
        return f"{self.github.base_url}/{full_name}.git"

    def hook_url(self, app: str) -> str:
        return f"{self.server.base_url}/webhooks/source?app={quote(f'{PROJECT}/{app}', safe='')}"

    async def pushes_to(self, *apps: str) -> list[Delivery]:
        """The stand-in's finished push deliveries to these apps' hooks, one each."""
        urls = {self.hook_url(app) for app in apps}
        async with asyncio.timeout(5):
            while True:
                done = [
                    d
                    for d in self.github.deliveries
                    if d.event == "push" and d.url in urls and d.done.is_set()
                ]
                if len(done) >= len(urls):
                    return done
                await asyncio.sleep(0.01)

    async def delivery_details(self, app: str) -> list[tuple[bool, str]]:
        """(signature ok, detail) of the server's source deliveries that name `app`."""
        edges = (await self.graphql(DELIVERIES))["webhookDeliveries"]["edges"]
        return [
            (edge["node"]["signatureOk"], edge["node"]["detail"])
            for edge in edges
            if edge["node"]["detail"].startswith(f"{PROJECT}/{app}:")
        ]

    @property
    def github_host(self) -> str:
        return self.github.base_url.removeprefix("http://")


# One server for the module (each test its own apps and repositories): a
# server process takes seconds to start.
@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    tmp_path = tmp_path_factory.mktemp("source-hooks")
    async with github_stand_in(TOKEN, login=LOGIN, orgs=("acme",)) as github:
        options = {
            "token": TOKEN,
            "owner": LOGIN,
            "api_url": github.base_url,
            "seconds_between_requests": "0",
            "seconds_between_writes": "0",
        }
        server = ServerProcess(
            home_idp_env(
                tmp_path / "data",
                f"sqlite://{tmp_path / 'db.sqlite3'}",
                git__plugin="github",
                git__options=json.dumps(options),
                # No poll of the apps' sources meanwhile: the stand-in serves no clones.
                sources__poll_seconds="0",
            )
        )
        server.env["HOME_IDP_PUBLIC_URL"] = server.base_url
        await asyncio.to_thread(server.create_admin)
        try:
            await asyncio.to_thread(server.start)
            await asyncio.to_thread(server.login)
            made = await asyncio.to_thread(server.graphql, CREATE_PROJECT, {"name": PROJECT})
            yield Platform(server, github, made["createProject"]["project"]["id"])
        finally:
            await asyncio.to_thread(server.stop)
        log = server.log_path.read_text()
        assert TOKEN not in log


async def test_the_secret_made_is_the_one_registered_on_the_apps_github_repository(
    platform: Platform,
) -> None:
    github = platform.github
    repo = github.add_repo("acme/web")
    app = await platform.app("web", platform.on_github("acme/web"))

    made = await platform.new_secret(app)

    assert made["registered"] is True
    assert made["note"] == f"registered on {platform.github_host}/acme/web"
    [hook] = repo.hooks.values()
    assert hook.config["url"] == platform.hook_url("web")
    assert hook.config["url"] == made["app"]["sourceWebhook"]["url"]
    assert hook.config["secret"] == made["secret"]
    assert hook.config["content_type"] == "json"
    assert (hook.events, hook.active) == (["push"], True)

    # A new secret updates the same hook: the old secret stops working on GitHub too.
    again = await platform.new_secret(app)
    assert again["registered"] is True
    assert again["secret"] != made["secret"]
    assert list(repo.hooks.values()) == [hook]
    assert hook.config["secret"] == again["secret"]

    # GitHub's push reaches the app, signed with the secret it was given.
    github.push("acme/web", "main", {"app.py": b"print('hi')\n"})
    [delivery] = await platform.pushes_to("web")
    assert delivery.status == 200, delivery.error
    assert await platform.delivery_details("web") == [(True, f"{PROJECT}/web: auto deploy is off")]

    server_log = platform.server.log_path.read_text()
    assert made["secret"] not in server_log
    assert again["secret"] not in server_log


async def test_two_apps_of_one_repository_get_a_hook_each(platform: Platform) -> None:
    github = platform.github
    repo = github.add_repo("acme/mono")
    site = await platform.new_secret(await platform.app("site", platform.on_github("acme/mono")))
    docs = await platform.new_secret(await platform.app("docs", platform.on_github("acme/mono")))

    assert site["registered"] and docs["registered"]
    hooks = {hook.config["url"]: hook.config["secret"] for hook in repo.hooks.values()}
    assert hooks == {
        platform.hook_url("site"): site["secret"],
        platform.hook_url("docs"): docs["secret"],
    }

    # One push, two deliveries: each signed for one app, and acted on for that one.
    github.push("acme/mono", "main", {"docs/index.md": b"# Docs\n"})
    delivered = await platform.pushes_to("site", "docs")
    assert [delivery.status for delivery in delivered] == [200, 200]
    for app in ("site", "docs"):
        assert await platform.delivery_details(app) == [
            (True, f"{PROJECT}/{app}: auto deploy is off")
        ]


async def test_apps_whose_hook_cannot_be_registered_get_their_secret_and_a_note(
    platform: Platform,
) -> None:
    github = platform.github
    github.add_repo("acme/locked", hooks_access=HOOKS_NONE)
    elsewhere = f"http://127.0.0.1:{free_port()}/acme/api.git"  # another git host
    locked = await platform.app("locked", platform.on_github("acme/locked"))
    api = await platform.app("api", elsewhere)

    refused = await platform.new_secret(locked)
    other_host = await platform.new_secret(api)

    assert refused["registered"] is False
    assert refused["note"] == (
        "the token may not manage hooks of acme/locked: add the webhook by hand"
    )
    assert refused["secret"]
    assert other_host["registered"] is False
    assert other_host["note"] == (
        f"the source repository is not a repository on {platform.github_host}: "
        "add the webhook by hand"
    )
    assert other_host["secret"]
    assert github.repo("acme/locked").hooks == {}

    # Audited where GitHub was asked, never with a secret; the other host was not asked.
    events = [
        edge["node"]
        for edge in (await platform.graphql(AUDIT))["auditEvents"]["edges"]
        if edge["node"]["target"] in {f"app:{PROJECT}/locked", f"app:{PROJECT}/api"}
    ]
    assert events == [
        {
            "target": f"app:{PROJECT}/locked",
            "outcome": "ok",
            "detail": {"outcome": "refused", "repository": f"{platform.github_host}/acme/locked"},
        }
    ]
    assert refused["secret"] not in json.dumps(events)
