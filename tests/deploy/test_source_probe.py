"""The source probe against real git: a source repo served over smart HTTP
(`git http-backend`) and as plain files, on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from home_idp.server.apps.models import App, SourceCredential
from home_idp.server.apps.source_hosts import SourceHostPolicy, source_origin
from home_idp.server.deploy.source_probe import (
    RefNotFound,
    SourceProbe,
    SourceRefused,
    SourceUnreachable,
    commit_url,
)
from home_idp.server.runtime import Runtime
from tests.factories import Factory
from tests.liveserver import free_port, threaded_http_server

TOKEN = "s3cret-t0ken-for-the-source"
HANG_SECONDS = 10.0


@dataclass
class Commits:
    first: str  # app/main.py, README.md
    second: str  # app/main.py changed; tagged v1 (annotated)
    third: str  # docs/guide.md added, README.md removed; main
    # The first is also branch `feature` and lightweight tag `light`.


@dataclass
class GitServer:
    """One bare repo, `web.git`, over smart HTTP, and what the server was asked.

    `/dumb/web.git` serves the same repo as plain files, `/moved/…` answers
    with a redirect to `/…`, `/echo.git` refuses with the Authorization header
    it got in git's error, and `/hang.git` never answers.
    """

    base: str
    commits: Commits
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    token: str | None = None  # when set, the repo needs it (HTTP Basic)

    def url(self, path: str = "web.git") -> str:
        return f"http://{self.base}/{path}"


def _git(repo: Path, *args: str, author: str = "Ann Dev") -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": "ann@example.test",
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": "ann@example.test",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _commit(work: Path, message: str, author: str = "Ann Dev") -> str:
    _git(work, "add", "--all")
    _git(work, "commit", "--quiet", "-m", message, author=author)
    return _git(work, "rev-parse", "HEAD")


def _source_repo(root: Path) -> Commits:
    """A real repo with three commits on main, a tag and a branch, pushed to a bare one."""
    work = root / "work"
    (work / "app").mkdir(parents=True)
    _git(root, "init", "--quiet", "-b", "main", str(work))
    (work / "app" / "main.py").write_text("print('one')\n")
    (work / "README.md").write_text("# web\n")
    first = _commit(work, "Start", author="Bo Old")
    (work / "app" / "main.py").write_text("print('two')\n")
    second = _commit(work, "Say two")
    (work / "docs").mkdir()
    (work / "docs" / "guide.md").write_text("guide\n")
    (work / "README.md").unlink()
    third = _commit(work, "Add the guide\n\nThe README moves into docs/.")
    _git(work, "tag", "-a", "v1", "-m", "version 1", second)
    _git(work, "tag", "light", first)
    _git(work, "branch", "feature", first)
    bare = root / "web.git"
    _git(root, "clone", "--quiet", "--bare", str(work), str(bare))
    # Like the forges: blobless fetches are served, and the plain-file view is current.
    _git(bare, "config", "uploadpack.allowFilter", "true")
    _git(bare, "update-server-info")
    return Commits(first, second, third)


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return b"%04x" % (len(data) + 4) + data


def _handler(
    root: Path, state: list[GitServer], release: threading.Event
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            server = state[0]
            path, _, query = self.path.partition("?")
            auth = self.headers.get("Authorization")
            server.requests.append((path, auth))
            if path.startswith("/moved/"):
                target = path.removeprefix("/moved") + (f"?{query}" if query else "")
                self._answer(301, b"", [("Location", target)])
            elif path.startswith("/hang.git/"):
                release.wait(HANG_SECONDS)
                self._answer(503, b"")
            elif path.startswith("/echo.git/"):
                shown = base64.b64decode((auth or "x x").split()[1]).decode()
                body = _pkt_line(f"ERR access denied for {auth} ({shown})\n")
                ctype = "application/x-git-upload-pack-advertisement"
                self._answer(200, body, [("Content-Type", ctype)])
            elif server.token and auth != _basic(server.token):
                self._answer(401, b"", [("WWW-Authenticate", 'Basic realm="git"')])
            elif path.startswith("/dumb/"):
                file = root / path.removeprefix("/dumb/")
                if ".." in path or not file.is_file():
                    self._answer(404, b"")
                else:
                    self._answer(200, file.read_bytes())
            else:
                self._backend(path, query)

        def _backend(self, path: str, query: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            env = {
                "PATH": os.environ["PATH"],
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "GIT_CONFIG_NOSYSTEM": "1",
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(length),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            }
            out = subprocess.run(
                ["git", "http-backend"],
                input=self.rfile.read(length),
                env=env,
                capture_output=True,
                check=False,
            ).stdout
            head, _, body = out.partition(b"\r\n\r\n")
            status, headers = 200, list[tuple[str, str]]()
            for line in head.decode().split("\r\n"):
                name, _, value = line.partition(": ")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value))
            self._answer(status, body, headers)

        def _answer(
            self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()
        ) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"x:{token}".encode()).decode()


@pytest.fixture(scope="module")
def served_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    root = tmp_path_factory.mktemp("source")
    commits = _source_repo(root)
    state: list[GitServer] = []
    release = threading.Event()
    try:
        with threaded_http_server(_handler(root, state, release)) as server:
            state.append(GitServer(f"127.0.0.1:{server.server_port}", commits))
            yield state[0]
            release.set()
    finally:
        release.set()


@pytest.fixture
def git_server(served_repo: GitServer) -> Iterator[GitServer]:
    served_repo.requests.clear()
    yield served_repo
    served_repo.token = None


@pytest.fixture
def probe(runtime: Runtime, tmp_path: Path) -> SourceProbe:
    return SourceProbe(
        tmp_path / "probes", SourceHostPolicy(allow_internal=True), runtime.secret_box
    )


async def make_app(
    factory: Factory, url: str, ref: str = "main", *, token: str | None = None
) -> App:
    project = await factory.project("shop")
    app = await App.create(project=project, name="web", source_repo=url, source_ref=ref)
    if token is not None:
        await SourceCredential.create(
            app=app,
            kind="token",
            origin=source_origin(url),
            ciphertext=factory.runtime.secret_box.encrypt(json.dumps({"token": token})),
            updated_by="dev",
        )
    return app


# -- head ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("main", "third"),
        ("feature", "first"),
        ("v1", "second"),
        ("light", "first"),
        ("refs/heads/main", "third"),
        ("refs/tags/v1", "second"),
    ],
)
async def test_head_is_the_commit_a_branch_or_tag_names_now(
    probe: SourceProbe, factory: Factory, git_server: GitServer, ref: str, expected: str
) -> None:
    app = await make_app(factory, git_server.url(), ref)
    # An annotated tag gives the commit it points at, not the tag object.
    assert await probe.head(app) == getattr(git_server.commits, expected)


async def test_head_of_a_sha_is_the_sha_without_asking(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    app = await make_app(factory, git_server.url(), git_server.commits.first)
    assert await probe.head(app) == git_server.commits.first
    assert await probe.head(app, git_server.commits.second.upper()) == git_server.commits.second
    assert git_server.requests == []


async def test_head_of_another_ref_than_the_apps(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    app = await make_app(factory, git_server.url())
    assert await probe.head(app, "feature") == git_server.commits.first


async def test_a_ref_that_does_not_exist_is_ref_not_found(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    app = await make_app(factory, git_server.url(), "no-such-branch")
    with pytest.raises(RefNotFound, match="no branch or tag 'no-such-branch'"):
        await probe.head(app)


async def test_a_server_that_is_not_there_is_unreachable_in_gits_words(
    probe: SourceProbe, factory: Factory, tmp_path: Path
) -> None:
    app = await make_app(factory, f"http://127.0.0.1:{free_port()}/web.git")
    with pytest.raises(SourceUnreachable) as caught:
        await probe.head(app)
    message = str(caught.value)
    assert message.startswith("could not list its refs: unable to access")
    assert "Failed to connect to 127.0.0.1" in message
    assert "fatal:" not in message
    # Its work dir is gone, as after every call.
    assert list((tmp_path / "probes").iterdir()) == []


async def test_a_repo_that_does_not_exist_is_unreachable(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    app = await make_app(factory, git_server.url("nothing.git"))
    with pytest.raises(SourceUnreachable, match=r"repository '.*nothing\.git/' not found"):
        await probe.head(app)


async def test_the_token_is_sent_as_basic_auth_and_never_shown(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    git_server.token = TOKEN
    app = await make_app(factory, git_server.url(), token=TOKEN)
    assert await probe.head(app) == git_server.commits.third
    assert git_server.requests
    assert {auth for _, auth in git_server.requests} == {_basic(TOKEN)}


async def test_a_server_that_echoes_the_token_gets_it_masked(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    app = await make_app(factory, git_server.url("echo.git"), token=TOKEN)
    with pytest.raises(SourceUnreachable) as caught:
        await probe.head(app)
    message = str(caught.value)
    assert "remote error: access denied for Basic **** (****)" in message
    assert TOKEN not in message
    assert base64.b64encode(f"x:{TOKEN}".encode()).decode() not in message


async def test_a_repo_that_needs_a_token_the_app_lacks_is_unreachable(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    git_server.token = TOKEN
    app = await make_app(factory, git_server.url())
    with pytest.raises(SourceUnreachable, match="terminal prompts disabled"):
        await probe.head(app)


async def test_a_redirect_is_not_followed(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    app = await make_app(factory, git_server.url("moved/web.git"), token=TOKEN)
    with pytest.raises(SourceUnreachable, match="returned error: 301"):
        await probe.head(app)
    assert [path for path, _ in git_server.requests] == ["/moved/web.git/info/refs"]


async def test_a_server_that_does_not_answer_times_out_and_git_is_stopped(
    runtime: Runtime, factory: Factory, git_server: GitServer, tmp_path: Path
) -> None:
    probe = SourceProbe(
        tmp_path / "probes",
        SourceHostPolicy(allow_internal=True),
        runtime.secret_box,
        timeout_seconds=0.5,
    )
    app = await make_app(factory, git_server.url("hang.git"))
    with pytest.raises(SourceUnreachable, match=r"git did not finish within 0\.5 s"):
        await probe.head(app)
    assert list((tmp_path / "probes").iterdir()) == []
    assert not _processes_with(git_server.url("hang.git"))


async def test_a_refused_source_is_refused_before_git_runs(
    probe: SourceProbe, runtime: Runtime, factory: Factory, git_server: GitServer, tmp_path: Path
) -> None:
    app = await make_app(factory, "git@127.0.0.1:shop/web.git")
    with pytest.raises(SourceRefused, match="has no deploy key"):
        await probe.head(app)
    with pytest.raises(SourceRefused, match="ref '-x' is not usable"):
        await probe.head(app, "-x")
    cluster = SourceProbe(tmp_path, SourceHostPolicy(allow_internal=False), runtime.secret_box)
    http_app = await App.create(
        project=app.project, name="api", source_repo=git_server.url(), source_ref="main"
    )
    with pytest.raises(SourceRefused, match="loopback or private address"):
        await cluster.head(http_app)
    assert git_server.requests == []


# -- describe ------------------------------------------------------------------


async def test_describe_tells_author_message_and_paths_changed_since(
    probe: SourceProbe, factory: Factory, git_server: GitServer, tmp_path: Path
) -> None:
    commits = git_server.commits
    app = await make_app(factory, git_server.url())
    commit = await probe.describe(app, commits.third, since=commits.first)
    assert commit.sha == commits.third
    assert commit.author == "Ann Dev"
    assert commit.message == "Add the guide\n\nThe README moves into docs/."
    assert commit.url is None  # not a known forge
    assert commit.changed_paths == frozenset({"app/main.py", "README.md", "docs/guide.md"})
    nearer = await probe.describe(app, commits.third, since=commits.second)
    assert nearer.changed_paths == frozenset({"README.md", "docs/guide.md"})
    same = await probe.describe(app, commits.third, since=commits.third)
    assert same.changed_paths == frozenset()
    assert list((tmp_path / "probes").iterdir()) == []


@pytest.mark.parametrize("since", [None, "0" * 40, "not-a-sha", "third"])
async def test_describe_without_a_known_earlier_commit_has_no_paths(
    probe: SourceProbe, factory: Factory, git_server: GitServer, since: str | None
) -> None:
    commits = git_server.commits
    app = await make_app(factory, git_server.url())
    # The third commit is not in the second's history: what changed is unknown.
    since = commits.third if since == "third" else since
    commit = await probe.describe(app, commits.second, since=since)
    assert commit.author == "Ann Dev"
    assert commit.message == "Say two"
    assert commit.changed_paths is None


async def test_describe_over_plain_http_fetches_the_branch_instead(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    commits = git_server.commits
    app = await make_app(factory, git_server.url("dumb/web.git"))
    commit = await probe.describe(app, commits.third, since=commits.second)
    assert commit.author == "Ann Dev"
    assert commit.changed_paths == frozenset({"README.md", "docs/guide.md"})
    assert await probe.head(app) == commits.third
    # A commit on no fetched branch is not found there.
    with pytest.raises(RefNotFound, match=f"commit {'f' * 12} is not on 'main'"):
        await probe.describe(await App.get(id=app.id), "f" * 40, since=None)


async def test_describe_of_a_commit_the_server_lacks_is_ref_not_found(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    app = await make_app(factory, git_server.url())
    with pytest.raises(RefNotFound):
        await probe.describe(app, "e" * 40, since=None)
    with pytest.raises(RefNotFound, match="not a full commit sha"):
        await probe.describe(app, "main", since=None)


async def test_describe_sends_the_token_and_keeps_no_repo(
    probe: SourceProbe, factory: Factory, git_server: GitServer, tmp_path: Path
) -> None:
    git_server.token = TOKEN
    app = await make_app(factory, git_server.url(), token=TOKEN)
    commit = await probe.describe(app, git_server.commits.second, since=git_server.commits.first)
    assert commit.changed_paths == frozenset({"app/main.py"})
    assert {auth for _, auth in git_server.requests} == {_basic(TOKEN)}
    assert list((tmp_path / "probes").iterdir()) == []


async def test_describe_of_an_unreachable_server_does_not_try_again(
    probe: SourceProbe, factory: Factory, git_server: GitServer
) -> None:
    app = await make_app(factory, git_server.url("moved/web.git"))
    with pytest.raises(SourceUnreachable, match=r"could not fetch the commit: .*301"):
        await probe.describe(app, git_server.commits.third, since=None)
    assert len(git_server.requests) == 1


# -- links -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repo", "expected"),
    [
        ("https://github.com/shop/web.git", "https://github.com/shop/web/commit/{sha}"),
        ("git@github.com:shop/web.git", "https://github.com/shop/web/commit/{sha}"),
        ("ssh://git@GitHub.com/shop/web", "https://github.com/shop/web/commit/{sha}"),
        ("https://gitlab.com/group/sub/web", "https://gitlab.com/group/sub/web/-/commit/{sha}"),
        ("https://codeberg.org/shop/web.git/", "https://codeberg.org/shop/web/commit/{sha}"),
        ("https://github.com/shop/web/extra", None),
        ("https://github.com:8443/shop/web", None),
        ("https://github.example.com/shop/web", None),
        ("git://github.com/shop/web", None),
        ("http://127.0.0.1:8080/web.git", None),
    ],
)
def test_commit_links_only_for_known_forges(repo: str, expected: str | None) -> None:
    sha = "a" * 40
    assert commit_url(repo, sha) == (expected.format(sha=sha) if expected else None)


def _processes_with(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (a work dir of the probe)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(cmdline)
    return found
