"""A Dockerfile's RUN steps, run by real buildah, cannot touch the machine that builds.

Each test builds a Dockerfile that attacks the host from a RUN step and
reads what the step printed: climbing out of its root to the data dir's
keys, being root on the host, seeing the host's processes, reaching the
host's loopback services.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from home_idp.plugins.builder.buildah import BuildahBuilder
from home_idp.plugins.builder.contract import BuilderConfig, BuildError, BuildRequest, GitSource
from tests.components import BASE_IMAGE, REGISTRY_HOST, BuildComponents

DOCKERFILE_PATH = "projects/shop/apps/web/Dockerfile"

# The classic way out of a chroot for a process that keeps CAP_SYS_CHROOT:
# chroot into a subfolder without entering it, climb with "..", chroot to
# where the climb ended (the real root), then read the file it is given.
ESCAPE_C = r"""
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    mkdir("/climb", 0700);
    if (chroot("/climb") != 0) perror("chroot /climb");
    for (int i = 0; i < 256; i++) chdir("..");
    if (chroot(".") != 0) perror("chroot .");
    FILE *file = fopen(argv[1], "r");
    if (file == NULL) { perror("open"); return 0; }
    char text[256];
    size_t size = fread(text, 1, sizeof text - 1, file);
    text[size] = 0;
    printf("read from the host: %s\n", text);
    return 0;
}
"""


def _git(directory: Path, *args: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.test"]
    subprocess.run(["git", *identity, "-C", str(directory), *args], check=True)


def _repo(directory: Path, files: dict[str, bytes]) -> str:
    """A git repo with these files committed on main; its path."""
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(0o755)
    subprocess.run(["git", "init", "-q", "-b", "main", str(directory)], check=True)
    _git(directory, "add", ".")
    _git(directory, "commit", "-qm", "files")
    return str(directory)


@pytest.fixture(scope="module")
def escape_program(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The escape, compiled static so that it runs in a busybox image."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc (with libc6-dev) is needed to compile the escape program")
    work = tmp_path_factory.mktemp("escape")
    (work / "escape.c").write_text(ESCAPE_C)
    subprocess.run(
        ["gcc", "-static", "-O1", "-o", str(work / "escape"), str(work / "escape.c")],
        check=True,
        capture_output=True,
    )
    return (work / "escape").read_bytes()


def _builder(tmp_path: Path, components: BuildComponents, **options: str) -> BuildahBuilder:
    root = components.buildah_root
    return BuildahBuilder(
        BuilderConfig(
            tmp_path / "data",
            {"root": str(root / "root"), "runroot": str(root / "run"), **options},
        )
    )


async def _run_step_output(
    builder: BuildahBuilder, tmp_path: Path, run: str, source: dict[str, bytes] | None = None
) -> list[str]:
    """Build `FROM base; COPY the source; RUN <run>` and return every line it printed."""
    request = await asyncio.to_thread(_build_request, tmp_path, run, source)
    handle = await builder.start(request)
    lines = [line async for line in handle.log_lines()]
    result = await handle.result()
    assert result.succeeded, (result.reason, lines[-10:])
    # The image's clean-up follows the result; the test leaves nothing running.
    async with asyncio.timeout(30):
        while list((tmp_path / "data" / "builds").glob(f"{request.build_id}.*")):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return lines


def _build_request(tmp_path: Path, run: str, source: dict[str, bytes] | None) -> BuildRequest:
    """The repos of a `FROM base; COPY the source; RUN <run>` build, and its request."""
    tag = secrets.token_hex(4)
    platform = _repo(
        tmp_path / "platform",
        {DOCKERFILE_PATH: f"FROM {BASE_IMAGE}\nCOPY . /src/\nRUN {run}\n".encode()},
    )
    sha = subprocess.run(
        ["git", "-C", platform, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    source_repo = _repo(tmp_path / "source", source or {"README": b"source\n"})
    return BuildRequest(
        build_id=f"isolation-{tag}",
        namespace="shop",
        source=GitSource(source_repo, "main"),
        platform=GitSource(platform, sha),
        dockerfile_path=DOCKERFILE_PATH,
        image=f"{REGISTRY_HOST}/shop/isolation:{tag}",
        insecure_registry=True,
    )


@pytest.fixture
def builder(tmp_path: Path, build_components: BuildComponents) -> BuildahBuilder:
    return _builder(tmp_path, build_components)


async def test_a_run_step_cannot_climb_out_of_its_root_to_the_data_dirs_keys(
    builder: BuildahBuilder, tmp_path: Path, escape_program: bytes
) -> None:
    key = tmp_path / "data" / "jwt.key"
    key.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(16)
    key.write_text(secret)
    key.chmod(0o600)
    lines = await _run_step_output(
        builder, tmp_path, f"/src/escape {key}", source={"escape": escape_program}
    )
    text = "\n".join(lines)
    assert secret not in text
    assert "read from the host" not in text
    # The climb ended in the image's own root, where that path does not exist.
    assert any("No such file or directory" in line for line in lines), lines[-10:]


async def test_root_in_a_run_step_is_an_unprivileged_user_on_the_host(
    builder: BuildahBuilder, tmp_path: Path
) -> None:
    lines = await _run_step_output(builder, tmp_path, "cat /proc/self/uid_map /proc/self/gid_map")
    maps = [
        fields
        for fields in (line.split() for line in lines)
        if len(fields) == 3 and all(field.isdigit() for field in fields)
    ]
    # Root inside (0) starts at an unprivileged id outside, for uids and gids alike.
    assert maps == [["0", "100000", "65536"], ["0", "100000", "65536"]], lines[-10:]


async def test_a_run_step_sees_none_of_the_hosts_processes(
    builder: BuildahBuilder, tmp_path: Path
) -> None:
    lines = await _run_step_output(
        builder,
        tmp_path,
        f"ls /proc | grep -c '^[0-9]' | sed 's/^/processes: /'; "
        f"test -e /proc/{os.getpid()}/cmdline && echo 'sees the test runner' || true",
    )
    counts = [int(line.split(": ")[1]) for line in lines if line.startswith("processes: ")]
    assert counts, lines[-10:]
    # Its own shell and `ls`, nothing of this machine's hundreds.
    assert counts[0] <= 5, counts
    assert "sees the test runner" not in lines


def _probe(port: int) -> str:
    return (
        f"nc -w 2 127.0.0.1 {port} </dev/null >/dev/null 2>&1 "
        f"&& echo 'port {port}: reached' || echo 'port {port}: unreachable'"
    )


async def test_a_run_step_cannot_reach_the_hosts_loopback_services(
    builder: BuildahBuilder, tmp_path: Path
) -> None:
    registry = int(REGISTRY_HOST.rpartition(":")[2])
    lines = await _run_step_output(builder, tmp_path, f"{_probe(registry)}; {_probe(5432)}")
    assert f"port {registry}: unreachable" in lines, lines[-10:]
    assert "port 5432: unreachable" in lines, lines[-10:]


async def test_the_host_network_is_a_setting_that_lets_a_run_step_reach_loopback(
    tmp_path: Path, build_components: BuildComponents
) -> None:
    trusting = _builder(tmp_path, build_components, network="host")
    registry = int(REGISTRY_HOST.rpartition(":")[2])
    lines = await _run_step_output(trusting, tmp_path, _probe(registry))
    assert f"port {registry}: reached" in lines, lines[-10:]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"isolation": "chroot"}, "`isolation` option must be oci"),
        ({"userns": "0:0:65536"}, "may not include 0 (root)"),
        ({"userns": "0:100000"}, "`userns` option"),
        ({"network": "bridge"}, "`network` option"),
    ],
    ids=["chroot", "root-range", "malformed-map", "unknown-network"],
)
def test_settings_that_would_weaken_isolation_are_refused_by_name(
    tmp_path: Path, build_components: BuildComponents, options: dict[str, str], named: str
) -> None:
    with pytest.raises(BuildError, match=r"HOME_IDP_BUILDER__OPTIONS|isolated") as refused:
        _builder(tmp_path, build_components, **options)
    assert named in str(refused.value)


async def test_without_its_runtime_a_build_fails_naming_the_setting(
    tmp_path: Path, build_components: BuildComponents
) -> None:
    builder = _builder(tmp_path, build_components, runtime="no-such-runtime")
    request = BuildRequest(
        build_id="no-runtime",
        namespace="shop",
        source=GitSource("/nonexistent", "main"),
        platform=GitSource("/nonexistent", "0" * 40),
        dockerfile_path=DOCKERFILE_PATH,
        image=f"{REGISTRY_HOST}/shop/isolation:none",
        insecure_registry=True,
    )
    with pytest.raises(BuildError, match="`runtime` option, HOME_IDP_BUILDER__OPTIONS"):
        await builder.start(request)
