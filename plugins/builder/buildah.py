"""The `buildah` builder plugin: builds on this machine, daemonless (local mode default).

A build is a short script of subprocesses in its own work dir: fetch the
platform repo at the release's commit, fetch the source repo at its ref,
`buildah bud` with every RUN step isolated (`isolation.py`), and only when
that succeeded `buildah push`, which writes the pushed manifest's digest to
a file. Every line the commands print is streamed
to the handle. Credentials reach git and buildah through the environment and
a 0600 auth file, never through a command line that `ps` could show.

Layers are cached per project: each project builds in a buildah store of its
own, so a cached layer of one project is never reused by another's build (a
RUN step's cache key is only its instruction and its parent: in a shared
store one tenant could read or poison another's layers). A store keeps, per
app, the layers of its newest image, pruned as builds supersede them; layers
older than `cache_ttl_hours` are built again, and a store no build used for
that long is removed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated

from home_idp.plugins.builder.contract import (
    BuilderConfig,
    BuildError,
    BuildRequest,
    BuildResult,
    GitSource,
)
from home_idp.plugins.builder.isolation import BuildIsolation
from home_idp.plugins.registry.contract import RegistryCredentials
from home_idp.plugins.support.dns_names import is_dns_label
from home_idp.plugins.support.git_source import (
    UNREACHABLE,
    base_env,
    fetch_url,
    fetched_names,
    git_env,
)
from home_idp.plugins.support.options import Between, Flag
from home_idp.plugins.support.repo_paths import is_repo_path
from home_idp.plugins.support.tracing import tracer

__all__ = ["BuildahBuilder", "BuildahHandle"]

log = logging.getLogger(__name__)

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
_MAX_LINE = 4000
_END = object()
_PGID_FILE = "running.pgid"
# The server process that runs the build: its pid and start time (pids are reused).
_OWNER_FILE = "owner"
# What a process group of ours runs; anything else under a reused id is left alone.
_OUR_COMMANDS = (b"buildah", b"git")
# The name each app's newest image keeps in its project's store: it holds that
# image's layers (the cache of the app's next build) after the release's tag goes.
_NEWEST = "localhost/home-idp-cache/{repository}:newest"
# Touched by every build of a project; a store untouched for the cache's
# lifetime holds nothing a build would reuse.
_USED_FILE = "used"
_STORE_SWEEP_SECONDS = 3600.0


class _StepFailed(Exception):
    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class BuildahOptions(BuildIsolation):
    """The buildah builder's options: its binaries and storage, and how RUN steps are isolated."""

    buildah: str = "buildah"
    git: str = "git"
    root: str = ""
    runroot: str = ""
    storage_driver: str = "vfs"
    cache: Flag = True
    cache_ttl_hours: Annotated[int, Between(1, 24 * 365)] = 168
    cache_root: str = ""


