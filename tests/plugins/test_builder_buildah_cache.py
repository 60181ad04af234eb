"""The buildah builder's layer cache: reused within a project, never across projects.

Real buildah, the real registry and real git repos (`system` tests); whether
a layer was reused is read from buildah's own output (`--> Using cache`),
never from timings.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from home_idp.plugins.builder.buildah import BuildahBuilder
from home_idp.plugins.builder.contract import BuilderConfig, BuildError, BuildRequest, GitSource
from tests.components import BASE_IMAGE, REGISTRY_HOST, BuildComponents, buildah_command
from tests.plugins.test_builder_buildah import platform_repo

# A slow dependency step before the source is copied: what the cache is for.
DOCKERFILE = f"FROM {BASE_IMAGE}\nRUN echo deps > /deps\nCOPY msg.txt /msg.txt\nRUN cat /msg.txt\n"
DEPS_STEP = "RUN echo deps > /deps"
USING_CACHE = "--> Using cache"


class SourceRepo:
    """A source repo on disk whose one file changes between builds."""

    def __init__(self, directory: Path) -> None:
        self.path = directory
        subprocess.run(["git", "init", "-q", "-b", "main", str(directory)], check=True)

    def commit(self, message: str) -> str:
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", "-C", str(self.path)]
        (self.path / "msg.txt").write_text(f"{message}\n")
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-qm", message], check=True)
        return subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()


def make_builder(data: Path, components: BuildComponents, **options: str) -> BuildahBuilder:
    root = components.buildah_root
    shared = {"root": str(root / "root"), "runroot": str(root / "run")}
    return BuildahBuilder(BuilderConfig(data, shared | options))


def cached_request(
    platform: tuple[str, str], source: SourceRepo, sha: str, *, project: str = "shop"
) -> BuildRequest:
    path, platform_sha = platform
    tag = secrets.token_hex(4)
    return BuildRequest(
        build_id=f"cache-{tag}",
        namespace=project,
        source=GitSource(str(source.path), sha),
        platform=GitSource(path, platform_sha),
        dockerfile_path="projects/shop/apps/web/Dockerfile",
        image=f"{REGISTRY_HOST}/{project}/cached:{tag}",
        insecure_registry=True,
        # As the server passes them: values that differ every release. The
        # Dockerfile declares neither, so they must not change a cache key.
        env={
            "TRACEPARENT": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01",
            "HOME_IDP_RELEASE": tag,
        },
    )


async def build(builder: BuildahBuilder, request: BuildRequest, data: Path) -> list[str]:
    """Build to the end, clean-up included; the build's lines."""
    handle = await builder.start(request)
    lines = [line async for line in handle.log_lines()]
    result = await handle.result()
    assert result.succeeded, (result.reason, lines[-10:])
    async with asyncio.timeout(60):
        while list((data / "builds").glob(f"{request.build_id}.*")):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return lines


def after(lines: list[str], step: str) -> str:
    """The line buildah printed right after a step's `STEP n/m: <instruction>`."""
    index = next(n for n, line in enumerate(lines) if line.endswith(f": {step}"))
    return lines[index + 1]


