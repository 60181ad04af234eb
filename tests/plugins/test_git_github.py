"""The github git plugin: real PyGithub against the GitHub stand-in, over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from home_idp.plugins.errors import WebhookRejected
from home_idp.plugins.git.contract import (
    CommitAuthor,
    GitConfig,
    GitError,
    GitPlugin,
    GitUnavailable,
    SourceHookOutcome,
    SourceHookRegistrar,
)
from home_idp.plugins.git.github import GitHubGit, git_blob_sha
from tests.doubles.github import (
    HOOKS_NONE,
    HOOKS_READ,
    FakeRepo,
    GitHubStandIn,
    Hook,
    github_stand_in,
)
from tests.liveserver import live_server

TOKEN = "ghp_StandInToken0123456789abcdefABCDEF01"
LOGIN = "home-idp-bot"
REPO = f"{LOGIN}/platform"
AUTHOR = CommitAuthor("Ada Lovelace", "ada@example.test")
DOCKERFILE = "projects/shop/apps/web/Dockerfile"
HOOK_SECRET = "hook-secret"
SOURCE = "acme/web"
SOURCE_HOOK_URL = "https://idp.example.test/webhooks/source?app=shop%2Fweb"
SOURCE_SECRET = "source-hook-secret-0123456789"

MakePlugin = Callable[..., GitHubGit]


@pytest.fixture
async def github() -> AsyncIterator[GitHubStandIn]:
    async with github_stand_in(TOKEN, login=LOGIN, orgs=("acme",)) as stand_in:
        yield stand_in


@pytest.fixture
async def make_plugin(github: GitHubStandIn, tmp_path: Path) -> AsyncIterator[MakePlugin]:
    made: list[GitHubGit] = []

    def make(
        *,
        owner: str = LOGIN,
        repo_name: str = "platform",
        branch: str = "main",
        webhook_url: str = "http://127.0.0.1:9/webhooks/git",
        webhook_secret: str = HOOK_SECRET,
        **options: str,
    ) -> GitHubGit:
        settings = {
            "token": TOKEN,
            "owner": owner,
            "api_url": github.base_url,
            # No pacing against the stand-in; GitHub itself gets PyGithub's defaults.
            "seconds_between_requests": "0",
            "seconds_between_writes": "0",
        }
        config = GitConfig(
            repo_name=repo_name,
            branch=branch,
            data_dir=tmp_path,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            options=settings | options,
        )
        plugin = GitHubGit(config)
        made.append(plugin)
        return plugin

    yield make
    for plugin in made:
        await plugin.aclose()


@pytest.fixture
async def plugin(make_plugin: MakePlugin) -> GitHubGit:
    made = make_plugin()
    await made.ensure_repo()
    return made


def assert_no_token(error: BaseException) -> None:
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)


def test_is_a_git_plugin(make_plugin: MakePlugin) -> None:
    plugin = make_plugin()
    assert isinstance(plugin, GitPlugin)
    assert plugin.repository == REPO
    assert TOKEN not in repr(plugin)


def test_blob_sha_is_gits() -> None:
    content = b"FROM scratch\nCOPY busybox /bin/busybox\n"
    git = subprocess.run(
        ["git", "hash-object", "--stdin"], input=content, capture_output=True, check=True
    )
    assert git_blob_sha(content) == git.stdout.decode().strip()


def test_the_stand_in_computes_git_object_ids(tmp_path: Path) -> None:
    files = {"a/b/f": b"x\n", "a.txt": b"y\n", "a-b": b"z\n"}  # git sorts these oddly
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    when = "2024-01-01T00:00:00Z"
    env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "HOME": str(tmp_path)}
    git = ["git", "-C", str(tmp_path), "-c", "user.name=N", "-c", "user.email=n@x"]
    subprocess.run([*git, "init", "-q"], check=True, env=env)
    subprocess.run([*git, "add", "."], check=True, env=env)
    subprocess.run([*git, "commit", "-qm", "message"], check=True, env=env)
    shas = subprocess.run(
        [*git, "rev-parse", "HEAD", "HEAD^{tree}"], check=True, env=env, capture_output=True
    )

    repo = FakeRepo(1, "o", "n", False, "User")
    flat = {path: ("100644", "blob", repo.put_blob(content)) for path, content in files.items()}
    tree = repo.build(flat)
    who = {"name": "N", "email": "n@x", "date": when}
    commit = repo.put_commit(tree, (), "message\n", who, who)
    assert shas.stdout.decode().split() == [commit, tree]


def test_clone_urls(make_plugin: MakePlugin) -> None:
    assert make_plugin(api_url="https://api.github.com").clone_url == (
        f"https://github.com/{REPO}.git"
    )
    assert make_plugin(api_url="https://ghe.example/api/v3/").clone_url == (
        f"https://ghe.example/{REPO}.git"
    )


# ensure_repo


async def test_ensure_repo_creates_a_private_repo_with_the_branch(
    github: GitHubStandIn, make_plugin: MakePlugin
) -> None:
    plugin = make_plugin()
    await plugin.ensure_repo()

    repo = github.repo(REPO)
    assert repo.private is True
    assert repo.head("main") is not None
    assert await plugin.head() == repo.head("main")
    assert plugin.clone_url == f"{github.base_url}/{REPO}.git"
    assert ("POST", "/user/repos") in github.requests


async def test_ensure_repo_creates_under_an_organisation(
    github: GitHubStandIn, make_plugin: MakePlugin
) -> None:
    plugin = make_plugin(owner="acme", private="false")
    await plugin.ensure_repo()

    assert github.repo("acme/platform").private is False
    assert ("POST", "/orgs/acme/repos") in github.requests
    assert await plugin.head() == github.repo("acme/platform").head("main")


async def test_ensure_repo_leaves_an_existing_repo_alone(
    github: GitHubStandIn, make_plugin: MakePlugin
) -> None:
    existing = github.add_repo(REPO, private=False)
    head = existing.head("main")
    plugin = make_plugin()

    await plugin.ensure_repo()
    await plugin.ensure_repo()

    assert github.repo(REPO) is existing
    assert existing.private is False
    assert existing.head("main") == head
    assert not [r for r in github.requests if r[0] != "GET"]


async def test_ensure_repo_adds_a_missing_branch_from_the_default_branch(
    github: GitHubStandIn, make_plugin: MakePlugin
) -> None:
    existing = github.add_repo(REPO)
    plugin = make_plugin(branch="platform/state")

    await plugin.ensure_repo()

    assert existing.head("platform/state") == existing.head("main")
    assert await plugin.head() == existing.head("main")


async def test_ensure_repo_gives_an_empty_repo_its_first_commit(
    github: GitHubStandIn, make_plugin: MakePlugin
) -> None:
    empty = github.add_repo(REPO, auto_init=False)
    plugin = make_plugin()
    assert await plugin.head() is None

    await plugin.ensure_repo()

    assert empty.head("main") is not None
    assert await plugin.head() == empty.head("main")


# commit_files, head, read_file


async def test_commit_is_the_head_and_reads_back(github: GitHubStandIn, plugin: GitHubGit) -> None:
    before = await plugin.head()
    result = await plugin.commit_files(
        {DOCKERFILE: b"FROM scratch\n", "projects/shop/README.md": b"shop\n"}, AUTHOR, "Add web"
    )

    assert result.changed
    assert await plugin.head() == result.sha
    assert await plugin.read_file(DOCKERFILE, result.sha) == b"FROM scratch\n"
    assert await plugin.read_file("projects/shop/README.md", result.sha) == b"shop\n"
    assert await plugin.read_file(DOCKERFILE, before or "") is None
    assert await plugin.read_file("projects/nothing-here", result.sha) is None
    assert await plugin.read_file("projects/shop", result.sha) is None  # a directory
    commit = github.repo(REPO).commits[result.sha]
    assert commit.parents == (before,)
    assert commit.author["name"] == AUTHOR.name
    assert commit.author["email"] == AUTHOR.email
    assert commit.message == "Add web"


async def test_binary_content_round_trips(plugin: GitHubGit) -> None:
    content = bytes(range(256)) * 3
    result = await plugin.commit_files({"blobs/all-bytes.bin": content}, AUTHOR, "Binary")
    assert await plugin.read_file("blobs/all-bytes.bin", result.sha) == content


async def test_unchanged_content_makes_no_commit(github: GitHubStandIn, plugin: GitHubGit) -> None:
    first = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add")
    history = github.repo(REPO).history("main")
    github.requests.clear()

    again = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add again")

    assert again.sha == first.sha
    assert again.changed is False
    assert github.repo(REPO).history("main") == history
    assert [r for r in github.requests if r[0] != "GET"] == []


async def test_unchanged_content_is_found_in_a_truncated_tree(
    github: GitHubStandIn, plugin: GitHubGit
) -> None:
    first = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add")
    github.truncate_recursive_trees = True  # what GitHub does for very large repositories

    again = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add again")
    changed = await plugin.commit_files({DOCKERFILE: b"FROM busybox\n"}, AUTHOR, "Change")

    assert again.sha == first.sha
    assert again.changed is False
    assert changed.changed
    assert await plugin.read_file(DOCKERFILE, changed.sha) == b"FROM busybox\n"


async def test_a_change_among_unchanged_files_commits_only_the_change(
    github: GitHubStandIn, plugin: GitHubGit
) -> None:
    await plugin.commit_files({"a/one": b"1\n", "a/two": b"2\n"}, AUTHOR, "Two files")
    github.requests.clear()

    result = await plugin.commit_files({"a/one": b"1\n", "a/two": b"two\n"}, AUTHOR, "Change two")

    assert result.changed
    blob_posts = [r for r in github.requests if r == ("POST", f"/repos/{REPO}/git/blobs")]
    assert len(blob_posts) == 1
    assert github.repo(REPO).read("main", "a/one") == b"1\n"
    assert github.repo(REPO).read("main", "a/two") == b"two\n"


async def test_deletion(github: GitHubStandIn, plugin: GitHubGit) -> None:
    added = await plugin.commit_files(
        {DOCKERFILE: b"FROM scratch\n", "keep": b"k\n"}, AUTHOR, "Add"
    )

    deleted = await plugin.commit_files({DOCKERFILE: None}, AUTHOR, "Remove the Dockerfile")
    again = await plugin.commit_files({DOCKERFILE: None}, AUTHOR, "Remove it again")

    assert deleted.changed
    assert await plugin.read_file(DOCKERFILE, deleted.sha) is None
    assert await plugin.read_file(DOCKERFILE, added.sha) == b"FROM scratch\n"
    assert await plugin.read_file("keep", deleted.sha) == b"k\n"
    assert again.changed is False
    assert again.sha == deleted.sha


@pytest.mark.parametrize(
    "path",
    [
        "../escape",
        "projects/../../etc/passwd",
        ".git/config",
        "projects/.git/hooks/x",
        "/abs",
        "",
        "a//b",
        "a/./b",
    ],
)
async def test_unsafe_paths_are_refused_before_any_request(
    github: GitHubStandIn, plugin: GitHubGit, path: str
) -> None:
    github.requests.clear()
    with pytest.raises(GitError, match="refusing"):
        await plugin.commit_files({"fine/file": b"x", path: b"evil"}, AUTHOR, "Evil")
    with pytest.raises(GitError, match="refusing"):
        await plugin.read_file(path, "a" * 40)
    assert github.requests == []


async def test_concurrent_commits_all_land(github: GitHubStandIn, plugin: GitHubGit) -> None:
    files = [f"projects/p{n}/apps/a/Dockerfile" for n in range(4)]
    results = await asyncio.gather(
        *(plugin.commit_files({path: f"FROM {path}\n".encode()}, AUTHOR, path) for path in files)
    )

    head = await plugin.head()
    assert head is not None
    history = github.repo(REPO).history("main")
    assert all(result.changed for result in results)
    assert len(history) == 1 + len(files)  # the first commit, then one each
    assert {result.sha for result in results} <= set(history)
    for path in files:
        assert await plugin.read_file(path, head) == f"FROM {path}\n".encode()


async def test_a_branch_moved_meanwhile_is_rebuilt_on_and_retried(
    github: GitHubStandIn, plugin: GitHubGit
) -> None:
    github.race_next_update(REPO, "main", {"projects/other/Dockerfile": b"FROM other\n"})

    result = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Mine")

    repo = github.repo(REPO)
    assert repo.rejected_updates == 1
    assert repo.head("main") == result.sha
    assert repo.read("main", DOCKERFILE) == b"FROM scratch\n"
    assert repo.read("main", "projects/other/Dockerfile") == b"FROM other\n"
    racing = repo.commits[result.sha].parents[0]
    assert repo.commits[racing].message == "racing push"


async def test_a_missing_branch_is_a_clear_error(
    github: GitHubStandIn, make_plugin: MakePlugin
) -> None:
    github.add_repo(REPO)
    plugin = make_plugin(branch="elsewhere")
    with pytest.raises(GitError, match="ensure_repo"):
        await plugin.commit_files({DOCKERFILE: b"x"}, AUTHOR, "x")


# contains


async def test_contains(github: GitHubStandIn, plugin: GitHubGit) -> None:
    first = await plugin.commit_files({DOCKERFILE: b"one\n"}, AUTHOR, "One")
    second = await plugin.commit_files({DOCKERFILE: b"two\n"}, AUTHOR, "Two")
    repo = github.repo(REPO)  # a branch with a commit main does not have:
    off_branch = repo.commit({"other": b"x"}, "elsewhere", repo.head("main"))
    repo.refs["refs/heads/feature"] = off_branch

    assert await plugin.contains(first.sha)
    assert await plugin.contains(second.sha)
    assert not await plugin.contains(off_branch)
    assert not await plugin.contains("0123456789" * 4)
    assert not await plugin.contains("not a sha/../..")


# webhooks


async def test_register_webhook_is_idempotent(
    github: GitHubStandIn, make_plugin: MakePlugin
) -> None:
    url = "http://127.0.0.1:9/webhooks/git"
    plugin = make_plugin(webhook_url=url)
    await plugin.ensure_repo()

    await plugin.register_webhook()
    await plugin.register_webhook()
    await make_plugin(webhook_url=url, webhook_secret="rotated").register_webhook()

    hooks = list(github.repo(REPO).hooks.values())
    assert len(hooks) == 1
    assert hooks[0].config["url"] == url
    assert hooks[0].config["content_type"] == "json"
    assert hooks[0].config["secret"] == "rotated"
    assert hooks[0].events == ["push"]
    assert hooks[0].active
    assert ("PATCH", f"/repos/{REPO}/hooks/{hooks[0].id}") in github.requests


async def test_register_webhook_removes_duplicates(
    github: GitHubStandIn, plugin: GitHubGit
) -> None:
    await plugin.register_webhook()
    repo = github.repo(REPO)
    first = repo.hooks[1]
    repo.hooks[2] = type(first)(2, dict(first.config), ["issues"], True)  # made by hand, say

    await plugin.register_webhook()

    assert list(repo.hooks) == [1]


async def test_a_commit_sends_a_signed_push_event(
    github: GitHubStandIn, make_plugin: MakePlugin
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=202)

    receiver = Starlette(routes=[Route("/webhooks/git", receive, methods=["POST"])])
    async with live_server(receiver) as address:
        plugin = make_plugin(webhook_url=f"http://{address}/webhooks/git")
        await plugin.ensure_repo()
        await plugin.register_webhook()
        result = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add web")
        [delivery] = await github.wait_for_deliveries("push")

    assert delivery.status == 202
    pushes = [(h, b) for h, b in received if h["x-github-event"] == "push"]
    assert len(pushes) == 1
    headers, body = pushes[0]
    assert headers["x-github-delivery"] == delivery.delivery_id
    assert plugin.verify_webhook(body, headers["x-hub-signature-256"])
    event = plugin.parse_push(body)
    assert event.repository == plugin.repository
    assert event.branch == "main"
    assert event.after == result.sha
    assert event.commits == (result.sha,)

    tampered = body.replace(b"Add web", b"Add evil")
    assert tampered != body
    assert not plugin.verify_webhook(tampered, headers["x-hub-signature-256"])
    assert not plugin.verify_webhook(body, None)
    assert not plugin.verify_webhook(body, "sha256=" + hashlib.sha256(body).hexdigest())
    assert [h["x-github-event"] for h, _ in received].count("ping") == 1


def test_parse_push_rejects_other_bodies(make_plugin: MakePlugin) -> None:
    plugin = make_plugin()
    with pytest.raises(WebhookRejected):
        plugin.parse_push(b'{"zen": "Keep it logically awesome.", "hook_id": 1}')
    with pytest.raises(WebhookRejected):
        plugin.parse_push(b"not json")


# source hooks: push webhooks on apps' repositories


def source_url(github: GitHubStandIn, full_name: str = SOURCE) -> str:
    """The app's source as GitHub (here, the stand-in's web host) shows its clone URL."""
    return f"{github.base_url}/{full_name}.git"


def host_of(github: GitHubStandIn) -> str:
    return github.base_url.removeprefix("http://")


def hook_requests(github: GitHubStandIn, full_name: str = SOURCE) -> list[tuple[str, str]]:
    return [
        (verb, path)
        for verb, path in github.requests
        if path.startswith(f"/repos/{full_name}/hooks")
    ]


def assert_no_secrets(text: str) -> None:
    assert TOKEN not in text
    assert SOURCE_SECRET not in text


async def test_the_github_plugin_registers_source_hooks(plugin: GitHubGit) -> None:
    assert isinstance(plugin, SourceHookRegistrar)


async def test_a_source_hook_is_created_on_the_apps_repository(
    github: GitHubStandIn, plugin: GitHubGit
) -> None:
    repo = github.add_repo(SOURCE)

    result = await plugin.register_source_hook(source_url(github), SOURCE_HOOK_URL, SOURCE_SECRET)

    assert result.outcome is SourceHookOutcome.CREATED
    assert result.registered
    assert result.repository == f"{host_of(github)}/{SOURCE}"
    assert result.message == f"registered on {host_of(github)}/{SOURCE}"
    [hook] = repo.hooks.values()
    assert hook.config == {
        "url": SOURCE_HOOK_URL,
        "content_type": "json",
        "secret": SOURCE_SECRET,
        "insecure_ssl": "0",
    }
    assert (hook.events, hook.active) == (["push"], True)
    assert hook_requests(github) == [
        ("GET", f"/repos/{SOURCE}/hooks"),
        ("POST", f"/repos/{SOURCE}/hooks"),
    ]
    # The platform repo is another repository, and left alone.
    assert github.repo(REPO).hooks == {}


async def test_an_existing_source_hook_is_updated_rather_than_doubled(
    github: GitHubStandIn, plugin: GitHubGit
) -> None:
    repo = github.add_repo(SOURCE)
    # Someone's own hook, and ours as a person left it: old secret, form bodies, off.
    repo.hooks[1] = Hook(1, {"url": "https://ci.example.test/hook"}, ["push"], True)
    repo.hooks[2] = Hook(
        2, {"url": SOURCE_HOOK_URL, "content_type": "form", "secret": "old"}, ["issues"], False
    )

    # The scp-like form of the same repository: the stand-in's SSH host is its web host.
    result = await plugin.register_source_hook(
        f"git@127.0.0.1:{SOURCE}.git", SOURCE_HOOK_URL, SOURCE_SECRET
    )

    assert result.outcome is SourceHookOutcome.UPDATED
    assert result.registered
    assert list(repo.hooks) == [1, 2]
    assert repo.hooks[1].config == {"url": "https://ci.example.test/hook"}
    ours = repo.hooks[2]
    assert ours.config["secret"] == SOURCE_SECRET
    assert ours.config["content_type"] == "json"
    assert (ours.events, ours.active) == (["push"], True)
    assert ("PATCH", f"/repos/{SOURCE}/hooks/2") in github.requests
    assert ("POST", f"/repos/{SOURCE}/hooks") not in github.requests


async def test_an_existing_source_hook_is_found_past_the_first_page(
    github: GitHubStandIn, plugin: GitHubGit
) -> None:
    repo = github.add_repo(SOURCE)
    for number in range(1, 36):  # GitHub lists 30 hooks a page
        repo.hooks[number] = Hook(number, {"url": f"https://other.test/{number}"}, ["push"], True)
    repo.hooks[36] = Hook(36, {"url": SOURCE_HOOK_URL, "content_type": "json"}, ["push"], True)

    result = await plugin.register_source_hook(source_url(github), SOURCE_HOOK_URL, SOURCE_SECRET)

    assert result.outcome is SourceHookOutcome.UPDATED
    assert len(repo.hooks) == 36
    assert repo.hooks[36].config["secret"] == SOURCE_SECRET
    pages = [path for verb, path in hook_requests(github) if verb == "GET"]
    assert len(pages) == 2


@pytest.mark.parametrize(
    ("access", "status"),
    [(HOOKS_READ, 403), (HOOKS_NONE, 404), ("missing", 404)],
)
async def test_a_repository_the_token_may_not_manage_is_refused_not_raised(
    github: GitHubStandIn,
    plugin: GitHubGit,
    caplog: pytest.LogCaptureFixture,
    access: str,
    status: int,
) -> None:
    if access != "missing":
        github.add_repo(SOURCE, hooks_access=access)

    result = await plugin.register_source_hook(source_url(github), SOURCE_HOOK_URL, SOURCE_SECRET)

    assert result.outcome is SourceHookOutcome.REFUSED
    assert not result.registered
    assert result.message == f"the token may not manage hooks of {SOURCE}"
    assert result.repository == f"{host_of(github)}/{SOURCE}"
    if access != "missing":
        assert github.repo(SOURCE).hooks == {}
    answered = {verb for verb, _ in hook_requests(github)}
    assert answered == ({"GET", "POST"} if status == 403 else {"GET"})
    assert_no_secrets(caplog.text)


async def test_github_down_is_a_failed_result_not_an_error(
    github: GitHubStandIn, plugin: GitHubGit, caplog: pytest.LogCaptureFixture
) -> None:
    url = source_url(github)
    await github.stop()

    result = await plugin.register_source_hook(url, SOURCE_HOOK_URL, SOURCE_SECRET)

    assert result.outcome is SourceHookOutcome.FAILED
    assert not result.registered
    assert "could not be reached" in result.message
    assert_no_secrets(result.message)
    assert_no_secrets(caplog.text)


async def test_a_wrong_token_is_a_failed_result_without_the_token(
    github: GitHubStandIn, make_plugin: MakePlugin
) -> None:
    github.add_repo(SOURCE)
    plugin = make_plugin(token=TOKEN + "-wrong")

    result = await plugin.register_source_hook(source_url(github), SOURCE_HOOK_URL, SOURCE_SECRET)

    assert result.outcome is SourceHookOutcome.FAILED
    assert "refused the token" in result.message
    assert_no_secrets(result.message)


@pytest.mark.parametrize(
    "url",
    [
        "https://gitlab.example.test/acme/web.git",
        "git@gitlab.example.test:acme/web.git",
        "https://codeberg.org/acme/web",
    ],
)
async def test_a_repository_on_another_host_is_not_supported(
    github: GitHubStandIn, make_plugin: MakePlugin, url: str
) -> None:
    plugin = make_plugin()
    result = await plugin.register_source_hook(url, SOURCE_HOOK_URL, SOURCE_SECRET)

    assert result.outcome is SourceHookOutcome.NOT_SUPPORTED
    assert not result.registered
    assert result.repository is None
    assert result.message == f"the source repository is not a repository on {host_of(github)}"
    assert github.requests == []


GITHUB_COM = "https://api.github.com"


@pytest.mark.parametrize(
    ("api_url", "url", "full_name"),
    [
        (GITHUB_COM, "https://github.com/acme/web", "acme/web"),
        (GITHUB_COM, "https://github.com/acme/web.git", "acme/web"),
        (GITHUB_COM, "https://github.com/acme/web/", "acme/web"),
        (GITHUB_COM, "https://GitHub.com/Acme/Web.git", "Acme/Web"),
        (GITHUB_COM, "https://github.com:443/acme/web.git", "acme/web"),
        (GITHUB_COM, "git@github.com:acme/web.git", "acme/web"),
        (GITHUB_COM, "git@github.com:acme/web", "acme/web"),
        (GITHUB_COM, "ssh://git@github.com/acme/web.git", "acme/web"),
        (GITHUB_COM, "ssh://git@ssh.github.com:443/acme/web.git", "acme/web"),
        (GITHUB_COM, "https://github.com/acme/my.site.git", "acme/my.site"),
        # Not a repository on github.com.
        (GITHUB_COM, "https://gitlab.com/acme/web.git", None),
        (GITHUB_COM, "https://github.com.evil.test/acme/web.git", None),
        (GITHUB_COM, "https://evil.test/github.com/acme/web.git", None),
        (GITHUB_COM, "https://github.com:8443/acme/web.git", None),
        (GITHUB_COM, "http://github.com/acme/web.git", None),
        (GITHUB_COM, "git://github.com/acme/web.git", None),
        (GITHUB_COM, "git@gitlab.com:acme/web.git", None),
        (GITHUB_COM, "https://github.com/acme", None),
        (GITHUB_COM, "https://github.com/acme/web/tree/main", None),
        (GITHUB_COM, "https://github.com/acme/..", None),
        (GITHUB_COM, "https://github.com/-acme/web", None),
        (GITHUB_COM, "not a url", None),
        # GitHub Enterprise Server: the web host is the API's, without /api/v3.
        ("https://ghe.example.test/api/v3", "https://ghe.example.test/acme/web.git", "acme/web"),
        ("https://ghe.example.test/api/v3", "git@ghe.example.test:acme/web.git", "acme/web"),
        ("https://ghe.example.test/api/v3", "https://github.com/acme/web.git", None),
        # GHE.com: api.<subdomain>.ghe.com serves <subdomain>.ghe.com.
        ("https://api.octo.ghe.com", "https://octo.ghe.com/acme/web.git", "acme/web"),
        ("https://api.octo.ghe.com", "https://github.com/acme/web.git", None),
    ],
)
def test_source_urls_are_read_in_every_form_github_shows(
    make_plugin: MakePlugin, api_url: str, url: str, full_name: str | None
) -> None:
    assert make_plugin(api_url=api_url).source_repository(url) == full_name


# configuration and failures


@pytest.mark.parametrize(
    ("drop", "set_to", "message"),
    [
        ("token", None, "token"),
        (None, {"token": ""}, "token"),
        ("owner", None, "owner"),
        (None, {"owner": "no/slashes"}, "owner"),
        (None, {"private": "perhaps"}, "private"),
        (None, {"api_url": "ftp://example.test"}, "api_url"),
        (None, {"api_url": f"https://x:{TOKEN}@github.example"}, "api_url"),
        (None, {"timeout": "soon"}, "timeout"),
    ],
)
def test_bad_options_are_clear_errors(
    tmp_path: Path, drop: str | None, set_to: dict[str, str] | None, message: str
) -> None:
    options = {"token": TOKEN, "owner": LOGIN}
    if drop:
        del options[drop]
    options |= set_to or {}
    config = GitConfig("platform", "main", tmp_path, "http://127.0.0.1:9/hook", "s", options)
    with pytest.raises(GitError, match=message) as raised:
        GitHubGit(config)
    assert_no_token(raised.value)


async def test_a_wrong_token_is_a_git_error_without_the_token(make_plugin: MakePlugin) -> None:
    plugin = make_plugin(token=TOKEN + "-wrong")
    with pytest.raises(GitError, match="refused the token") as raised:
        await plugin.ensure_repo()
    assert not isinstance(raised.value, GitUnavailable)
    assert_no_token(raised.value)
    assert TOKEN not in repr(plugin)


async def test_github_down_is_unavailable(github: GitHubStandIn, plugin: GitHubGit) -> None:
    result = await plugin.commit_files({DOCKERFILE: b"FROM scratch\n"}, AUTHOR, "Add")
    await github.stop()

    calls = [
        plugin.ensure_repo(),
        plugin.head(),
        plugin.commit_files({DOCKERFILE: b"FROM busybox\n"}, AUTHOR, "Change"),
        plugin.read_file(DOCKERFILE, result.sha),
        plugin.contains(result.sha),
        plugin.register_webhook(),
    ]
    for call in calls:
        with pytest.raises(GitUnavailable) as raised:
            await call
        assert_no_token(raised.value)
        assert github.base_url in str(raised.value)
