"""What the demo app is made of: a source repo, the git daemon serving it, a base image.

There is no internet on many home machines, so nothing comes from outside:
the base image is busybox from Debian's `busybox-static`, built FROM scratch
and pushed to the local registry; the source repo is made here and served
read-only by `git daemon` on a loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from pathlib import Path

__all__ = ["DemoError", "GitDaemon", "build_base_image", "make_source_repo"]

SOURCE_FILES = {
    "index.html": "<h1>hello from home-idp</h1>\n",
    "health": "ok\n",
}


class DemoError(RuntimeError):
    """Something the demo needs is missing; the message says what to install or do."""


async def _run(*argv: str, cwd: Path | None = None) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        tail = output.decode(errors="replace").strip().splitlines()[-5:]
        raise DemoError(f"{Path(argv[0]).name} {argv[1]} failed: {' | '.join(tail)}")


async def make_source_repo(directory: Path) -> Path:
    """A bare repo `hello.git` with the demo's web page on `main` (made once)."""
    bare = directory / "hello.git"
    if await asyncio.to_thread((bare / "HEAD").exists):
        return bare
    work = directory / "hello-work"
    await asyncio.to_thread(_source_files, work)
    git = ["git", "-c", "user.name=home-idp", "-c", "user.email=demo@home-idp.invalid"]
    await _run(*git, "init", "-q", "-b", "main", str(work))
    await _run(*git, "-C", str(work), "add", ".")
    await _run(*git, "-C", str(work), "commit", "-qm", "the demo page")
    await _run("git", "clone", "-q", "--bare", str(work), str(bare))
    await asyncio.to_thread(shutil.rmtree, work)
    return bare


def _source_files(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name, content in SOURCE_FILES.items():
        (work / name).write_text(content)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class GitDaemon:
    """`git daemon`, read-only, serving the repos of one folder on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self._process: asyncio.subprocess.Process | None = None

    def url(self, repo: str) -> str:
        return f"git://127.0.0.1:{self.port}/{repo}"

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            "git",
            "daemon",
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
            f"--port={self.port}",
            f"--base-path={self.root}",
            str(self.root),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(100):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.05)
        raise DemoError("git daemon did not start")

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            await process.wait()


def _base_context(busybox: str, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox, work / "busybox")
    (work / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )


async def build_base_image(image: str, buildah_args: list[str], work: Path) -> None:
    """busybox FROM scratch, pushed as `image` (skipped when the registry has it)."""
    busybox = shutil.which("busybox")
    if busybox is None or shutil.which("buildah") is None:
        raise DemoError(
            "the demo needs buildah and busybox: apt-get install buildah busybox-static"
        )
    await asyncio.to_thread(_base_context, busybox, work)
    await _run(*buildah_args, "bud", "--isolation", "chroot", "-q", "-t", image, str(work))
    await _run(*buildah_args, "push", "--tls-verify=false", image)