class BuildahBuilder:
    """Runs buildah on this machine.

    Options: `storage_driver` (default `vfs`, which works everywhere),
    `runtime`, `userns` and `network` (how RUN steps are isolated; see
    `isolation.py`), `root` and `runroot` (buildah's storage, default under
    `<data dir>/buildah`), `cache` (layer caching, one store per project;
    default on), `cache_ttl_hours` (how long a cached layer is reused, and
    an unused project store kept; default 168), `cache_root` (where the
    project stores are, default `<data dir>/buildah/cache`), `buildah` and
    `git` (the binaries).
    """

    def __init__(self, config: BuilderConfig) -> None:
        options = BuildahOptions.read(config.options, "the buildah builder", BuildError)
        self._work_root = config.data_dir / "builds"
        self._buildah = options.buildah
        self._git = options.git
        storage = config.data_dir / "buildah"
        self._storage_driver = options.storage_driver
        self._shared_store = (
            options.root or str(storage / "root"),
            options.runroot or str(storage / "run"),
        )
        self._caching = options.cache
        self._cache_ttl_hours = options.cache_ttl_hours
        # A store is only ever used with one driver and one id map (buildah
        # refuses another): changing either starts new stores rather than
        # failing every project's builds; the old ones age out.
        flavour = re.sub(r"[^a-z0-9]+", "-", f"{options.storage_driver}-{options.userns}")
        self._cache_root = Path(options.cache_root or storage / "cache") / flavour
        self._isolation: BuildIsolation = options
        self._running: dict[str, BuildahHandle] = {}
        self._swept = False
        self._stores_swept = float("-inf")

    @property
    def on_this_machine(self) -> bool:
        return True

    async def start(self, request: BuildRequest) -> BuildahHandle:
        _check_request(request)
        for binary in (self._buildah, self._git):
            if shutil.which(binary) is None:
                raise BuildError(f"{binary} is not installed on this machine")
        self._isolation.check_available()
        if not self._swept:
            self._swept = True
            await asyncio.to_thread(self._sweep)
        if self._caching and time.monotonic() - self._stores_swept > _STORE_SWEEP_SECONDS:
            self._stores_swept = time.monotonic()
            await asyncio.to_thread(self._sweep_stores)
        earlier = self._running.pop(request.build_id, None)
        if earlier is not None:
            await earlier.cancel()
        # A build interrupted by a restart left its work dir, and perhaps a
        # buildah still running on its own: stop that (the build is this
        # start's now), then start clean in a work dir of its own.
        await asyncio.to_thread(_stop_earlier, self._work_root, request.build_id)
        work_dir = self._work_root / f"{request.build_id}.{secrets.token_hex(4)}"
        await asyncio.to_thread(work_dir.mkdir, 0o700, True)
        (work_dir / _OWNER_FILE).write_text(_this_process())
        handle = BuildahHandle(self, request, work_dir)
        self._running[request.build_id] = handle
        handle.begin()
        return handle

    async def aclose(self) -> None:
        for handle in list(self._running.values()):
            await handle.cancel()

    def _sweep(self) -> None:
        """Stop and remove what builds of a dead server left (it died mid-build).

        Replicas may share the data dir: a build whose server still runs is
        left alone.
        """
        if not self._work_root.is_dir():
            return
        for work_dir in self._work_root.iterdir():
            if work_dir.name.partition(".")[0] in self._running or _owner_alive(
                work_dir / _OWNER_FILE
            ):
                continue
            _kill_orphan(work_dir / _PGID_FILE)
            shutil.rmtree(work_dir, ignore_errors=True)

    def _sweep_stores(self) -> None:
        """Remove the stores of projects that built nothing for the cache's lifetime.

        Their layers are too old to be reused, and a deleted project's store
        would otherwise stay for good. Each build touches its store first, so
        a store in use (here or by another replica) is never this old.
        """
        if not self._cache_root.parent.is_dir():
            return
        oldest = time.time() - self._cache_ttl_hours * 3600
        busy = {handle.project for handle in self._running.values()}
        for used_file in self._cache_root.parent.glob(f"*/*/{_USED_FILE}"):
            # Only what a build marked is ours to remove, whatever `cache_root` points at.
            store = used_file.parent
            if not is_dns_label(store.name) or store.name in busy:
                continue
            try:
                stale = used_file.stat().st_mtime < oldest
            except OSError:
                continue
            if stale:
                log.info("removing the unused build cache of %s", store.name)
                shutil.rmtree(store, ignore_errors=True)

    def _finished(self, handle: BuildahHandle) -> None:
        if self._running.get(handle.build_id) is handle:
            del self._running[handle.build_id]

    def store(self, project: str | None) -> Path | None:
        """The buildah store a project's builds use: its own when layers are cached."""
        return self._cache_root / project if self._caching and project else None

    def buildah_args(self, *args: str, project: str | None = None) -> list[str]:
        """A buildah command on a project's storage (its id map included).

        Without a project (or with the cache off) it is the builder's shared
        store, where nothing is cached.
        """
        store = self.store(project)
        root, runroot = (str(store / "root"), str(store / "run")) if store else self._shared_store
        return [
            self._buildah,
            "--root",
            root,
            "--runroot",
            runroot,
            "--storage-driver",
            self._storage_driver,
            *self._isolation.storage_args(),
            *args,
        ]

    def cache_args(self) -> list[str]:
        """`buildah bud`'s flags for the layer cache."""
        if not self._caching:
            return ["--layers=false"]
        # A cached `RUN apt-get upgrade` never runs again: the TTL makes old
        # layers be built afresh, so a long-lived cache still picks up fixes.
        return ["--layers=true", f"--cache-ttl={self._cache_ttl_hours}h"]

    @property
    def cache_ttl_hours(self) -> int:
        return self._cache_ttl_hours

    @property
    def isolation(self) -> BuildIsolation:
        return self._isolation

    @property
    def git(self) -> str:
        return self._git


