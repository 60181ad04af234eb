"""Push to deploy on the fakes: source pushes, polling, "deploy now" and superseded releases.

The source repositories are the fake source reader's; the webhooks are real
HTTP requests to the server, signed as GitHub signs them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
from strawberry.relay import from_base64, to_base64

from home_idp.server.apps.models import App
from home_idp.server.deploy.models import WebhookDelivery
from home_idp.server.deploy.source_poller import SourcePoller
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.rbac.models import Project
from tests.deploy.flow import wait_for_release
from tests.factories import Factory, Person
from tests.fakes.server import FakeServer
from tests.graphql import GraphQLClient

SOURCE = "http://127.0.0.1:9/shop/web.git"
# Unlike the other tests' Dockerfiles, so each first release commits one (the fake
# platform repo outlives a test).
DOCKERFILE = 'FROM busybox\nCOPY . /src\nCMD ["/src/run"]\n'
SAVE = """
mutation($input: SaveDockerfileInput!) {
  saveDockerfile(input: $input) { __typename ... on SaveDockerfileSuccess { release { id } } }
}
"""
DEPLOY = """
mutation($input: DeployAppInput!) {
  deployApp(input: $input) {
    __typename
    ... on ReleaseSuccess { release { id number trigger sourceCommit { sha author message } } }
    ... on Error { message }
    ... on ValidationError { fieldErrors { field message } }
  }
}
"""
NEW_SECRET = """
mutation($input: NewSourceWebhookSecretInput!) {
  newSourceWebhookSecret(input: $input) {
    __typename
    ... on SourceWebhookSecretSuccess { secret app { sourceWebhook { url secretSet } } }
    ... on Error { message }
  }
}
"""
UPDATE = """
mutation($input: UpdateAppInput!) {
  updateApp(input: $input) {
    __typename
    ... on AppSuccess { app { autoDeploy watchPaths } }
    ... on ValidationError { fieldErrors { field message } }
  }
}
"""


async def releases_of(app: App) -> list[Release]:
    return await Release.filter(app_id=app.id).order_by("number")


class Shop:
    """A project with one app whose source is the fake repository `SOURCE`."""

    def __init__(self, server: FakeServer, dev: Person, viewer: Person, app: App) -> None:
        self.server, self.dev, self.viewer, self.app = server, dev, viewer, app
        self.gql = GraphQLClient(server.http)
        self.repo = server.plugins.source

    @property
    def gid(self) -> str:
        return to_base64("App", self.app.id)

    async def first_release(self) -> Release:
        """Save a Dockerfile and wait for its release."""
        content = f"{DOCKERFILE}ENV RUN_ID={uuid.uuid4().hex}\n"
        variables = {"input": {"app": self.gid, "content": content, "message": "first"}}
        saved = await self.gql(SAVE, variables, token=self.dev.token)
        release_id = int(from_base64(saved["saveDockerfile"]["release"]["id"])[1])
        return await wait_for_release(release_id, 20)

    async def new_secret(self) -> str:
        made = await self.gql(NEW_SECRET, {"input": {"app": self.gid}}, token=self.dev.token)
        payload = made["newSourceWebhookSecret"]
        assert payload["__typename"] == "SourceWebhookSecretSuccess", payload
        assert payload["app"]["sourceWebhook"]["secretSet"] is True
        assert payload["app"]["sourceWebhook"]["url"].endswith("/webhooks/source?app=shop%2Fweb")
        return str(payload["secret"])

    async def push_webhook(
        self, secret: str | None, after: str, before: str, *, paths: list[str] | None = None
    ) -> httpx.Response:
        body = json.dumps(github_push(after, before, paths or ["app.py"])).encode()
        headers = {
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        if secret is not None:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
        return await self.server.http.post("/webhooks/source", content=body, headers=headers)


def github_push(after: str, before: str, paths: list[str]) -> dict[str, Any]:
    """A push event as GitHub sends it (the fields the server reads)."""
    commit = {
        "id": after,
        "message": "a change",
        "url": f"http://127.0.0.1:9/shop/web/commit/{after}",
        "author": {"name": "Dev", "email": "dev@example.test"},
        "added": [],
        "modified": paths,
        "removed": [],
    }
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "created": False,
        "deleted": False,
        "forced": False,
        "commits": [commit],
        "head_commit": commit,
        "pusher": {"name": "dev"},
        "repository": {
            "full_name": "shop/web",
            "clone_url": SOURCE,
            "html_url": "http://127.0.0.1:9/shop/web",
            "ssh_url": "ssh://git@127.0.0.1:9/shop/web.git",
        },
    }


async def make_shop(server: FakeServer) -> Shop:
    factory = Factory(server.runtime)
    dev = await factory.user("dev")
    viewer = await factory.user("viewer")
    project: Project = await factory.project("shop", dev="developer", viewer="viewer")
    app = await App.create(project=project, name="web", source_repo=SOURCE)
    app.project = project
    return Shop(server, dev, viewer, app)


async def test_a_dockerfile_release_records_the_source_commit_it_built(
    server: FakeServer,
) -> None:
    shop = await make_shop(server)
    sha = shop.repo.push(SOURCE, message="the first feature", author="Ada")

    release = await shop.first_release()

    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    assert (release.source_sha, release.source_author) == (sha, "Ada")
    assert release.source_message == "the first feature"
    # The build fetched that commit, not the branch, and its tag says which.
    built = server.plugins.builder.requests[-1]
    assert built.source.ref == sha
    assert release.image is not None and f":r1-{sha[:12]}-" in release.image
    await shop.app.refresh_from_db()
    assert shop.app.source_seen_sha == sha


async def test_deploy_now_builds_the_newest_commit_with_the_current_dockerfile(
    server: FakeServer,
) -> None:
    shop = await make_shop(server)
    shop.repo.push(SOURCE)
    await shop.first_release()
    newest = shop.repo.push(SOURCE, message="fix the bug", author="Bo")

    deployed = await shop.gql(DEPLOY, {"input": {"app": shop.gid}}, token=shop.dev.token)

    payload = deployed["deployApp"]
    assert payload["__typename"] == "ReleaseSuccess", payload
    assert payload["release"]["sourceCommit"] == {
        "sha": newest,
        "author": "Bo",
        "message": "fix the bug",
    }
    assert payload["release"]["trigger"] == "deploy main"
    release = await wait_for_release(int(from_base64(payload["release"]["id"])[1]), 20)
    assert release.status is ReleaseStatus.SUCCEEDED, release.error
    assert server.plugins.builder.requests[-1].source.ref == newest


async def test_deploy_now_refuses_what_it_cannot_build(server: FakeServer) -> None:
    shop = await make_shop(server)
    shop.repo.push(SOURCE)
    no_dockerfile = await shop.gql(DEPLOY, {"input": {"app": shop.gid}}, token=shop.dev.token)
    assert no_dockerfile["deployApp"]["__typename"] == "Conflict"
    assert "no Dockerfile" in no_dockerfile["deployApp"]["message"]
    await shop.first_release()
    before = len(await releases_of(shop.app))

    cases = {
        "-oProxyCommand=x": "ValidationError",  # never reaches git as an option
        "no-such-branch": "ValidationError",
    }
    for ref, expected in cases.items():
        answer = await shop.gql(
            DEPLOY, {"input": {"app": shop.gid, "ref": ref}}, token=shop.dev.token
        )
        payload = answer["deployApp"]
        assert payload["__typename"] == expected, (ref, payload)
        assert payload["fieldErrors"][0]["field"] == "ref"
    viewer = await shop.gql(DEPLOY, {"input": {"app": shop.gid}}, token=shop.viewer.token)
    assert viewer["deployApp"]["__typename"] == "PermissionDenied"
    shop.repo.broken[SOURCE] = "could not resolve host git.example.test"
    gone = await shop.gql(DEPLOY, {"input": {"app": shop.gid}}, token=shop.dev.token)
    assert gone["deployApp"]["__typename"] == "Conflict"
    assert "could not resolve host" in gone["deployApp"]["message"]
    assert len(await releases_of(shop.app)) == before


async def test_a_signed_push_deploys_and_the_inspector_says_why(server: FakeServer) -> None:
    shop = await make_shop(server)
    first = shop.repo.push(SOURCE)
    await shop.first_release()
    secret = await shop.new_secret()
    second = shop.repo.push(SOURCE)

    answer = await shop.push_webhook(secret, second, first)

    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "accepted"
    newest = (await releases_of(shop.app))[-1]
    assert (newest.number, newest.trigger, newest.source_sha) == (2, "push", second)
    assert newest.source_url == f"http://127.0.0.1:9/shop/web/commit/{second}"
    assert (await wait_for_release(newest.id, 20)).status is ReleaseStatus.SUCCEEDED
    delivery = await WebhookDelivery.filter(source="source").order_by("-id").first()
    assert delivery is not None and delivery.signature_ok
    assert delivery.headers["signed-for"] == "shop/web"
    assert "release #2 started" in delivery.detail

    # The same commit again (a redelivery from the host) starts nothing more.
    again = await shop.push_webhook(secret, second, first)
    assert again.json()["outcome"] == "ignored"
    assert "already acted on" in again.json()["detail"]
    assert len(await releases_of(shop.app)) == 2


async def test_forged_and_foreign_pushes_start_nothing(server: FakeServer) -> None:
    shop = await make_shop(server)
    first = shop.repo.push(SOURCE)
    await shop.first_release()
    secret = await shop.new_secret()
    second = shop.repo.push(SOURCE)

    unsigned = await shop.push_webhook(None, second, first)
    forged = await shop.push_webhook("not-the-secret", second, first)
    assert (unsigned.status_code, forged.status_code) == (401, 401)
    await App.filter(id=shop.app.id).update(source_repo="http://127.0.0.1:9/other.git")
    foreign = await shop.push_webhook(secret, second, first)
    assert foreign.status_code == 202
    assert foreign.json()["outcome"] == "ignored"
    malformed = await server.http.post(
        "/webhooks/source",
        content=b"{not json",
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"},
    )
    assert malformed.status_code == 400
    nobody = await server.http.post("/webhooks/source", content=b"{}")
    assert nobody.status_code == 400

    assert len(await releases_of(shop.app)) == 1
    recorded = await WebhookDelivery.filter(source="source").order_by("id")
    assert [(d.outcome, d.signature_ok) for d in recorded] == [
        ("rejected", False),
        ("rejected", False),
        ("ignored", False),
        ("rejected", False),
        ("rejected", False),
    ]


async def test_watch_paths_and_auto_deploy_decide_whether_a_push_builds(
    server: FakeServer,
) -> None:
    shop = await make_shop(server)
    first = shop.repo.push(SOURCE)
    await shop.first_release()
    secret = await shop.new_secret()
    watched = await shop.gql(
        UPDATE,
        {"input": {"id": shop.gid, "watchPaths": ["src/**", "Dockerfile"]}},
        token=shop.dev.token,
    )
    assert watched["updateApp"]["app"]["watchPaths"] == ["src/**", "Dockerfile"]

    docs = shop.repo.push(SOURCE, paths=("docs/readme.md",))
    skipped = await shop.push_webhook(secret, docs, first, paths=["docs/readme.md"])
    assert "touches none of the watch paths" in skipped.json()["detail"]
    code = shop.repo.push(SOURCE, paths=("src/main.py",))
    built = await shop.push_webhook(secret, code, docs, paths=["src/main.py"])
    assert built.json()["outcome"] == "accepted", built.json()

    off = await shop.gql(
        UPDATE, {"input": {"id": shop.gid, "autoDeploy": False}}, token=shop.dev.token
    )
    assert off["updateApp"]["app"]["autoDeploy"] is False
    later = shop.repo.push(SOURCE, paths=("src/main.py",))
    ignored = await shop.push_webhook(secret, later, code, paths=["src/main.py"])
    assert "auto deploy is off" in ignored.json()["detail"]
    assert [r.source_sha for r in await releases_of(shop.app)] == [first, code]

    bad = await shop.gql(
        UPDATE, {"input": {"id": shop.gid, "watchPaths": ["../secrets"]}}, token=shop.dev.token
    )
    errors = bad["updateApp"]["fieldErrors"]
    assert errors[0]["field"] == "watchPaths" and "../secrets" in errors[0]["message"]


async def test_a_push_supersedes_a_release_whose_build_has_not_started(
    server: FakeServer,
) -> None:
    shop = await make_shop(server)
    first = shop.repo.push(SOURCE)
    await shop.first_release()
    secret = await shop.new_secret()
    builds_before = len(server.plugins.builder.requests)

    # Both releases wait at their commit step: neither build has started.
    async with server.plugins.git.commits_held():
        second = shop.repo.push(SOURCE)
        await shop.push_webhook(secret, second, first)
        third = shop.repo.push(SOURCE)
        await shop.push_webhook(secret, third, second)
        overtaken, newest = (await releases_of(shop.app))[1:]
        assert overtaken.status is ReleaseStatus.SUPERSEDED
        assert newest.status is ReleaseStatus.RUNNING

    assert (await wait_for_release(newest.id, 20)).status is ReleaseStatus.SUCCEEDED
    built = [request.source.ref for request in server.plugins.builder.requests[builds_before:]]
    assert built == [third]
    steps = await ReleaseStep.filter(release_id=overtaken.id)
    assert {step.state for step in steps} == {StepState.CANCELLED}


async def test_a_late_delivery_of_an_older_push_builds_nothing(server: FakeServer) -> None:
    shop = await make_shop(server)
    first = shop.repo.push(SOURCE)
    await shop.first_release()
    secret = await shop.new_secret()
    second, third = shop.repo.push(SOURCE), shop.repo.push(SOURCE)

    newer = await shop.push_webhook(secret, third, second)
    assert newer.json()["outcome"] == "accepted"
    older = await shop.push_webhook(secret, second, first)

    assert older.json()["outcome"] == "ignored"
    assert "no longer the head of main" in older.json()["detail"]
    assert [r.source_sha for r in await releases_of(shop.app)] == [first, third]
    await shop.app.refresh_from_db()
    assert shop.app.source_seen_sha == third


async def test_polling_deploys_new_commits_and_shows_a_source_that_went_away(
    server: FakeServer,
) -> None:
    shop = await make_shop(server)
    first = shop.repo.push(SOURCE)
    await shop.first_release()
    settings = server.runtime.settings.sources.model_copy(update={"poll_seconds": 30})
    poller = SourcePoller(server.plugins.source, server.runtime.deploy.engine, settings)

    await poller.poll_once()
    assert len(await releases_of(shop.app)) == 1  # nothing new
    second = shop.repo.push(SOURCE)
    await poller.poll_once()
    newest = (await releases_of(shop.app))[-1]
    assert (newest.trigger, newest.source_sha) == ("poll", second)
    assert (await wait_for_release(newest.id, 20)).status is ReleaseStatus.SUCCEEDED

    shop.repo.broken[SOURCE] = "repository not found"
    await poller.poll_once()
    await shop.app.refresh_from_db()
    assert shop.app.source_error == "repository not found"
    reads = shop.repo.reads
    await poller.poll_once()
    assert shop.repo.reads == reads  # backing off: not asked again at once
    assert first != second


CREATE = """
mutation($input: CreateAppInput!) {
  createApp(input: $input) {
    __typename
    ... on AppSuccess { app { name sourceRef } }
    ... on ValidationError { fieldErrors { field message } }
  }
}
"""


async def test_a_branch_the_repository_lacks_is_refused_when_set(server: FakeServer) -> None:
    shop = await make_shop(server)
    shop.repo.push(SOURCE, "main")
    shop.repo.push(SOURCE, "release")
    project = to_base64("Project", shop.app.project.id)

    def create(name: str, url: str, ref: str) -> dict[str, Any]:
        return {"input": {"project": project, "name": name, "sourceRepo": url, "sourceRef": ref}}

    missing = await shop.gql(CREATE, create("api", SOURCE, "nope"), token=shop.dev.token)
    assert missing["createApp"]["fieldErrors"][0]["field"] == "sourceRef"
    assert "nope" in missing["createApp"]["fieldErrors"][0]["message"]
    assert not await App.exists(name="api")
    # A repository that cannot be read now is no reason to refuse the app.
    offline = await shop.gql(
        CREATE, create("api", "http://127.0.0.1:9/elsewhere.git", "nope"), token=shop.dev.token
    )
    assert offline["createApp"]["__typename"] == "AppSuccess"

    moved = await shop.gql(
        UPDATE, {"input": {"id": shop.gid, "sourceRef": "gone"}}, token=shop.dev.token
    )
    assert moved["updateApp"]["fieldErrors"][0]["field"] == "sourceRef"
    await shop.app.refresh_from_db()
    assert shop.app.source_ref == "main"
    kept = await shop.gql(
        UPDATE, {"input": {"id": shop.gid, "sourceRef": "release"}}, token=shop.dev.token
    )
    assert kept["updateApp"]["__typename"] == "AppSuccess"
