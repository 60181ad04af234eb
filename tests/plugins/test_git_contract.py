"""The GitPlugin contract, one suite that every in-tree git plugin passes.

`local` runs against real git (a bare repo in a temp dir, its post-receive
hook; a `system` test); `github` runs PyGithub against the GitHub stand-in
over real HTTP; `fake` is the in-memory fake the fast tier runs on. Each push
webhook goes to a small receiver served on 127.0.0.1 by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from home_idp.plugins.discovery import installed_plugins, load_plugin
from home_idp.plugins.git.contract import (
    CommitAuthor,
    GitConfig,
    GitError,
    GitPlugin,
    SourceHookOutcome,
    SourceHookRegistrar,
)
from tests.doubles.github import github_stand_in
from tests.fakes import FakeGit
from tests.liveserver import live_server

PLUGINS = ["local", "github"]
SUBJECTS = [pytest.param("local", marks=pytest.mark.system), "github", "fake"]
TOKEN = "ghp_ContractSuiteToken0123456789abcdefAB"
LOGIN = "home-idp-bot"
BRANCH = "main"
SECRET = "contract-suite-webhook-secret"
AUTHOR = CommitAuthor("Ada Lovelace", "ada@example.test")
DOCKERFILE = "projects/shop/apps/web/Dockerfile"
UNKNOWN_SHA = "0123456789" * 4
BAD_PATHS = ["../x", ".git/config", "/abs", "a//b", "x\n"]
# The plugins with the optional capability of registering apps' source webhooks.
REGISTER_SOURCE_HOOKS = {"github"}


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every request it is sent."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def pushes(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in self.received if h.get("x-github-event") == "push"]

    async def push_of(self, sha: str) -> tuple[dict[str, str], bytes]:
        """The push event whose `after` is `sha`; fails after 5 s without one."""
        async with asyncio.timeout(5):
            while True:
                for headers, body in self.pushes():
                    if json.loads(body).get("after") == sha:
                        return headers, body
                await asyncio.sleep(0.01)


@dataclass
class Subject:
    """A plugin under test, with a made repo, and where its webhooks land."""

    name: str
    plugin: GitPlugin
    receiver: Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()

    async def hook(request: Request) -> Response:
        receiver.received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/webhooks/git", hook, methods=["POST"])])
    async with live_server(app) as address:
        receiver.url = f"http://{address}/webhooks/git"
        yield receiver


@pytest.fixture(params=SUBJECTS)
async def subject(
    request: pytest.FixtureRequest, receiver: Receiver, tmp_path: Path
) -> AsyncIterator[Subject]:
    name: str = request.param
    options: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        if name == "github":
            github = await stack.enter_async_context(github_stand_in(TOKEN, login=LOGIN))
            options = {
                "token": TOKEN,
                "owner": LOGIN,
                "api_url": github.base_url,
                "seconds_between_requests": "0",
                "seconds_between_writes": "0",
            }
        config = GitConfig("platform", BRANCH, tmp_path, receiver.url, SECRET, options)
        # Made as the server makes it: through the plugin registry.
        plugin: GitPlugin = FakeGit(config) if name == "fake" else load_plugin("git", name)(config)
        await plugin.ensure_repo()
        try:
            yield Subject(name, plugin, receiver)
        finally:
            await plugin.aclose()


def test_the_suite_covers_every_installed_git_plugin() -> None:
    assert installed_plugins("git") == sorted(PLUGINS)


async def test_it_is_a_git_plugin(subject: Subject) -> None:
    assert isinstance(subject.plugin, GitPlugin)
    assert subject.plugin.repository
    assert subject.plugin.clone_url


async def test_ensure_repo_is_idempotent(subject: Subject) -> None:
    plugin = subject.plugin
    before = await plugin.head()
    await plugin.ensure_repo()
    await plugin.ensure_repo()
    assert await plugin.head() == before

    committed = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add")
    await plugin.ensure_repo()
    assert await plugin.head() == committed.sha
    assert await plugin.read_file(DOCKERFILE, committed.sha) == b"FROM scratch\n"


async def test_a_commit_is_the_head_and_reads_back(subject: Subject) -> None:
    plugin = subject.plugin
    before = await plugin.head()
    content = b"FROM scratch\n" + bytes(range(256))  # not text: bytes must come back exact

    result = await plugin.commit_files(
        {DOCKERFILE: content, "projects/shop/README.md": b"shop\n"}, AUTHOR, "Add web"
    )

    assert result.changed
    assert result.sha != before
    assert await plugin.head() == result.sha
    assert await plugin.read_file(DOCKERFILE, result.sha) == content
    assert await plugin.read_file("projects/shop/README.md", result.sha) == b"shop\n"
    assert await plugin.read_file("projects/shop/missing", result.sha) is None
    assert await plugin.read_file(DOCKERFILE, UNKNOWN_SHA) is None
    if before is not None:
        assert await plugin.read_file(DOCKERFILE, before) is None


async def test_unchanged_content_makes_no_commit(subject: Subject) -> None:
    plugin = subject.plugin
    first = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add")

    again = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add again")

    assert again.changed is False
    assert again.sha == first.sha
    assert await plugin.head() == first.sha


async def test_none_deletes(subject: Subject) -> None:
    plugin = subject.plugin
    added = await plugin.commit_files(
        {DOCKERFILE: b"FROM scratch\n", "keep": b"k\n"}, AUTHOR, "Add"
    )

    deleted = await plugin.commit_files({DOCKERFILE: None}, AUTHOR, "Remove the Dockerfile")
    again = await plugin.commit_files({DOCKERFILE: None}, AUTHOR, "Remove it again")

    assert deleted.changed
    assert await plugin.head() == deleted.sha
    assert await plugin.read_file(DOCKERFILE, deleted.sha) is None
    assert await plugin.read_file("keep", deleted.sha) == b"k\n"
    assert await plugin.read_file(DOCKERFILE, added.sha) == b"FROM scratch\n"
    assert again.changed is False
    assert again.sha == deleted.sha


async def test_contains(subject: Subject) -> None:
    plugin = subject.plugin
    first = await plugin.commit_files({DOCKERFILE: b"one\n"}, AUTHOR, "One")
    second = await plugin.commit_files({DOCKERFILE: b"two\n"}, AUTHOR, "Two")

    assert await plugin.contains(first.sha)  # an ancestor of the head
    assert await plugin.contains(second.sha)  # the head
    assert not await plugin.contains(UNKNOWN_SHA)


async def test_concurrent_commits_all_land(subject: Subject) -> None:
    plugin = subject.plugin
    paths = [f"projects/p{n}/apps/a/Dockerfile" for n in range(5)]

    results = await asyncio.gather(
        *(plugin.commit_files({path: f"FROM {path}\n".encode()}, AUTHOR, path) for path in paths)
    )

    head = await plugin.head()
    assert head is not None
    assert all(result.changed for result in results)
    assert len({result.sha for result in results}) == len(paths)
    for result in results:
        assert await plugin.contains(result.sha)
    for path in paths:
        assert await plugin.read_file(path, head) == f"FROM {path}\n".encode()


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_bad_paths_are_refused_before_anything_changes(subject: Subject, path: str) -> None:
    plugin = subject.plugin
    before = await plugin.commit_files({"fine/file": b"before\n"}, AUTHOR, "Before")

    with pytest.raises(GitError):
        await plugin.commit_files({"fine/file": b"after\n", path: b"evil"}, AUTHOR, "Evil")
    with pytest.raises(GitError):
        await plugin.read_file(path, before.sha)

    assert await plugin.head() == before.sha
    assert await plugin.read_file("fine/file", before.sha) == b"before\n"


async def test_a_push_sends_a_signed_event_the_plugin_verifies_and_parses(
    subject: Subject,
) -> None:
    plugin = subject.plugin
    await plugin.register_webhook()
    before = await plugin.head()

    result = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add web")
    headers, body = await subject.receiver.push_of(result.sha)

    signature = headers.get("x-hub-signature-256")
    assert plugin.verify_webhook(body, signature)
    event = plugin.parse_push(body)
    assert event.repository == plugin.repository
    assert event.ref == f"refs/heads/{BRANCH}"
    assert event.branch == BRANCH
    assert event.after == result.sha
    if before is not None:
        assert event.before == before
    assert result.sha in event.commits

    tampered = body.replace(result.sha.encode(), UNKNOWN_SHA.encode())
    assert tampered != body
    assert not plugin.verify_webhook(tampered, signature)
    assert not plugin.verify_webhook(body, None)
    assert not plugin.verify_webhook(body, "")


async def test_register_webhook_twice_sends_one_event_per_push(subject: Subject) -> None:
    plugin = subject.plugin
    await plugin.register_webhook()
    await plugin.register_webhook()

    result = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add web")
    await subject.receiver.push_of(result.sha)
    await asyncio.sleep(0.1)  # room for a second, duplicate delivery to arrive

    afters = [json.loads(body)["after"] for _, body in subject.receiver.pushes()]
    assert afters == [result.sha]


async def test_source_hooks_are_an_optional_capability(subject: Subject) -> None:
    plugin = subject.plugin
    assert isinstance(plugin, SourceHookRegistrar) is (subject.name in REGISTER_SOURCE_HOOKS)
    if not isinstance(plugin, SourceHookRegistrar):
        return
    # A repository on no host the plugin knows: an answer, not an exception.
    result = await plugin.register_source_hook(
        "https://git.elsewhere.test/acme/web.git", subject.receiver.url, SECRET
    )
    assert result.outcome is SourceHookOutcome.NOT_SUPPORTED
    assert not result.registered
    assert SECRET not in result.message


async def test_aclose(subject: Subject) -> None:
    await subject.plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add")
    await subject.plugin.aclose()  # the fixture closes it again: closing twice is fine
