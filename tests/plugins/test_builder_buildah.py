"""The buildah builder plugin with real buildah, the real registry and real git repos."""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from home_idp.plugins.builder.buildah import BuildahBuilder
from home_idp.plugins.builder.contract import BuilderConfig, BuildError, BuildRequest, GitSource
from tests.components import BASE_IMAGE, REGISTRY_HOST, SOURCE_REPO, BuildComponents
from tests.liveserver import free_port, threaded_http_server

DOCKERFILE_PATH = "projects/shop/apps/web/Dockerfile"


def platform_repo(directory: Path, dockerfile: str) -> tuple[str, str]:
    """A git repo holding the Dockerfile at its platform path; (path, commit sha)."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", "-C", str(directory)]
    (directory / DOCKERFILE_PATH).parent.mkdir(parents=True)
    (directory / DOCKERFILE_PATH).write_text(dockerfile)
    subprocess.run(["git", "init", "-q", "-b", "main", str(directory)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "dockerfile"], check=True)
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return str(directory), sha


@pytest.fixture
def builder(tmp_path: Path, build_components: BuildComponents) -> BuildahBuilder:
    root = build_components.buildah_root
    options = {"root": str(root / "root"), "runroot": str(root / "run")}
    return BuildahBuilder(BuilderConfig(tmp_path / "data", options))


def request(
    platform: tuple[str, str], tag: str, *, registry: str = REGISTRY_HOST, **changes: str
) -> BuildRequest:
    path, sha = platform
    return BuildRequest(
        build_id=changes.get("build_id", f"test-{tag}"),
        namespace="shop",
        source=GitSource(
            changes.get("source", SOURCE_REPO),
            changes.get("ref", "main"),
            changes.get("context", "."),
        ),
        platform=GitSource(path, sha),
        dockerfile_path=changes.get("dockerfile_path", DOCKERFILE_PATH),
        image=f"{registry}/shop/plugin-test:{tag}",
        insecure_registry=True,
    )


async def test_a_build_streams_its_lines_and_pushes_the_image(
    builder: BuildahBuilder, tmp_path: Path
) -> None:
    platform = platform_repo(tmp_path / "platform", f"FROM {BASE_IMAGE}\nRUN echo made it\n")
    handle = await builder.start(request(platform, "ok"))
    lines = [line async for line in handle.log_lines()]
    result = await handle.result()
    assert result.succeeded, (result.reason, lines[-10:])
    assert result.digest is not None and result.digest.startswith("sha256:")
    assert "made it" in lines
    assert "--- push" in lines
    # Nothing is left behind on this machine (the clean-up follows the result).
    async with asyncio.timeout(30):
        while list((tmp_path / "data" / "builds").glob("test-ok.*")):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_build_that_cannot_push_is_a_retryable_failure(
    builder: BuildahBuilder, tmp_path: Path
) -> None:
    platform = platform_repo(tmp_path / "platform", f"FROM {BASE_IMAGE}\n")
    handle = await builder.start(request(platform, "nopush", registry=f"127.0.0.1:{free_port()}"))
    result = await handle.result()
    assert not result.succeeded
    assert result.retryable
    assert "push failed" in result.reason


@pytest.fixture
def dumb_http_source(
    tmp_path: Path, build_components: BuildComponents
) -> Iterator[tuple[str, str]]:
    """The source repo served as plain files ("dumb" HTTP), as a static web server
    serves a bare repo after `git update-server-info`, with a tag `v1` too:
    its URL and the sha of `main`."""
    served = tmp_path / "served"
    shutil.copytree(build_components.source.root / "web.git", served / "web.git")
    subprocess.run(["git", "-C", str(served / "web.git"), "tag", "v1", "main"], check=True)
    subprocess.run(["git", "-C", str(served / "web.git"), "update-server-info"], check=True)
    main_sha = subprocess.run(
        ["git", "-C", str(served / "web.git"), "rev-parse", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    with threaded_http_server(handler) as server:
        yield f"http://127.0.0.1:{server.server_port}/web.git", main_sha


@pytest.fixture
def git_protocol_source(tmp_path: Path, build_components: BuildComponents) -> Iterator[str]:
    """The source repo served by `git daemon` over the git:// protocol."""
    served = tmp_path / "daemon"
    shutil.copytree(build_components.source.root / "web.git", served / "web.git")
    port = free_port()
    where = [f"--base-path={served}", "--listen=127.0.0.1", f"--port={port}", str(served)]
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", *where],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"git://127.0.0.1:{port}/web.git"
    try:
        for _ in range(100):  # until it listens
            if subprocess.run(["git", "ls-remote", url], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        yield url
    finally:
        daemon.terminate()
        daemon.wait(10)


async def test_a_source_served_over_the_git_protocol_builds(
    builder: BuildahBuilder, tmp_path: Path, git_protocol_source: str
) -> None:
    dockerfile = f"FROM {BASE_IMAGE}\nCOPY msg.txt /msg.txt\nRUN cat /msg.txt\n"
    platform = platform_repo(tmp_path / "platform", dockerfile)
    handle = await builder.start(request(platform, "git", source=git_protocol_source))
    lines = [line async for line in handle.log_lines()]
    result = await handle.result()
    assert result.succeeded, (result.reason, lines[-10:])
    assert "hello" in lines


@pytest.mark.parametrize("ref", ["main", "refs/heads/main", "v1", "sha"])
async def test_a_source_served_over_dumb_http_builds_at_a_branch_a_tag_or_a_sha(
    builder: BuildahBuilder, tmp_path: Path, dumb_http_source: tuple[str, str], ref: str
) -> None:
    url, main_sha = dumb_http_source
    ref = main_sha if ref == "sha" else ref
    dockerfile = f"FROM {BASE_IMAGE}\nCOPY msg.txt /msg.txt\nRUN cat /msg.txt\n"
    platform = platform_repo(tmp_path / "platform", dockerfile)
    handle = await builder.start(request(platform, "dumb", source=url, ref=ref))
    lines = [line async for line in handle.log_lines()]
    result = await handle.result()
    assert result.succeeded, (result.reason, lines[-10:])
    assert "hello" in lines


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"dockerfile_path": "projects/shop/apps/other/Dockerfile"}, "the platform repo has no"),
        ({"context": "nowhere"}, "the source repo has no directory"),
        ({"ref": "no-such-branch"}, "the source repo has no ref"),
    ],
    ids=["no-dockerfile", "no-context", "no-ref"],
)
async def test_what_is_missing_is_a_failure_that_says_so(
    builder: BuildahBuilder, tmp_path: Path, changes: dict[str, str], reason: str
) -> None:
    platform = platform_repo(tmp_path / "platform", f"FROM {BASE_IMAGE}\n")
    handle = await builder.start(request(platform, "missing", **changes))
    result = await handle.result()
    assert not result.succeeded and not result.retryable
    assert reason in result.reason, result.reason