class BuildahHandle:
    """One buildah build in progress: its lines, its result, its cancel."""

    def __init__(self, builder: BuildahBuilder, request: BuildRequest, work_dir: Path) -> None:
        self._builder = builder
        self._request = request
        self._work_dir = work_dir
        self._lines: asyncio.Queue[object] = asyncio.Queue()
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._outcome: asyncio.Future[BuildResult] = asyncio.get_running_loop().create_future()
        self._cancelled = False

    @property
    def build_id(self) -> str:
        return self._request.build_id

    @property
    def project(self) -> str:
        return self._request.namespace

    def _buildah(self, *args: str) -> list[str]:
        return self._builder.buildah_args(*args, project=self._request.namespace)

    def begin(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"build-{self.build_id}")

    async def log_lines(self) -> AsyncIterator[str]:
        while True:
            line = await self._lines.get()
            if line is _END:
                return
            yield str(line)

    async def result(self) -> BuildResult:
        return await asyncio.shield(self._outcome)

    async def cancel(self) -> None:
        self._cancelled = True
        self._kill()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._task)

    # -- the build script ------------------------------------------------------

    async def _run(self) -> None:
        try:
            result = await self._script()
        except asyncio.CancelledError:
            self._kill()
            self._outcome.cancel()
            raise
        except Exception as error:  # never leave result() waiting forever
            log.exception("build %s failed unexpectedly", self.build_id)
            result = BuildResult(None, f"the build failed unexpectedly ({type(error).__name__})")
        finally:
            self._lines.put_nowait(_END)
            self._builder._finished(self)
        # The result is out before the clean-up: the release need not wait for it.
        self._outcome.set_result(result)
        try:
            await self._clean_up(result)
        except (_StepFailed, OSError) as error:
            log.warning("could not remove the built image of %s: %s", self.build_id, error)
        finally:
            await asyncio.to_thread(shutil.rmtree, self._work_dir, True)

    async def _clean_up(self, result: BuildResult) -> None:
        """Drop the release's local image; with the cache on, keep its layers.

        Removing an image also removes the untagged layers under it that no
        other image builds on: the whole chain. So the app's newest image keeps
        a name of its own (its previous one goes, with the layers the new one
        no longer shares), and leftovers of failed builds go once they are
        past the cache's lifetime.
        """
        image = self._request.image
        if self._builder.store(self.project) is None:
            if result.succeeded:
                # The image is in the registry now; the local copy only takes space.
                await self._command("clean up", self._buildah("rmi", image), show=False)
            return
        if not result.succeeded:
            # A bud that failed tagged nothing; one whose push failed did.
            with contextlib.suppress(_StepFailed):
                await self._command("clean up", self._buildah("rmi", image), show=False)
            return
        newest = _NEWEST.format(repository=_repository(image))
        with contextlib.suppress(_StepFailed):  # the app's first build has none
            await self._command("clean up", self._buildah("rmi", newest), show=False)
        await self._command("clean up", self._buildah("tag", image, newest), show=False)
        await self._command("clean up", self._buildah("rmi", image), show=False)
        ttl = f"until={self._builder.cache_ttl_hours}h"
        stale = await self._command(
            "clean up",
            self._buildah(
                "images", "--all", "--quiet", "--filter=dangling=true", f"--filter={ttl}"
            ),
            show=False,
            keep_output=True,
        )
        if stale:
            await self._command("clean up", self._buildah("rmi", *stale), show=False)

    async def _script(self) -> BuildResult:
        request = self._request
        try:
            platform_dir = self._work_dir / "platform"
            source_dir = self._work_dir / "source"
            spans = tracer(__name__)
            with spans.start_as_current_span("git fetch platform repo"):
                await self._fetch(request.platform, platform_dir, "platform repo")
            with spans.start_as_current_span(
                "git fetch source repo", attributes={"home_idp.git.ref": request.source.ref}
            ):
                await self._fetch(request.source, source_dir, "source repo")
            dockerfile = platform_dir / request.dockerfile_path
            context = source_dir / request.source.path
            if not dockerfile.is_file():
                raise _StepFailed(f"the platform repo has no {request.dockerfile_path}")
            if not context.is_dir():
                raise _StepFailed(f"the source repo has no directory {request.source.path!r}")
            if not context.resolve().is_relative_to(source_dir.resolve()):
                # A symlink in the developer's repo must not make this machine's
                # files (keys, the database) the build context.
                raise _StepFailed(f"the context path {request.source.path!r} leaves the repo")
            auth_file = self._auth_file(request.push_credentials, request.image)
            tls = f"--tls-verify={'false' if request.insecure_registry else 'true'}"
            auth = ["--authfile", str(auth_file)] if auth_file else []
            store = self._builder.store(self.project)
            if store is not None:
                await asyncio.to_thread(_touch, store)
            with spans.start_as_current_span("buildah bud"):
                await self._command(
                    "build",
                    self._buildah(
                        "bud",
                        *self._builder.isolation.bud_args(),
                        tls,
                        *auth,
                        *self._builder.cache_args(),
                        # The build's env (trace context among it) reaches the
                        # Dockerfile's ARGs, so a RUN that emits spans joins the
                        # trace. Only a declared ARG is part of a layer's cache
                        # key: these values change every release, so a Dockerfile
                        # that declares one misses the cache from that ARG on.
                        *(
                            f"--build-arg={name}={value}"
                            for name, value in sorted(request.env.items())
                        ),
                        "--file",
                        str(dockerfile),
                        "--tag",
                        request.image,
                        str(context),
                    ),
                    explain=self._builder.isolation.failure_reason,
                )
            digest_file = self._work_dir / "digest"
            with spans.start_as_current_span("buildah push"):
                await self._command(
                    "push",
                    self._buildah(
                        "push", tls, *auth, "--digestfile", str(digest_file), request.image
                    ),
                    retryable=True,
                )
            if auth_file is not None:
                auth_file.unlink()  # the push password is not kept on disk longer than needed
            digest = digest_file.read_text().strip()
            if not digest.startswith("sha256:"):
                raise _StepFailed("buildah push wrote no digest")
            return BuildResult(digest)
        except _StepFailed as failure:
            if self._cancelled:
                return BuildResult(None, "the build was cancelled")
            return BuildResult(None, failure.reason, retryable=failure.retryable)
        except OSError as error:
            return BuildResult(None, f"the build could not run: {error.strerror}", retryable=True)

    async def _fetch(self, source: GitSource, target: Path, label: str) -> None:
        """Fetch one commit (a ref or a sha) without history, and check it out."""
        git = self._builder.git
        env = await asyncio.to_thread(git_env, source, self._work_dir / f"{target.name}.ssh")
        url = fetch_url(source)
        await self._command(f"fetch the {label}", [git, "init", "--quiet", str(target)], env=env)
        fetch = [git, "-C", str(target), "fetch", "--quiet", "--depth", "1", "--", url]
        try:
            await self._command(f"fetch the {label}", [*fetch, source.ref], env=env, show=False)
        except _StepFailed as failure:
            if failure.retryable:
                raise
            # Servers that do not serve a bare sha still serve their branches
            # and tags: fetch those, and look for the commit among them.
            # Whole history this time: the commit may be anywhere in it.
            await self._command(
                f"fetch the {label}",
                [
                    git,
                    "-C",
                    str(target),
                    "fetch",
                    "--quiet",
                    "--",
                    url,
                    "+refs/heads/*:refs/remotes/origin/*",
                    "+refs/tags/*:refs/tags/*",
                ],
                env=env,
            )
            # The branches were fetched as origin's: `main` names a commit
            # only as refs/remotes/origin/main (given alone, git would take
            # it for a path). The `^{commit}` and the `--` keep it a commit.
            checkout = [git, "-C", str(target), "checkout", "--quiet", "--detach"]
            for name in fetched_names(source.ref):
                try:
                    await self._command(
                        f"check out {source.ref[:40]} in the {label}",
                        [*checkout, f"{name}^{{commit}}", "--"],
                        env=env,
                        show=False,
                    )
                    return
                except _StepFailed:
                    continue
            raise _StepFailed(f"the {label} has no ref {source.ref[:80]!r}") from None
        await self._command(
            f"check out the {label}",
            [git, "-C", str(target), "checkout", "--quiet", "--detach", "FETCH_HEAD"],
            env=env,
        )

    async def _command(
        self,
        label: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        retryable: bool = False,
        show: bool = True,
        explain: Callable[[Sequence[str]], str | None] | None = None,
        keep_output: bool = False,
    ) -> list[str]:
        """Run one command, streaming its lines; its output lines when `keep_output`."""
        if self._cancelled:
            raise _StepFailed("the build was cancelled")
        if show:
            self._emit(f"--- {label}")
        tail: list[str] = []
        output: list[str] = []
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self._work_dir,
            env={**base_env(), **self._request.env, **(env or {})},
            # Its own process group, so a cancel stops buildah's children too.
            start_new_session=True,
        )
        self._process = process
        # Kept on disk so that a server that dies now can stop it after a restart.
        (self._work_dir / _PGID_FILE).write_text(str(process.pid))
        if self._cancelled:  # a cancel that came while the process was starting
            self._kill()
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")[:_MAX_LINE]
            self._emit(line)
            tail = [*tail[-4:], line]
            if keep_output:
                output.append(line)
        code = await process.wait()
        self._process = None
        if code != 0:
            text = " ".join(tail)
            reason = explain(tail) if explain is not None else None
            raise _StepFailed(
                reason or f"{label} failed (exit code {code})",
                retryable=retryable or bool(UNREACHABLE.search(text)),
            )
        return output

    def _emit(self, line: str) -> None:
        self._lines.put_nowait(line)

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    def _auth_file(self, credentials: RegistryCredentials | None, image: str) -> Path | None:
        if credentials is None:
            return None
        host = image.split("/", 1)[0]
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode())
        path = self._work_dir / "auth.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"auths": {host: {"auth": token.decode()}}}, handle)
        return path


