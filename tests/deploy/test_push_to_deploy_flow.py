"""Push to deploy with real components: git over HTTP, a git hook, buildah, the registry.

An app follows a bare repository that `git http-backend` serves. Its
`post-receive` hook does what a git host does on a push: it describes the
push as GitHub does, signs it with the app's webhook secret and posts it to
the server on its real port. The releases it starts build the pushed commit
with buildah, which clones it over HTTP; polling reads the same repository
with `git ls-remote` and a blobless fetch. Builds cost seconds, so one story
walks through a push, a push outside the watch paths and a poll (three
builds), and the refusals need none.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from strawberry.relay import from_base64, to_base64

from home_idp.plugins.registry.distribution import MANIFEST_TYPES
from home_idp.server.apps.models import App
from home_idp.server.deploy.models import DeliveryOutcome, WebhookDelivery
from home_idp.server.deploy.registry_access import image_tag
from home_idp.server.deploy.source_poller import SourcePoller
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.runtime import Runtime
from home_idp.server.settings import Settings
from tests.components import REGISTRY_HOST, REGISTRY_URL, SOURCE_PORT, BuildComponents
from tests.components import make_source_repo as make_bare_repo
from tests.deploy.flow import save_dockerfile, unique_dockerfile, wait_for_release
from tests.factories import Factory, Person
from tests.graphql import GraphQLClient
from tests.liveserver import live_server

# Real components: the system tier.
pytestmark = pytest.mark.system

# A build clones, builds, pushes and rolls out: seconds each, more on a busy machine.
RELEASE_SECONDS = 180.0

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
APP_SOURCE = """
query($id: ID!) { node(id: $id) { ... on App { sourceError sourceCheckedAt } } }
"""
RELEASE_SOURCE = """
query($id: ID!) {
  node(id: $id) { ... on Release { number trigger status sourceCommit { sha author message } } }
}
"""

# The hook a git host stands for: one GitHub push event per pushed ref, signed
# with the secret in `webhook-secret` beside it (unsigned when there is none),
# posted to the URL in `hook.json`. What the server answered is appended to
# `deliveries`, so the test can read it once `git push` returns.
HOOK_SCRIPT = r'''
"""post-receive: tell home-idp of each pushed ref, as GitHub does."""
import hashlib
import hmac
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = json.loads((HERE / "hook.json").read_text())
NO_COMMIT = "0" * 40


def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def describe(sha):
    author, _, message = git("log", "-1", "--format=%an%x00%B", sha).partition("\0")
    changes = {"added": [], "modified": [], "removed": []}
    listing = git("diff-tree", "-r", "--root", "--no-commit-id", "--no-renames",
                  "--name-status", sha)
    for line in listing.splitlines():
        status, _, path = line.partition("\t")
        changes[{"A": "added", "D": "removed"}.get(status[:1], "modified")].append(path)
    return {
        "id": sha,
        "message": message.strip(),
        "author": {"name": author},
        "url": CONFIG["html_url"] + "/commit/" + sha,
        **changes,
    }


def push_event(before, after, ref):
    shas = []
    if after != NO_COMMIT:
        span = after if before == NO_COMMIT else before + ".." + after
        shas = git("rev-list", "--reverse", span).split()
    commits = [describe(sha) for sha in shas]
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == NO_COMMIT,
        "deleted": after == NO_COMMIT,
        "forced": False,
        "commits": commits,
        "head_commit": commits[-1] if commits else None,
        "pusher": {"name": "hook"},
        "repository": {"clone_url": CONFIG["clone_url"], "html_url": CONFIG["html_url"]},
    }


def deliver(event):
    body = json.dumps(event).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
    }
    secret = HERE / "webhook-secret"
    if secret.exists():
        digest = hmac.new(secret.read_bytes().strip(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = "sha256=" + digest
    request = urllib.request.Request(CONFIG["endpoint"], data=body, headers=headers, method="POST")
    # The server is on loopback: no proxy of the environment may stand between.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


for line in sys.stdin:
    before, after, ref = line.split()
    status, answer = deliver(push_event(before, after, ref))
    with (HERE / "deliveries").open("a") as log:
        log.write(json.dumps({"status": status, "answer": json.loads(answer)}) + "\n")
    print("home-idp answered", status, answer)
'''


def _git_env(home: Path, author: str) -> dict[str, str]:
    """git with none of this machine's configuration, committing as `author`."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": "dev@example.test",
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": "dev@example.test",
    }