async def test_cancel_kills_the_build_at_once(builder: BuildahBuilder, tmp_path: Path) -> None:
    platform = platform_repo(tmp_path / "platform", f"FROM {BASE_IMAGE}\nRUN sleep 60\n")
    handle = await builder.start(request(platform, "cancel"))
    async with asyncio.timeout(30):
        async for line in handle.log_lines():
            if "RUN sleep 60" in line:
                break
    async with asyncio.timeout(10):
        await handle.cancel()
        result = await handle.result()
    assert not result.succeeded
    assert result.reason == "the build was cancelled"


async def test_starting_the_same_build_again_replaces_the_earlier_one(
    builder: BuildahBuilder, tmp_path: Path
) -> None:
    platform = platform_repo(tmp_path / "platform", f"FROM {BASE_IMAGE}\nRUN sleep 60\n")
    first = await builder.start(request(platform, "again", build_id="same-build"))
    second = await builder.start(request(platform, "again", build_id="same-build"))
    async with asyncio.timeout(10):
        assert (await first.result()).reason == "the build was cancelled"
    await second.cancel()


@pytest.mark.parametrize(
    "changes",
    [
        {"build_id": "../x"},
        {"build_id": "UPPER"},
        {"dockerfile_path": "../../etc/passwd"},
        {"ref": "--upload-pack=evil"},
        {"context": "../.."},
    ],
    ids=["id-traversal", "id-upper", "dockerfile-traversal", "ref-option", "context-traversal"],
)
async def test_bad_names_are_refused_before_anything_runs(
    builder: BuildahBuilder, tmp_path: Path, changes: dict[str, str]
) -> None:
    with pytest.raises(BuildError):
        await builder.start(request(("/nonexistent", "0" * 40), "bad", **changes))
    assert not (tmp_path / "data" / "builds").exists()


async def test_a_build_left_running_by_a_dead_server_is_stopped_when_it_starts_again(
    builder: BuildahBuilder, tmp_path: Path, build_components: BuildComponents
) -> None:
    platform = platform_repo(tmp_path / "platform", f"FROM {BASE_IMAGE}\nRUN sleep 60\n")
    orphan = await builder.start(request(platform, "orphan", build_id="orphaned"))
    async with asyncio.timeout(30):
        async for line in orphan.log_lines():
            if "RUN sleep 60" in line:
                break
    # A new server process (a new builder on the same data dir) knows nothing of it.
    root = build_components.buildah_root
    options = {"root": str(root / "root"), "runroot": str(root / "run")}
    restarted = BuildahBuilder(BuilderConfig(tmp_path / "data", options))
    again = await restarted.start(request(platform, "orphan", build_id="orphaned"))
    async with asyncio.timeout(15):
        result = await orphan.result()
    assert not result.succeeded
    await again.cancel()


async def test_a_second_replica_on_the_same_data_dir_leaves_running_builds_alone(
    builder: BuildahBuilder, tmp_path: Path, build_components: BuildComponents
) -> None:
    platform = platform_repo(tmp_path / "platform", f"FROM {BASE_IMAGE}\nRUN sleep 60\n")
    running = await builder.start(request(platform, "shared", build_id="replica-one"))
    async with asyncio.timeout(30):
        async for line in running.log_lines():
            if "RUN sleep 60" in line:
                break
    root = build_components.buildah_root
    options = {"root": str(root / "root"), "runroot": str(root / "run")}
    replica = BuildahBuilder(BuilderConfig(tmp_path / "data", options))
    other = await replica.start(request(platform, "shared", build_id="replica-two"))
    await other.cancel()
    # The first replica's build was not swept away as if its server had died.
    assert list((tmp_path / "data" / "builds").glob("replica-one.*"))
    assert builder._running
    await running.cancel()
    assert (await running.result()).reason == "the build was cancelled"
