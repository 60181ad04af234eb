"""The BuilderPlugin contract, one suite that every in-tree builder plugin passes.

What the engine's build step relies on: lines while the build runs, a
result with the pushed digest (the one the registry then has), cancel and
restart under the same id, and bad input refused before anything runs.
`buildah` builds for real against the test run's registry (a `system` test);
`kaniko` runs the real kubernetes client against the Kubernetes stand-in,
whose Job the test finishes as a cluster would; `fake` is the in-memory fake.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from home_idp.plugins.builder.contract import (
    BuilderConfig,
    BuilderPlugin,
    BuildError,
    BuildHandle,
    BuildRequest,
    GitSource,
)
from home_idp.plugins.discovery import installed_plugins, load_plugin
from home_idp.plugins.git.contract import CommitAuthor, GitConfig
from home_idp.plugins.registry.contract import RegistryConfig, RegistryPlugin
from tests.doubles.kubernetes import kubernetes_stand_in
from tests.fakes import FakeBuilder, FakeGit, FakeRegistry
from tests.plugins.test_builder_buildah import DOCKERFILE_PATH, platform_repo

PLUGINS = ["buildah", "kaniko"]
SUBJECTS = [pytest.param("buildah", marks=pytest.mark.system), "kaniko", "fake"]
KUBE_TOKEN = "k8s-ContractToken-0123456789abcdefABCDEF"
KANIKO_DIGEST = "sha256:" + "ab" * 32
AUTHOR = CommitAuthor("Ada Lovelace", "ada@example.test")
BAD_INPUT = [
    {"build_id": "../x"},
    {"build_id": "UPPER"},
    {"dockerfile_path": "../etc/passwd"},
    {"dockerfile_path": "/abs/Dockerfile"},
    {"source": GitSource("https://git.example/web.git", "main", path="../up")},
]


@dataclass
class Subject:
    """A builder under test and the world around it.

    `platform` puts a Dockerfile where the builder reads the platform repo;
    `finish` plays the part of whatever runs the build (a cluster finishing
    its Job); `registry`, when there is one, is where pushed images land.
    """

    plugin: BuilderPlugin
    base_image: str
    registry_host: str
    source: GitSource
    platform: Callable[[str], Awaitable[GitSource]]
    finish: Callable[[BuildRequest], Awaitable[None]]
    registry: RegistryPlugin | None = None

    async def request(self, dockerfile: str, tag: str, **changes: Any) -> BuildRequest:
        request = BuildRequest(
            build_id=f"contract-{tag}",
            namespace="shop",
            source=self.source,
            platform=await self.platform(dockerfile),
            dockerfile_path=DOCKERFILE_PATH,
            image=f"{self.registry_host}/shop/contract:{tag}",
            insecure_registry=True,
        )
        return dataclasses.replace(request, **changes)

    def slow(self) -> str:
        """A Dockerfile whose build runs until it is stopped."""
        return f"FROM {self.base_image}\nRUN sleep 60\n"


async def nothing_to_do(request: BuildRequest) -> None:
    return None


@pytest.fixture(params=SUBJECTS)
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    name: str = request.param
    if name == "fake":
        async with _fake(tmp_path) as subject:
            yield subject
    elif name == "kaniko":
        async with _kaniko(tmp_path) as subject:
            yield subject
    else:
        async with _buildah(tmp_path, request) as subject:
            yield subject


@asynccontextmanager
async def _fake(tmp_path: Path) -> AsyncIterator[Subject]:
    git = FakeGit(GitConfig("platform", "main", tmp_path, "http://127.0.0.1:1/", "s" * 16))
    registry = FakeRegistry(RegistryConfig("http://registry.fake.test", "http://127.0.0.1:1/", "s"))
    plugin = FakeBuilder(BuilderConfig(tmp_path), git=git, registry=registry)

    async def platform(dockerfile: str) -> GitSource:
        commit = await git.commit_files({DOCKERFILE_PATH: dockerfile.encode()}, AUTHOR, "Add")
        return GitSource(git.clone_url, commit.sha)

    source = GitSource("https://git.example/acme/web.git", "main")
    try:
        yield Subject(plugin, "busybox", registry.host, source, platform, nothing_to_do, registry)
    finally:
        await plugin.aclose()
        await registry.aclose()


@asynccontextmanager
async def _kaniko(tmp_path: Path) -> AsyncIterator[Subject]:
    async with kubernetes_stand_in(token=KUBE_TOKEN) as kube:
        options = {
            "api_url": kube.base_url,
            "token": KUBE_TOKEN,
            "poll_interval": "0.02",
            "request_timeout": "2",
            "unavailable_timeout": "0.3",
            "delete_timeout": "2",
        }
        plugin: BuilderPlugin = load_plugin("builder", "kaniko")(BuilderConfig(tmp_path, options))

        async def platform(dockerfile: str) -> GitSource:
            # The Job's init container fetches it; the stand-in runs no container.
            return GitSource("https://git.example/acme/platform.git", "0123456789" * 4)

        async def finish(request: BuildRequest) -> None:
            logs = {"build": ["INFO Building stage", "INFO Pushing image"]}
            kube.finish_job(request.namespace, request.build_id, logs=logs, digest=KANIKO_DIGEST)

        source = GitSource("https://git.example/acme/web.git", "main")
        try:
            yield Subject(plugin, "busybox", "registry.example:5000", source, platform, finish)
        finally:
            await plugin.aclose()


@asynccontextmanager
async def _buildah(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    from tests.components import BASE_IMAGE, REGISTRY_HOST, REGISTRY_URL, SOURCE_REPO

    components = request.getfixturevalue("build_components")
    root = components.buildah_root
    options = {"root": str(root / "root"), "runroot": str(root / "run")}
    plugin: BuilderPlugin = load_plugin("builder", "buildah")(
        BuilderConfig(tmp_path / "data", options)
    )
    registry: RegistryPlugin = load_plugin("registry", "distribution")(
        RegistryConfig(REGISTRY_URL, "http://127.0.0.1:1/", "s")
    )
    repos = tmp_path / "platform"

    async def platform(dockerfile: str) -> GitSource:
        directory = repos / f"r{len(list(repos.glob('r*'))) if repos.exists() else 0}"
        return GitSource(*await asyncio.to_thread(platform_repo, directory, dockerfile))

    try:
        yield Subject(
            plugin,
            BASE_IMAGE,
            REGISTRY_HOST,
            GitSource(SOURCE_REPO, "main"),
            platform,
            nothing_to_do,
            registry,
        )
    finally:
        await plugin.aclose()
        await registry.aclose()


async def collect(handle: BuildHandle) -> list[str]:
    async with asyncio.timeout(120):
        return [line async for line in handle.log_lines()]


def test_the_suite_covers_every_installed_builder_plugin() -> None:
    assert installed_plugins("builder") == sorted(PLUGINS)


def test_it_is_a_builder_plugin(subject: Subject) -> None:
    assert isinstance(subject.plugin, BuilderPlugin)
    assert isinstance(subject.plugin.on_this_machine, bool)


async def test_a_build_streams_its_lines_and_ends_with_the_pushed_digest(
    subject: Subject,
) -> None:
    request = await subject.request(f"FROM {subject.base_image}\nRUN echo made it\n", "ok")

    handle = await subject.plugin.start(request)
    lines = asyncio.create_task(collect(handle))
    await subject.finish(request)
    async with asyncio.timeout(120):
        result = await handle.result()

    assert result.succeeded, result.reason
    assert result.digest is not None and result.digest.startswith("sha256:")
    assert all(isinstance(line, str) for line in await lines)
    assert await lines  # the log ends when the build does, with what it wrote
    if subject.registry is not None:
        # The engine's reconciler finds the image by its tag: the same digest.
        assert await subject.registry.tag_digest("shop/contract", "ok") == result.digest


async def test_cancel_stops_the_build_without_an_image_and_is_idempotent(
    subject: Subject,
) -> None:
    request = await subject.request(subject.slow(), "cancel")
    handle = await subject.plugin.start(request)

    async with asyncio.timeout(30):
        await handle.cancel()
        await handle.cancel()
        result = await handle.result()
        await collect(handle)  # the log ends too

    assert not result.succeeded
    assert result.digest is None
    assert "cancel" in result.reason
    if subject.registry is not None:
        assert await subject.registry.tag_digest("shop/contract", "cancel") is None


async def test_starting_the_same_build_again_replaces_the_earlier_one(subject: Subject) -> None:
    request = await subject.request(subject.slow(), "again")
    first = await subject.plugin.start(request)
    second = await subject.plugin.start(request)

    async with asyncio.timeout(30):
        earlier = await first.result()
    await second.cancel()

    assert not earlier.succeeded
    assert earlier.digest is None


async def test_aclose_stops_builds_still_running(subject: Subject) -> None:
    handle = await subject.plugin.start(await subject.request(subject.slow(), "closing"))

    await subject.plugin.aclose()  # the fixture closes it again: closing twice is fine

    async with asyncio.timeout(30):
        assert not (await handle.result()).succeeded


@pytest.mark.parametrize("changes", BAD_INPUT, ids=lambda changes: repr(changes)[:40])
async def test_bad_input_is_refused_before_anything_runs(
    subject: Subject, changes: dict[str, Any]
) -> None:
    request = await subject.request(f"FROM {subject.base_image}\n", "bad", **changes)
    with pytest.raises(BuildError):
        await subject.plugin.start(request)
