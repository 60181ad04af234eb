"""The `local` git plugin against real git: bare repo, pushes, the post-receive webhook."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from home_idp.plugins.errors import WebhookRejected
from home_idp.plugins.git import local as local_module
from home_idp.plugins.git.contract import (
    CommitAuthor,
    GitConfig,
    GitError,
    GitPlugin,
    GitUnavailable,
)
from home_idp.plugins.git.local import LocalGit
from home_idp.plugins.git.post_receive import CONFIG_NAME
from tests.liveserver import free_port, live_server

SECRET = "s3cret-s3cret-s3cret"
ALICE = CommitAuthor("alice", "alice@users.home-idp")
ZERO = "0" * 40


def make_git(data_dir: Path, url: str = "http://127.0.0.1:9/unused", **options: str) -> LocalGit:
    return LocalGit(GitConfig("platform", "main", data_dir, url, SECRET, options))


async def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        "git",
        f"--git-dir={repo}",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def assert_linear(repo: Path, head: str) -> list[str]:
    """The branch's commits, oldest first; fails on any merge commit."""
    assert await git(repo, "rev-list", "--min-parents=2", head) == ""
    return (await git(repo, "rev-list", "--reverse", head)).split()


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps what it is sent."""

    url: str
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.deliveries]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with live_server(app) as address:
        yield Receiver(f"http://{address}/hook", received)


@pytest.fixture
async def local_git(tmp_path: Path) -> LocalGit:
    plugin = make_git(tmp_path)
    await plugin.ensure_repo()
    return plugin


async def test_it_is_a_git_plugin_with_its_names(tmp_path: Path) -> None:
    plugin = make_git(tmp_path)
    assert isinstance(plugin, GitPlugin)
    assert plugin.repository == "local/platform"
    assert plugin.clone_url == str(tmp_path / "git" / "platform.git")
    assert make_git(tmp_path, clone_url="http://h/git/platform.git").clone_url.startswith("http")
    await plugin.aclose()


@pytest.mark.parametrize(
    ("repo_name", "branch"), [("Platform", "main"), ("../x", "main"), ("platform", "a..b")]
)
def test_unusable_names_are_refused(tmp_path: Path, repo_name: str, branch: str) -> None:
    with pytest.raises(GitError):
        LocalGit(GitConfig(repo_name, branch, tmp_path, "http://h/", SECRET))


async def test_ensure_repo_is_idempotent_and_private(tmp_path: Path) -> None:
    plugin = make_git(tmp_path)
    await plugin.ensure_repo()
    await plugin.ensure_repo()
    repo = tmp_path / "git" / "platform.git"
    assert (await git(repo, "rev-parse", "--is-bare-repository")).strip() == "true"
    assert (await git(repo, "symbolic-ref", "HEAD")).strip() == "refs/heads/main"
    assert (await git(repo, "config", "http.receivepack")).strip() == "false"
    for directory in (tmp_path / "git", repo):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert await plugin.head() is None
    assert not await plugin.contains("a" * 40)


async def test_commit_then_read_it_back(local_git: LocalGit) -> None:
    files = {"projects/web/apps/api/Dockerfile": b"FROM scratch\n", "README.md": b"\x00bin"}
    result = await local_git.commit_files(files, ALICE, "add the api")
    assert result.changed
    assert await local_git.head() == result.sha
    assert await local_git.contains(result.sha)
    assert await local_git.contains(result.sha[:10])
    for path, content in files.items():
        assert await local_git.read_file(path, result.sha) == content
    assert await local_git.read_file("projects/web", result.sha) is None  # a tree
    assert await local_git.read_file("missing.txt", result.sha) is None
    assert await local_git.read_file("README.md", "f" * 40) is None
    assert not await local_git.contains("f" * 40)
    assert not await local_git.contains("not-a-sha")
    with pytest.raises(GitError):
        await local_git.read_file("README.md", "HEAD~1")
    log = await git(local_git.path, "log", "-1", "--format=%an <%ae>|%cn|%s", "main")
    assert log.strip() == "alice <alice@users.home-idp>|alice|add the api"


async def test_same_content_makes_no_commit(local_git: LocalGit) -> None:
    first = await local_git.commit_files({"a.txt": b"one"}, ALICE, "one")
    again = await local_git.commit_files({"a.txt": b"one"}, ALICE, "one again")
    assert again.sha == first.sha
    assert not again.changed
    assert not (await local_git.commit_files({"gone.txt": None}, ALICE, "noop")).changed
    assert await local_git.head() == first.sha


async def test_none_deletes_a_file(local_git: LocalGit) -> None:
    first = await local_git.commit_files({"a.txt": b"a", "b.txt": b"b"}, ALICE, "two")
    second = await local_git.commit_files({"a.txt": None}, ALICE, "drop a")
    assert second.changed
    assert await local_git.read_file("a.txt", second.sha) is None
    assert await local_git.read_file("b.txt", second.sha) == b"b"
    assert await local_git.read_file("a.txt", first.sha) == b"a"
    assert await assert_linear(local_git.path, second.sha) == [first.sha, second.sha]


@pytest.mark.parametrize(
    "path", ["", "../etc/passwd", "/abs", "a//b", "a/./b", ".git/config", "a/.GIT/x", "a b", "x\n"]
)
async def test_bad_paths_are_refused(local_git: LocalGit, path: str) -> None:
    with pytest.raises(GitError, match="refusing"):
        await local_git.commit_files({path: b"x"}, ALICE, "bad")
    assert await local_git.head() is None


@pytest.mark.parametrize(
    ("files", "author", "message"),
    [
        ({"a": b"x", "a/b": b"y"}, ALICE, "file and directory"),
        ({"a": "text"}, ALICE, "not bytes"),
        ({"a": b"x"}, CommitAuthor("eve\nparent 1234", "e@x"), "header injection"),
        ({"a": b"x"}, CommitAuthor("eve", "e@x>"), "bad email"),
        ({"a": b"x"}, ALICE, "   "),
    ],
)
async def test_bad_commits_are_refused(
    local_git: LocalGit, files: dict[str, Any], author: CommitAuthor, message: str
) -> None:
    with pytest.raises(GitError):
        await local_git.commit_files(files, author, message)


async def test_commit_without_a_repo_is_unavailable(tmp_path: Path) -> None:
    plugin = make_git(tmp_path)
    with pytest.raises(GitUnavailable):
        await plugin.commit_files({"a": b"x"}, ALICE, "no repo")


async def test_a_failing_git_command_raises_its_message(local_git: LocalGit) -> None:
    (local_git.path / "config").write_text("[core\n  nonsense")
    with pytest.raises(GitError, match="bad config"):
        await local_git.head()


async def test_the_servers_git_environment_is_not_inherited(
    local_git: LocalGit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "stray-index"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "mallory")
    result = await local_git.commit_files({"a": b"x"}, ALICE, "clean env")
    assert await local_git.read_file("a", result.sha) == b"x"
    assert not (tmp_path / "stray-index").exists()
    monkeypatch.delenv("GIT_DIR")
    assert (await git(local_git.path, "log", "-1", "--format=%an")).strip() == "alice"


async def commit_many(plugins: list[LocalGit], per_plugin: int) -> list[str]:
    results = await asyncio.gather(
        *(
            plugin.commit_files({f"w{n}/f{i}.txt": f"{n}-{i}".encode()}, ALICE, f"w{n} #{i}")
            for n, plugin in enumerate(plugins)
            for i in range(per_plugin)
        )
    )
    assert all(result.changed for result in results)
    return [result.sha for result in results]


async def test_concurrent_commits_all_land_in_a_line(
    local_git: LocalGit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_module, "_PRUNE_EVERY", 3)  # prune the scratch repo meanwhile
    shas = await commit_many([local_git], 8)
    head = await local_git.head()
    assert head is not None
    history = await assert_linear(local_git.path, head)
    assert sorted(history) == sorted(shas)
    for i in range(8):
        assert await local_git.read_file(f"w0/f{i}.txt", head) == f"0-{i}".encode()


async def test_two_instances_on_one_data_dir_both_land(tmp_path: Path) -> None:
    first, second = make_git(tmp_path), make_git(tmp_path)
    await asyncio.gather(first.ensure_repo(), second.ensure_repo())
    shas = await commit_many([first, second], 6)
    head = await second.head()
    assert head is not None
    assert sorted(await assert_linear(first.path, head)) == sorted(shas)
    assert all([await first.contains(sha) for sha in shas])
    assert (await git(first.path, "fsck", "--no-dangling")) == ""


async def test_the_hook_posts_signed_push_events(tmp_path: Path, receiver: Receiver) -> None:
    plugin = make_git(tmp_path, receiver.url)
    await plugin.register_webhook()
    hooks = plugin.path / "hooks"
    assert stat.S_IMODE((hooks / "post-receive").stat().st_mode) == 0o700
    assert stat.S_IMODE((hooks / CONFIG_NAME).stat().st_mode) == 0o600
    assert (hooks / "post-receive").read_text().startswith(f"#!{sys.executable}\n")

    first = await plugin.commit_files({"a.txt": b"a", "b.txt": b"b"}, ALICE, "first\n\nbody")
    second = await plugin.commit_files({"a.txt": b"A", "b.txt": None, "c.txt": b"c"}, ALICE, "2")
    assert len(receiver.deliveries) == 2
    for headers, body in receiver.deliveries:
        assert headers["x-github-event"] == "push"
        assert headers["content-type"] == "application/json"
        assert len(headers["x-github-delivery"]) == 36
        assert plugin.verify_webhook(body, headers["x-hub-signature-256"])
        assert not plugin.verify_webhook(body + b" ", headers["x-hub-signature-256"])
    assert (
        receiver.deliveries[0][0]["x-github-delivery"]
        != receiver.deliveries[1][0]["x-github-delivery"]
    )

    pushes = [plugin.parse_push(body) for _, body in receiver.deliveries]
    assert (pushes[0].before, pushes[0].after, pushes[0].commits) == (ZERO, first.sha, (first.sha,))
    assert (pushes[1].before, pushes[1].after, pushes[1].commits) == (
        first.sha,
        second.sha,
        (second.sha,),
    )
    assert pushes[1].repository == plugin.repository
    assert pushes[1].branch == "main"

    created, updated = receiver.events()
    assert created["created"] and not created["deleted"]
    assert created["repository"] == {"full_name": "local/platform", "name": "platform"}
    commit = created["commits"][0]
    assert commit["message"] == "first\n\nbody"
    assert commit["author"] == {"name": "alice", "email": "alice@users.home-idp"}
    assert commit["added"] == ["a.txt", "b.txt"]
    assert commit["timestamp"][:2] == "20"
    assert updated["head_commit"]["id"] == second.sha
    change = updated["commits"][0]
    assert (change["added"], change["modified"], change["removed"]) == (
        ["c.txt"],
        ["a.txt"],
        ["b.txt"],
    )
    assert not updated["forced"]


async def test_the_hook_reads_a_last_line_without_newline(
    tmp_path: Path, receiver: Receiver
) -> None:
    plugin = make_git(tmp_path, receiver.url)
    await plugin.register_webhook()
    commit = await plugin.commit_files({"a": b"a"}, ALICE, "one")
    receiver.deliveries.clear()
    # Another git server (dulwich) feeds the hook without a final newline.
    process = await asyncio.create_subprocess_exec(
        str(plugin.path / "hooks" / "post-receive"),
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=plugin.path,
        env={"PATH": os.environ["PATH"], "GIT_DIR": "."},
    )
    _, err = await process.communicate(f"{ZERO} {commit.sha} refs/heads/main".encode())
    assert process.returncode == 0, err
    assert [event["after"] for event in receiver.events()] == [commit.sha]


async def test_a_hook_without_its_settings_says_so_and_exits_0(tmp_path: Path) -> None:
    plugin = make_git(tmp_path)
    await plugin.register_webhook()
    (plugin.path / "hooks" / CONFIG_NAME).unlink()
    process = await asyncio.create_subprocess_exec(
        str(plugin.path / "hooks" / "post-receive"),
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=plugin.path,
    )
    _, err = await process.communicate(f"{ZERO} {'a' * 40} refs/heads/main\n".encode())
    assert process.returncode == 0
    assert err.decode().startswith("home-idp: push webhooks not sent:")
    assert err.count(b"\n") == 1


async def test_a_dead_webhook_url_does_not_fail_a_commit(tmp_path: Path) -> None:
    plugin = make_git(tmp_path, f"http://127.0.0.1:{free_port()}/hook")
    await plugin.register_webhook()
    result = await plugin.commit_files({"a": b"a"}, ALICE, "nobody listens")
    assert result.changed
    assert await plugin.head() == result.sha


async def test_register_again_redirects_the_hook(tmp_path: Path, receiver: Receiver) -> None:
    old = make_git(tmp_path, f"http://127.0.0.1:{free_port()}/old")
    await old.register_webhook()
    assert "/old" in (old.path / "hooks" / CONFIG_NAME).read_text()
    new = make_git(tmp_path, receiver.url)
    await new.register_webhook()
    result = await old.commit_files({"a": b"a"}, ALICE, "after a restart")
    assert [event["after"] for event in receiver.events()] == [result.sha]


@pytest.mark.parametrize("url", ["", "file:///etc/passwd", "ftp://h/"])
async def test_register_refuses_non_http_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(GitError):
        await make_git(tmp_path, url).register_webhook()


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", json.dumps({"zen": "ping"}).encode(), b'{"ref": 1, "before": 2}'],
)
def test_parse_push_rejects_what_is_not_a_push(tmp_path: Path, body: bytes) -> None:
    with pytest.raises(WebhookRejected):
        make_git(tmp_path).parse_push(body)


@pytest.mark.parametrize("signature", [None, "", "sha1=abc", "sha256=" + "0" * 64])
def test_verify_refuses_bad_signatures(tmp_path: Path, signature: str | None) -> None:
    assert not make_git(tmp_path).verify_webhook(b"{}", signature)
