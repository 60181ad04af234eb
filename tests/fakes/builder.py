"""An in-memory builder: reads the Dockerfile from the fake repo, "builds" at once, pushes.

It keeps the contract's promises the engine relies on: lines as the build
goes, a digest only for an image the registry then has, a failure that says
what was missing, a retryable one when the registry is not there, and
a `RUN` that sleeps N seconds (`RUN sleep N`, `RUN echo … && sleep N`) takes
N seconds, so a build can be caught running.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Callable

from home_idp.plugins.builder.contract import (
    BuilderConfig,
    BuildError,
    BuildRequest,
    BuildResult,
)
from tests.fakes.git import FakeGit
from tests.fakes.registry import FakeRegistry

__all__ = ["FakeBuild", "FakeBuilder"]

_BUILD_ID = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SLEEP = re.compile(r"^RUN\b.*\bsleep\s+(\d+(?:\.\d+)?)\s*$", re.IGNORECASE)
CANCELLED = "the build was cancelled"


def _check(request: BuildRequest) -> None:
    if not _BUILD_ID.fullmatch(request.build_id):
        raise BuildError(f"the build id must be a DNS label: {request.build_id!r}")
    for what, path in (("Dockerfile", request.dockerfile_path), ("context", request.source.path)):
        if path.startswith("/") or ".." in path.split("/"):
            raise BuildError(f"refusing the {what} path {path!r}")
    for ref in (request.source.ref, request.platform.ref):
        if not ref or ref.startswith("-"):
            raise BuildError(f"refusing the ref {ref!r}")


class FakeBuild:
    """One build: a task that writes lines and ends with a result."""

    def __init__(self, builder: FakeBuilder, request: BuildRequest) -> None:
        self._builder = builder
        self._request = request
        self._lines: list[str] = []
        self._changed = asyncio.Condition()
        self._ended = False
        self._task = asyncio.create_task(self._run())

    async def log_lines(self) -> AsyncIterator[str]:
        seen = 0
        while True:
            async with self._changed:
                await self._changed.wait_for(self._more_than(seen))
                fresh, ended = self._lines[seen:], self._ended
            for line in fresh:
                yield line
            seen += len(fresh)
            if ended and seen == len(self._lines):
                return

    def _more_than(self, seen: int) -> Callable[[], bool]:
        return lambda: self._ended or len(self._lines) > seen

    async def result(self) -> BuildResult:
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled():  # cancelled before it began
                return BuildResult(None, CANCELLED)
            raise

    async def cancel(self) -> None:
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._end()

    async def _end(self) -> None:
        async with self._changed:
            self._ended = True
            self._changed.notify_all()

    async def _write(self, line: str) -> None:
        async with self._changed:
            self._lines.append(line)
            self._changed.notify_all()

    async def _run(self) -> BuildResult:
        try:
            return await self._build()
        except asyncio.CancelledError:
            # Cancelled by `cancel`: the result says so (the task ends normally).
            return BuildResult(None, CANCELLED)
        finally:
            await self._end()

    async def _build(self) -> BuildResult:
        request, git, registry = self._request, self._builder.git, self._builder.registry
        await self._write(f"==> fetch platform {request.platform.ref[:12]}")
        dockerfile = await git.read_file(request.dockerfile_path, request.platform.ref)
        if dockerfile is None:
            reason = f"the platform repo has no {request.dockerfile_path} at {request.platform.ref}"
            return BuildResult(None, reason)
        await self._write(f"==> fetch source {request.source.url} {request.source.ref}")
        instructions = [
            line.strip()
            for line in dockerfile.decode(errors="replace").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not instructions or not instructions[0].upper().startswith(("FROM", "ARG")):
            return BuildResult(None, "the Dockerfile does not start with FROM")
        for number, instruction in enumerate(instructions, start=1):
            await self._write(f"STEP {number}/{len(instructions)}: {instruction}")
            if sleep := _SLEEP.match(instruction):
                await asyncio.sleep(float(sleep.group(1)))
        host, _, path = request.image.partition("/")
        repository, _, tag = path.rpartition(":")
        await self._write("--- push")
        if host != registry.host:
            return BuildResult(None, f"push failed: no registry answers at {host}", retryable=True)
        material = b"\n".join([dockerfile, request.source.url.encode(), request.image.encode()])
        digest = "sha256:" + hashlib.sha256(material).hexdigest()
        registry.push(repository, tag, digest)
        await self._write(f"pushed {request.image}@{digest}")
        return BuildResult(digest)


class FakeBuilder:
    """Builds from the fake repo's Dockerfiles and pushes to the fake registry."""

    def __init__(self, config: BuilderConfig, *, git: FakeGit, registry: FakeRegistry) -> None:
        self._config = config
        self.git = git
        self.registry = registry
        self.requests: list[BuildRequest] = []
        self._running: dict[str, FakeBuild] = {}

    @property
    def on_this_machine(self) -> bool:
        return False

    async def start(self, request: BuildRequest) -> FakeBuild:
        _check(request)
        earlier = self._running.pop(request.build_id, None)
        if earlier is not None:
            await earlier.cancel()
        self.requests.append(request)
        build = self._running[request.build_id] = FakeBuild(self, request)
        return build

    async def aclose(self) -> None:
        for build in list(self._running.values()):
            await build.cancel()
        self._running.clear()