@dataclass
class SourceRepo:
    """A bare repository the git server serves, and a work clone that pushes to it."""

    bare: Path
    work: Path

    @classmethod
    async def make(cls, served_root: Path, scratch: Path) -> SourceRepo:
        name = uuid.uuid4().hex
        bare = await asyncio.to_thread(make_bare_repo, served_root, name)
        repo = cls(bare, scratch / f"{name}-work")
        await repo.git("clone", "--quiet", str(bare), str(repo.work), cwd=scratch)
        return repo

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{SOURCE_PORT}/{self.bare.name}"

    @property
    def hooks(self) -> Path:
        return self.bare / "hooks"

    async def git(self, *args: str, cwd: Path | None = None, author: str = "Dev") -> str:
        # In a thread: `git push` waits for the hook, whose webhook this very
        # event loop must answer (the live server runs on it).
        done = await asyncio.to_thread(
            subprocess.run,
            ["git", *args],
            cwd=cwd or self.work,
            env=_git_env(cwd or self.work, author),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout.strip()

    async def head(self) -> str:
        return await self.git("rev-parse", "refs/heads/main", cwd=self.bare)

    async def commit_and_push(self, files: dict[str, str], message: str, author: str) -> str:
        """Commit `files` on main in the work clone, push them, and return the commit."""
        for path, content in files.items():
            (self.work / path).parent.mkdir(parents=True, exist_ok=True)
            (self.work / path).write_text(content)
        await self.git("add", "--all")
        await self.git("commit", "--quiet", "-m", message, author=author)
        sha = await self.git("rev-parse", "HEAD")
        # A push to a local path runs the bare repository's hooks, as a host would.
        await self.git("push", "--quiet", "origin", "HEAD:refs/heads/main")
        return sha

    def install_hook(self, endpoint: str, secret: str | None) -> None:
        config = {
            "endpoint": endpoint,
            "clone_url": self.url,
            "html_url": self.url.removesuffix(".git"),
        }
        (self.hooks / "hook.json").write_text(json.dumps(config))
        self.sign_with(secret)
        hook = self.hooks / "post-receive"
        hook.write_text(f"#!{sys.executable}{HOOK_SCRIPT}")
        hook.chmod(0o755)

    def sign_with(self, secret: str | None) -> None:
        secret_file = self.hooks / "webhook-secret"
        if secret is None:
            secret_file.unlink(missing_ok=True)
        else:
            secret_file.write_text(secret)

    def remove_hook(self) -> None:
        (self.hooks / "post-receive").unlink()

    def deliveries(self) -> list[dict[str, Any]]:
        """What the server answered the hook, oldest first."""
        log = self.hooks / "deliveries"
        lines = log.read_text().splitlines() if log.exists() else []
        return [json.loads(line) for line in lines]


@dataclass
class Shop:
    """A developer and the app `shop/web`, which follows `repo`."""

    dev: Person
    app: App
    repo: SourceRepo
    gql: GraphQLClient

    @property
    def gid(self) -> str:
        return to_base64("App", self.app.id)

    async def new_secret(self) -> tuple[str, str]:
        """A webhook secret made through the API, and the URL to give the git host."""
        made = await self.gql(NEW_SECRET, {"input": {"app": self.gid}}, token=self.dev.token)
        payload = made["newSourceWebhookSecret"]
        assert payload["__typename"] == "SourceWebhookSecretSuccess", payload
        assert payload["app"]["sourceWebhook"]["secretSet"] is True
        return str(payload["secret"]), str(payload["app"]["sourceWebhook"]["url"])

    async def releases(self) -> list[Release]:
        return await Release.filter(app_id=self.app.id).order_by("number")


async def make_shop(
    factory: Factory, gql: GraphQLClient, components: BuildComponents, scratch: Path
) -> Shop:
    dev = await factory.user("dev")
    project = await factory.project("shop", dev="developer")
    repo = await SourceRepo.make(components.source.root, scratch)
    app = await App.create(project=project, name="web", source_repo=repo.url)
    return Shop(dev, app, repo, gql)


async def built_file(image: str, path: str) -> str:
    """The content of `path` in the image, read from its layers in the registry."""
    name, _, tag = image.removeprefix(f"{REGISTRY_HOST}/").rpartition(":")
    async with httpx.AsyncClient(base_url=REGISTRY_URL, follow_redirects=True) as client:
        accept = {"Accept": MANIFEST_TYPES}
        manifest = (await client.get(f"/v2/{name}/manifests/{tag}", headers=accept)).json()
        if "manifests" in manifest:  # an index: the one platform built
            digest = manifest["manifests"][0]["digest"]
            manifest = (await client.get(f"/v2/{name}/manifests/{digest}", headers=accept)).json()
        # The newest layer that holds the path wins, as in the running container.
        for layer in reversed(manifest["layers"]):
            blob = await client.get(f"/v2/{name}/blobs/{layer['digest']}")
            blob.raise_for_status()
            with tarfile.open(fileobj=io.BytesIO(blob.content), mode="r:*") as archive:
                for member in archive.getmembers():
                    if member.name.removeprefix("./") == path and member.isfile():
                        extracted = archive.extractfile(member)
                        assert extracted is not None
                        return extracted.read().decode()
    raise AssertionError(f"{path} is in no layer of {image}")


def release_gid(release: Release) -> str:
    return to_base64("Release", release.id)


async def newest_source_delivery() -> WebhookDelivery:
    delivery = await WebhookDelivery.filter(source="source").order_by("-id").first()
    assert delivery is not None
    return delivery


async def test_a_push_deploys_the_pushed_commit_watch_paths_filter_and_polling_takes_over(
    app: Starlette,
    settings: Settings,
    runtime: Runtime,
    factory: Factory,
    gql: GraphQLClient,
    build_components: BuildComponents,
    tmp_path: Path,
) -> None:
    shop = await make_shop(factory, gql, build_components, tmp_path)
    repo = shop.repo
    async with live_server(app, port=settings.port):
        # Release #1: a Dockerfile save builds whatever the branch points at.
        saved = await save_dockerfile(gql, shop.dev.token, shop.app, unique_dockerfile())
        assert saved["__typename"] == "SaveDockerfileSuccess", saved
        first = await wait_for_release(int(from_base64(saved["release"]["id"])[1]), RELEASE_SECONDS)
        assert first.status is ReleaseStatus.SUCCEEDED, first.error
        assert first.source_sha == await repo.head()

        secret, endpoint = await shop.new_secret()
        assert endpoint == f"http://127.0.0.1:{settings.port}/webhooks/source?app=shop%2Fweb"
        repo.install_hook(endpoint, secret)

        # -- a push deploys exactly the pushed commit ---------------------------------
        pushed = await repo.commit_and_push(
            {"index.html": "hello from a push\n"}, "Say hello from a push", author="Ada Lovelace"
        )

        # The hook posts before `git push` returns, and the server answers once
        # the release is started.
        [answer] = repo.deliveries()
        assert answer["status"] == 200, answer
        assert answer["answer"] == {"outcome": "accepted", "detail": "shop/web: release #2 started"}
        second = (await shop.releases())[-1]
        assert (second.number, second.trigger, second.created_by) == (2, "push", "webhook")
        assert (second.source_sha, second.source_author) == (pushed, "Ada Lovelace")
        assert second.source_message == "Say hello from a push"
        second = await wait_for_release(second.id, RELEASE_SECONDS)
        assert second.status is ReleaseStatus.SUCCEEDED, second.error
        assert second.commit_sha is not None and second.image is not None
        assert second.image == f"{REGISTRY_HOST}/shop/web:{image_tag(2, second.commit_sha, pushed)}"
        assert f"-{pushed[:12]}-" in second.image
        # The image holds the pushed content, not the branch's first commit.
        assert await built_file(second.image, "app/index.html") == "hello from a push\n"
        shown = (await gql(RELEASE_SOURCE, {"id": release_gid(second)}, shop.dev.token))["node"]
        assert shown == {
            "number": 2,
            "trigger": "push",
            "status": "SUCCEEDED",
            "sourceCommit": {
                "sha": pushed,
                "author": "Ada Lovelace",
                "message": "Say hello from a push",
            },
        }
        delivery = await newest_source_delivery()
        assert delivery.signature_ok and delivery.outcome is DeliveryOutcome.ACCEPTED
        assert delivery.event == "github:push"
        assert delivery.headers["signed-for"] == "shop/web"
        assert "release #2 started" in delivery.detail

        # -- a push outside the watch paths starts nothing ---------------------------------
        watched = await gql(
            UPDATE, {"input": {"id": shop.gid, "watchPaths": ["src/**"]}}, token=shop.dev.token
        )
        assert watched["updateApp"]["app"]["watchPaths"] == ["src/**"], watched
        docs = await repo.commit_and_push(
            {"docs/guide.md": "how to run it\n"}, "Document running", author="Ada Lovelace"
        )
        answer = repo.deliveries()[-1]
        assert answer["status"] == 200, answer
        assert answer["answer"]["outcome"] == "ignored"
        assert "touches none of the watch paths" in answer["answer"]["detail"]
        delivery = await newest_source_delivery()
        assert delivery.signature_ok and delivery.outcome is DeliveryOutcome.IGNORED
        assert f"{docs[:12]} touches none of the watch paths" in delivery.detail
        assert [release.number for release in await shop.releases()] == [1, 2]

        # -- with no webhook, polling finds the next commit in the repository -------------
        repo.remove_hook()
        deliveries = await WebhookDelivery.filter(source="source").count()
        code = await repo.commit_and_push(
            {"src/greeting.txt": "hello from src\n"}, "Greet from src", author="Grace Hopper"
        )
        assert await WebhookDelivery.filter(source="source").count() == deliveries
        poller = SourcePoller(
            runtime.deploy.probe,
            runtime.deploy.engine,
            runtime.settings.sources.model_copy(update={"poll_seconds": 30}),
        )
        await poller.poll_once()
        third = (await shop.releases())[-1]
        assert (third.number, third.trigger, third.source_sha) == (3, "poll", code)
        # Who and why come from the repository itself (a blobless fetch of the commit).
        assert (third.source_author, third.source_message) == ("Grace Hopper", "Greet from src")
        third = await wait_for_release(third.id, RELEASE_SECONDS)
        assert third.status is ReleaseStatus.SUCCEEDED, third.error
        assert third.image is not None and f"-{code[:12]}-" in third.image
        assert await built_file(third.image, "app/src/greeting.txt") == "hello from src\n"
        # Asked again with nothing new, it starts nothing.
        await poller.poll_once()
        assert len(await shop.releases()) == 3

        # -- a repository that went away shows on the app, and starts nothing -------------
        await asyncio.to_thread(shutil.rmtree, repo.bare)
        await poller.poll_once()
        source = (await gql(APP_SOURCE, {"id": shop.gid}, shop.dev.token))["node"]
        assert source["sourceError"] is not None, source
        # git's own words, which name the repository it could not find.
        assert source["sourceError"].startswith("could not list its refs: "), source
        assert repo.url in source["sourceError"] and "not found" in source["sourceError"]
        assert source["sourceCheckedAt"] is not None
        # A source that failed is asked again later, not on the very next round.
        await poller.poll_once()
        again = (await gql(APP_SOURCE, {"id": shop.gid}, shop.dev.token))["node"]
        assert again == source
        assert len(await shop.releases()) == 3


async def test_unsigned_forged_and_unfollowed_pushes_start_nothing(
    app: Starlette,
    settings: Settings,
    factory: Factory,
    gql: GraphQLClient,
    build_components: BuildComponents,
    tmp_path: Path,
) -> None:
    shop = await make_shop(factory, gql, build_components, tmp_path)
    _, endpoint = await shop.new_secret()
    # Nobody follows this one: its URL is no app's source.
    elsewhere = await SourceRepo.make(build_components.source.root, tmp_path)
    async with live_server(app, port=settings.port):
        shop.repo.install_hook(endpoint, secret=None)
        await shop.repo.commit_and_push({"index.html": "unsigned\n"}, "Unsigned", "Eve")
        shop.repo.sign_with("not-the-apps-secret")
        await shop.repo.commit_and_push({"index.html": "forged\n"}, "Forged", "Eve")
        elsewhere.install_hook(endpoint, secret="whatever-its-host-holds")
        await elsewhere.commit_and_push({"index.html": "elsewhere\n"}, "Elsewhere", "Dev")

    assert [answer["status"] for answer in shop.repo.deliveries()] == [401, 401]
    assert {answer["answer"]["outcome"] for answer in shop.repo.deliveries()} == {"rejected"}
    [foreign] = elsewhere.deliveries()
    assert foreign["status"] == 202, foreign
    assert foreign["answer"] == {
        "outcome": "ignored",
        "detail": "no app follows this repository with a webhook secret",
    }
    recorded = await WebhookDelivery.filter(source="source").order_by("id")
    assert [(d.outcome, d.signature_ok) for d in recorded] == [
        (DeliveryOutcome.REJECTED, False),
        (DeliveryOutcome.REJECTED, False),
        (DeliveryOutcome.IGNORED, False),
    ]
    assert "matches the secret of no app" in recorded[0].detail
    # Not even the rejected deliveries' bodies are kept (only signed ones are).
    assert all(delivery.body is None for delivery in recorded)
    assert await shop.releases() == []
    await shop.app.refresh_from_db()
    assert shop.app.source_seen_sha is None
