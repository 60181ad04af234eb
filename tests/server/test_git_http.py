"""The platform repo over git smart HTTP, with a real git client on a real port."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware

from home_idp.plugins.git.contract import CommitAuthor, GitConfig
from home_idp.plugins.git.local import LocalGit
from home_idp.server.gateway.auth import BearerAuthBackend, auth_error_response
from home_idp.server.gateway.git_http import MAX_BODY_BYTES, git_routes
from home_idp.server.rbac.models import ApiToken
from home_idp.server.rbac.tokens import hash_api_token, new_api_token
from home_idp.server.runtime import Runtime
from tests.factories import Factory, Person
from tests.liveserver import live_server

ALICE = CommitAuthor("alice", "alice@users.home-idp")


@dataclass
class GitServer:
    base: str  # host:port
    plugin: LocalGit
    home: Path

    def url(self, token: str | None = None, name: str = "platform.git") -> str:
        credentials = f"x:{token}@" if token else ""
        return f"http://{credentials}{self.base}/git/{name}"

    async def git(self, *args: str, cwd: Path | None = None) -> tuple[int, str]:
        """Run a git client with no credential helpers, prompts or user config."""
        process = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd or self.home,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={
                "PATH": os.environ["PATH"],
                "HOME": str(self.home),
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_AUTHOR_NAME": "eve",
                "GIT_AUTHOR_EMAIL": "eve@x",
                "GIT_COMMITTER_NAME": "eve",
                "GIT_COMMITTER_EMAIL": "eve@x",
            },
        )
        out, _ = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode(errors="replace")


def make_app(runtime: Runtime, repo_root: Path, max_body_bytes: int = MAX_BODY_BYTES) -> Starlette:
    authenticator = runtime.rbac.authenticator
    return Starlette(
        routes=git_routes(repo_root, authenticator, max_body_bytes=max_body_bytes),
        middleware=[
            Middleware(
                AuthenticationMiddleware,
                backend=BearerAuthBackend(authenticator),
                on_error=auth_error_response,
            )
        ],
    )


@pytest.fixture
async def served(runtime: Runtime, tmp_path: Path) -> AsyncIterator[GitServer]:
    plugin = LocalGit(GitConfig("platform", "main", tmp_path / "data", "http://h/", "s" * 20))
    await plugin.ensure_repo()
    home = tmp_path / "home"
    home.mkdir()
    async with live_server(make_app(runtime, tmp_path / "data" / "git")) as base:
        yield GitServer(base, plugin, home)


@pytest.fixture
async def admin(factory: Factory) -> Person:
    return await factory.user("root", admin=True)


@pytest.fixture
async def member(factory: Factory) -> Person:
    return await factory.user("bob")


async def api_token(person: Person, scopes: list[str]) -> str:
    secret = new_api_token()
    await ApiToken.create(
        user=person.user,
        name=f"t{len(scopes)}",
        token_hash=hash_api_token(secret),
        prefix=secret[:9],
        scopes=scopes,
    )
    return secret


def basic(token: str, username: str = "x") -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{token}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


async def get(
    server: GitServer, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://{server.base}") as client:
        return await client.get(path, headers=headers)


async def test_an_admin_clones_what_home_idp_committed(served: GitServer, admin: Person) -> None:
    first = await served.plugin.commit_files({"projects/a/Dockerfile": b"FROM x\n"}, ALICE, "one")
    code, out = await served.git("clone", "-q", served.url(admin.token), "clone")
    assert code == 0, out
    clone = served.home / "clone"
    assert (clone / "projects" / "a" / "Dockerfile").read_bytes() == b"FROM x\n"
    assert (await served.git("rev-parse", "HEAD", cwd=clone))[1].strip() == first.sha

    second = await served.plugin.commit_files({"projects/a/Dockerfile": b"FROM y\n"}, ALICE, "2")
    code, out = await served.git("pull", "-q", "--ff-only", cwd=clone)
    assert code == 0, out
    assert (await served.git("rev-parse", "HEAD", cwd=clone))[1].strip() == second.sha


@pytest.mark.parametrize("protocol", ["0", "2"])
async def test_both_protocol_versions_and_an_api_token(
    served: GitServer, admin: Person, protocol: str
) -> None:
    commit = await served.plugin.commit_files({"a": b"a"}, ALICE, "one")
    token = await api_token(admin, ["read"])
    code, out = await served.git(
        "-c", f"protocol.version={protocol}", "ls-remote", served.url(token)
    )
    assert code == 0, out
    assert f"{commit.sha}\trefs/heads/main" in out


async def test_a_bearer_header_works_too(served: GitServer, admin: Person) -> None:
    await served.plugin.commit_files({"a": b"a"}, ALICE, "one")
    header = f"http.extraHeader=Authorization: Bearer {admin.token}"
    code, out = await served.git("-c", header, "clone", "-q", served.url(), "clone")
    assert code == 0, out
    assert (served.home / "clone" / "a").read_bytes() == b"a"


async def test_an_empty_repo_clones(served: GitServer, admin: Person) -> None:
    code, out = await served.git("clone", "-q", served.url(admin.token), "empty")
    assert code == 0, out
    assert "empty repository" in out


async def test_a_non_admin_is_forbidden(served: GitServer, member: Person) -> None:
    code, out = await served.git("clone", "-q", served.url(member.token), "clone")
    assert code != 0
    assert "403" in out
    response = await get(
        served, "/git/platform.git/info/refs?service=git-upload-pack", basic(member.token)
    )
    assert response.status_code == 403
    assert "administrators" in response.text


async def test_a_read_scope_is_needed(served: GitServer, admin: Person) -> None:
    token = await api_token(admin, ["write"])
    response = await get(
        served, "/git/platform.git/info/refs?service=git-upload-pack", basic(token)
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        None,
        basic("not-a-token"),
        basic("hidp_unknown"),
        basic(""),
        {"Authorization": "Basic %%%"},
        {"Authorization": "Digest x"},
    ],
)
async def test_no_or_wrong_credentials_get_a_basic_challenge(
    served: GitServer, admin: Person, headers: dict[str, str] | None
) -> None:
    response = await get(served, "/git/platform.git/info/refs?service=git-upload-pack", headers)
    assert response.status_code == 401
    if headers is None or "Basic" in headers["Authorization"]:
        assert response.headers["www-authenticate"] == 'Basic realm="home-idp"'


async def test_git_without_credentials_or_with_a_wrong_token_fails(served: GitServer) -> None:
    for url in (served.url(), served.url("wrong")):
        code, out = await served.git("ls-remote", url)
        assert code != 0
        assert "Authentication failed" in out or "could not read Username" in out


async def test_a_wrong_bearer_token_is_refused_by_the_middleware(served: GitServer) -> None:
    response = await get(
        served,
        "/git/platform.git/info/refs?service=git-upload-pack",
        {"Authorization": "Bearer wrong"},
    )
    assert response.status_code == 401


async def test_pushes_are_refused(served: GitServer, admin: Person) -> None:
    commit = await served.plugin.commit_files({"a": b"a"}, ALICE, "one")
    code, out = await served.git("clone", "-q", served.url(admin.token), "clone")
    assert code == 0, out
    clone = served.home / "clone"
    (clone / "a").write_text("changed by hand")
    assert (await served.git("commit", "-qam", "sneaky", cwd=clone))[0] == 0
    code, out = await served.git("push", "origin", "HEAD:main", cwd=clone)
    assert code != 0
    assert "403" in out
    assert await served.plugin.head() == commit.sha
    for method, path in [
        ("GET", "/git/platform.git/info/refs?service=git-receive-pack"),
        ("GET", "/git/platform.git/info/refs?service=git-receive-pack&service=git-upload-pack"),
        ("POST", "/git/platform.git/git-receive-pack"),
    ]:
        async with httpx.AsyncClient(base_url=f"http://{served.base}") as client:
            response = await client.request(method, path, headers=basic(admin.token))
        assert response.status_code == 403
        assert "home-idp itself" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/git/..%2Fetc.git/info/refs?service=git-upload-pack",
        "/git/..%2F..%2Fplatform.git/info/refs?service=git-upload-pack",
        "/git/Platform.git/info/refs?service=git-upload-pack",
        "/git/platform/info/refs?service=git-upload-pack",
        "/git/.work.git/info/refs?service=git-upload-pack",
        "/git/nope.git/info/refs?service=git-upload-pack",
        "/git/platform.git/info/refs",
        "/git/platform.git/info/refs?service=git-upload-pack&service=git-upload-pack",
        "/git/platform.git/HEAD",
        "/git/platform.git/objects/info/packs",
        "/git/platform.git/config",
    ],
)
async def test_other_paths_are_not_found(served: GitServer, admin: Person, path: str) -> None:
    response = await get(served, path, basic(admin.token))
    assert response.status_code == 404


async def test_a_clone_url_with_a_traversal_is_not_found(served: GitServer, admin: Person) -> None:
    code, out = await served.git("ls-remote", served.url(admin.token, "..%2Fetc.git"))
    assert code != 0
    assert "not found" in out.lower()


async def test_big_request_bodies_are_refused(
    runtime: Runtime, tmp_path: Path, admin: Person
) -> None:
    plugin = LocalGit(GitConfig("platform", "main", tmp_path, "http://h/", "s" * 20))
    await plugin.ensure_repo()
    app = make_app(runtime, tmp_path / "git", max_body_bytes=1000)
    headers = {**basic(admin.token), "Content-Type": "application/x-git-upload-pack-request"}

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(4):  # no Content-Length: the cap applies while streaming
            yield b"0" * 600

    async with live_server(app) as base, httpx.AsyncClient(base_url=f"http://{base}") as client:
        url = "/git/platform.git/git-upload-pack"
        declared = await client.post(url, content=b"0" * 5000, headers=headers)
        streamed = await client.post(url, content=chunked(), headers=headers)
    assert (declared.status_code, streamed.status_code) == (413, 413)


async def test_a_bad_upload_pack_request_is_answered_not_hung(
    served: GitServer, admin: Person
) -> None:
    await served.plugin.commit_files({"a": b"a"}, ALICE, "one")
    async with httpx.AsyncClient(base_url=f"http://{served.base}", timeout=20) as client:
        response = await client.post(
            "/git/platform.git/git-upload-pack",
            content=b"garbage",
            headers={**basic(admin.token), "Content-Type": "application/x-git-upload-pack-request"},
        )
    assert response.status_code in (200, 500, 502)


def backends_serving(repo_root: Path) -> list[int]:
    """Pids of git processes started for `repo_root` (their environment names it)."""
    marker = f"GIT_PROJECT_ROOT={repo_root}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    return pids


def pkt(line: str) -> bytes:
    return f"{len(line) + 4:04x}{line}".encode()


async def test_a_client_that_goes_away_leaves_no_git_behind(
    served: GitServer, admin: Person
) -> None:
    commit = await served.plugin.commit_files({"big": os.urandom(4 << 20)}, ALICE, "big")
    request = pkt(f"want {commit.sha} side-band-64k ofs-delta\n") + b"0000" + pkt("done\n")
    headers = {**basic(admin.token), "Content-Type": "application/x-git-upload-pack-request"}
    async with (
        httpx.AsyncClient(base_url=f"http://{served.base}") as client,
        client.stream(
            "POST", "/git/platform.git/git-upload-pack", content=request, headers=headers
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-git-upload-pack-result"
        async for _ in response.aiter_raw():
            break  # hang up after the first chunk of the pack
    repo_root = served.plugin.path.parent
    for _ in range(100):
        if not backends_serving(repo_root):
            break
        await asyncio.sleep(0.05)
    assert backends_serving(repo_root) == []