def _repository(image: str) -> str:
    """An image reference's repository: without its registry host and its tag."""
    path = image.partition("/")[2] or image
    name, _, tag = path.rpartition(":")
    return name if name and "/" not in tag else path


def _touch(store: Path) -> None:
    store.mkdir(mode=0o700, parents=True, exist_ok=True)
    (store / _USED_FILE).touch()


def _process_identity(pid: int) -> str | None:
    """`<pid> <start time>` of a live process, or None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The start time is field 22; the command name (field 2) may hold spaces.
    return f"{pid} {stat.rpartition(')')[2].split()[19]}"


def _this_process() -> str:
    return _process_identity(os.getpid()) or str(os.getpid())


def _owner_alive(owner_file: Path) -> bool:
    try:
        pid, started, *_ = owner_file.read_text().split()
        identity = _process_identity(int(pid))
    except (OSError, ValueError):
        return False
    return identity == f"{pid} {started}"


def _stop_earlier(work_root: Path, build_id: str) -> None:
    """Stop and remove every earlier work dir of this build, whoever started it."""
    if not work_root.is_dir():
        return
    for work_dir in work_root.glob(f"{build_id}.*"):
        _kill_orphan(work_dir / _PGID_FILE)
        shutil.rmtree(work_dir, ignore_errors=True)


def _kill_orphan(pgid_file: Path) -> None:
    """Stop the process group an earlier server left running for this build."""
    try:
        pgid = int(pgid_file.read_text())
        command = Path(f"/proc/{pgid}/cmdline").read_bytes().split(b"\0")[0]
    except (OSError, ValueError):
        return  # no such file, or the process is gone
    if Path(command.decode(errors="replace")).name.encode() not in _OUR_COMMANDS:
        return
    log.warning("stopping the build process group %s left by an earlier server", pgid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _check_request(request: BuildRequest) -> None:
    if not is_dns_label(request.build_id):
        raise BuildError(f"the build id {request.build_id!r} is not a DNS-1123 label")
    if not is_dns_label(request.namespace):
        # It names the project's store, a directory: no traversal.
        raise BuildError(f"the project {request.namespace!r} is not a DNS-1123 label")
    for source in (request.source, request.platform):
        if not _REF.fullmatch(source.ref) or ".." in source.ref:
            raise BuildError(f"the git ref {source.ref[:80]!r} is not usable")
        if source.url.startswith("-") or "\n" in source.url:
            raise BuildError("the repository URL is not usable")
        if source.path != ".":
            _check_repo_path(source.path)
    _check_repo_path(request.dockerfile_path)
    if request.image.startswith("-") or any(c.isspace() for c in request.image):
        raise BuildError(f"the image reference {request.image[:80]!r} is not usable")


def _check_repo_path(path: str) -> None:
    if not is_repo_path(path):
        raise BuildError(f"refusing the repository path {path!r}")