def store_images(data: Path, project: str) -> list[str]:
    """`<id> <name>` of every image in a project's store, intermediate ones included."""
    (store,) = (data / "buildah" / "cache").glob(f"*/{project}")
    listed = subprocess.run(
        [
            *buildah_command(store),
            "images",
            "--all",
            "--noheading",
            "--format",
            "{{.ID}} {{.Name}}:{{.Tag}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.splitlines()


async def test_a_source_only_change_reuses_the_layers_before_the_copy_in_its_project_only(
    tmp_path: Path, build_components: BuildComponents
) -> None:
    data = tmp_path / "data"
    builder = make_builder(data, build_components)
    platform = platform_repo(tmp_path / "platform", DOCKERFILE)
    source = SourceRepo(tmp_path / "source")

    first = await build(builder, cached_request(platform, source, source.commit("one")), data)
    assert not any(USING_CACHE in line for line in first)

    second = await build(builder, cached_request(platform, source, source.commit("two")), data)
    assert after(second, DEPS_STEP).startswith(USING_CACHE)
    # The changed source is copied and built afresh.
    assert not after(second, "COPY msg.txt /msg.txt").startswith(USING_CACHE)
    assert "two" in second

    # The same Dockerfile and the same source in another project: nothing of
    # shop's reaches it.
    other = cached_request(platform, source, source.commit("two again"), project="games")
    elsewhere = await build(builder, other, data)
    assert not any(USING_CACHE in line for line in elsewhere)
    assert store_images(data, "games") != store_images(data, "shop")


async def test_a_store_keeps_the_layers_of_the_apps_newest_image_only(
    tmp_path: Path, build_components: BuildComponents
) -> None:
    data = tmp_path / "data"
    builder = make_builder(data, build_components)
    platform = platform_repo(tmp_path / "platform", DOCKERFILE)
    source = SourceRepo(tmp_path / "source")
    for message in ("one", "two", "three"):
        await build(builder, cached_request(platform, source, source.commit(message)), data)
    images = store_images(data, "shop")
    names = sorted(line.split()[1] for line in images)
    # The base, the shared deps layer, and the newest build's COPY and RUN
    # (the image itself, under the app's own name); the release tags and the
    # layers of the superseded builds are gone.
    assert names == sorted(
        [
            "<none>:<none>",
            "<none>:<none>",
            BASE_IMAGE,
            "localhost/home-idp-cache/shop/cached:newest",
        ]
    ), images


async def test_with_the_cache_off_nothing_is_reused(
    tmp_path: Path, build_components: BuildComponents
) -> None:
    data = tmp_path / "data"
    builder = make_builder(data, build_components, cache="false")
    platform = platform_repo(tmp_path / "platform", DOCKERFILE)
    source = SourceRepo(tmp_path / "source")
    for message in ("one", "two"):
        lines = await build(builder, cached_request(platform, source, source.commit(message)), data)
        assert not any(USING_CACHE in line for line in lines)
    assert not (data / "buildah" / "cache").exists()


@pytest.mark.parametrize("project", ["../shop", "Shop", "a/b", ""])
async def test_a_project_that_is_no_dns_label_is_refused(tmp_path: Path, project: str) -> None:
    builder = BuildahBuilder(BuilderConfig(tmp_path / "data"))
    request = BuildRequest(
        build_id="cache-bad",
        namespace=project,
        source=GitSource("/nonexistent", "main"),
        platform=GitSource("/nonexistent", "0" * 40),
        dockerfile_path="projects/shop/apps/web/Dockerfile",
        image=f"{REGISTRY_HOST}/shop/cached:bad",
    )
    with pytest.raises(BuildError, match="DNS-1123"):
        await builder.start(request)
    assert not (tmp_path / "data" / "buildah").exists()


def test_stores_unused_for_the_cache_lifetime_are_removed_and_nothing_else(
    tmp_path: Path,
) -> None:
    cache_root = tmp_path / "caches"
    builder = BuildahBuilder(
        BuilderConfig(tmp_path / "data", {"cache_root": str(cache_root), "cache_ttl_hours": "2"})
    )
    long_ago = time.time() - 3 * 3600
    stores = {
        name: cache_root / flavour / name
        for flavour, name in [
            ("vfs-0-100000-65536", "old"),
            ("vfs-0-100000-65536", "recent"),
            ("overlay-0-200000-65536", "older-map"),
        ]
    }
    for name, store in stores.items():
        (store / "root").mkdir(parents=True)
        (store / "used").touch()
        if name != "recent":
            os.utime(store / "used", (long_ago, long_ago))
    # Not a store a build marked: whatever else `cache_root` holds stays.
    unmarked = cache_root / "elsewhere" / "files"
    unmarked.mkdir(parents=True)
    os.utime(unmarked, (long_ago, long_ago))

    builder._sweep_stores()

    assert not stores["old"].exists()
    assert not stores["older-map"].exists()
    assert stores["recent"].is_dir()
    assert unmarked.is_dir()
