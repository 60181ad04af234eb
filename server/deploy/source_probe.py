"""A look at an app's source repository without building it: for push to deploy.

`SourceProbe.head` asks the server which commit the app's branch (or tag)
points at now, with `git ls-remote`; `SourceProbe.describe` fetches that
commit's history without file contents (a shallow, blobless fetch into a
throwaway bare repo) for its author, its message and the paths changed since
the last built commit, which the app's watch paths are matched against.

Both reach the source exactly as a build does (`build_source`: the host
checked again, the connection pinned to the checked address, the app's own
credential and nothing of this machine's) and run git with a minimal
environment. Their errors are safe to show: git's words with every secret
masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from home_idp.plugins.builder.contract import GitSource
from home_idp.plugins.support.git_source import UNREACHABLE, base_env, fetch_url, git_env
from home_idp.plugins.support.masking import secret_masker
from home_idp.server.apps.fields import validate_source_ref
from home_idp.server.apps.models import App
from home_idp.server.apps.source_hosts import SourceHostPolicy, UnresolvableSource
from home_idp.server.apps.source_reader import RefNotFound, SourceCommit, SourceProblem
from home_idp.server.deploy.app_source import BuildSource, SourceNotUsable, build_source
from home_idp.server.errors import ValidationFailed
from home_idp.server.secret_box import SecretBox

__all__ = [
    "RefNotFound",
    "SourceCommit",
    "SourceProbe",
    "SourceRefused",
    "SourceUnreachable",
    "commit_url",
]

TIMEOUT_SECONDS = 30.0
# History fetched with the commit: a push of more commits than this since the
# last build cannot say what changed, and counts as changing everything.
HISTORY_DEPTH = 50
MAX_MESSAGE_CHARS = 2000
_MAX_ERROR_CHARS = 500
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# The transports an app's source may use (`validate_source_repo`): never a
# local path or file://, which would read this machine's own repositories.
_PROTOCOLS = "http:https:ssh:git"
_FORGE_PATH = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)+$")
_FORGE_COMMIT_PATHS = {
    "github.com": "/commit/",
    "codeberg.org": "/commit/",
    "gitlab.com": "/-/commit/",
}


class SourceUnreachable(SourceProblem):
    """The source repository could not be read now (no answer, an error, a
    redirect, a refused sign-in); the message says why and is safe to show."""


class SourceRefused(SourceProblem):
    """The source cannot be read as the app sets it (host refused, credential for
    another origin, ssh without a deploy key): trying again changes nothing."""


@dataclass(frozen=True)
class SourceProbe:
    """Reads an app's source repository without building it: its newest commit,
    and what a commit says and changed. Stateless apart from its configuration,
    so calls may run side by side (how many at once is the caller's choice)."""

    work_root: Path
    hosts: SourceHostPolicy
    box: SecretBox
    git: str = "git"
    timeout_seconds: float = TIMEOUT_SECONDS

    async def head(self, app: App, ref: str | None = None) -> str:
        """The commit sha `ref` (the app's `source_ref` when None) names on the server now.

        A branch wins over a tag of the same name; an annotated tag gives the
        commit it points at; a full sha is its own answer (nothing is asked).
        """
        ref = ref or app.source_ref
        if _SHA.fullmatch(ref.lower()):
            return ref.lower()
        _check_ref(ref)
        fetched = await self._source(app)
        if ref.startswith("refs/"):
            wanted = [f"{ref}^{{}}", ref]
            scope: list[str] = []
        else:
            wanted = [f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"]
            # Only branches and tags are sent: a forge's refs/pull/* can be thousands.
            scope = ["--heads", "--tags"]
        async with self._workspace("head-") as work_dir:
            git = _Git(self.git, fetched, work_dir, self.timeout_seconds)
            listing = await git.run(
                "ls-remote", "--quiet", *scope, "--", git.url, *wanted, what="list its refs"
            )
        found: dict[str, str] = {}
        for line in listing.splitlines():
            sha, _, name = line.partition("\t")
            found[name] = sha
        for name in wanted:
            if _SHA.fullmatch(found.get(name, "")):
                return found[name]
        raise RefNotFound(f"the source repository has no branch or tag {ref!r}")

    async def describe(self, app: App, sha: str, since: str | None) -> SourceCommit:
        """Author, message (capped), link and changed paths of the commit `sha`.

        The paths are those changed between `since` and `sha`, when `since` is
        in the history fetched with `sha` (its last `HISTORY_DEPTH` commits);
        else None: unknown, to be taken as "everything changed". The link is
        for github.com, gitlab.com and codeberg.org only.
        """
        if not _SHA.fullmatch(sha):
            raise RefNotFound(f"{sha[:80]!r} is not a full commit sha")
        fetched = await self._source(app)
        async with self._workspace("describe-") as work_dir:
            git = _Git(self.git, fetched, work_dir, self.timeout_seconds)
            repo = await self._fetch(git, work_dir, sha)
            header = await git.run(
                "-C", repo, "log", "-1", "--format=%an%x00%B", sha, "--", what="read the commit"
            )
            author, _, message = header.partition("\0")
            changed: frozenset[str] | None = None
            if since is not None and _SHA.fullmatch(since):
                changed = await _changed_since(git, repo, since, sha)
        return SourceCommit(
            sha=sha,
            author=author.strip(),
            message=message.strip()[:MAX_MESSAGE_CHARS],
            url=commit_url(app.source_repo, sha),
            changed_paths=changed,
        )

    async def _fetch(self, git: _Git, work_dir: Path, sha: str) -> str:
        """A bare repo under `work_dir` that holds `sha` and the history before it."""
        shallow = str(work_dir / "shallow.git")
        await git.run("init", "--quiet", "--bare", "--template=", shallow, what="start a repo")
        try:
            # Commits and trees only: the paths a commit changed need no file contents.
            await git.run(
                "-C", shallow, "fetch", "--quiet", "--no-tags", "--recurse-submodules=no",
                "--filter=blob:none", f"--depth={HISTORY_DEPTH}", "--", git.url, sha,
                what="fetch the commit",
            )  # fmt: skip
            return shallow
        except SourceProblem as error:
            if UNREACHABLE.search(str(error)):
                raise
        # Plain (dumb) HTTP servers fetch no single commit and no shallow
        # history, and some servers refuse a sha they do not advertise:
        # fetch the app's branch whole, and look for the commit in it. A
        # fresh repo, and no filter: a dumb server cannot filter, and a
        # partial repo of one would fetch each missing object anew, forever.
        full = str(work_dir / "full.git")
        await git.run("init", "--quiet", "--bare", "--template=", full, what="start a repo")
        await git.run(
            "-C", full, "fetch", "--quiet", "--no-tags", "--recurse-submodules=no",
            "--", git.url, git.source.ref,
            what="fetch the branch",
        )  # fmt: skip
        try:
            await git.run("-C", full, "cat-file", "-e", f"{sha}^{{commit}}", what="find the commit")
        except SourceProblem:
            raise RefNotFound(
                f"the commit {sha[:12]} is not on {git.source.ref!r} of the source repository"
            ) from None
        return full

    async def _source(self, app: App) -> BuildSource:
        try:
            return await build_source(app, self.hosts, self.box)
        except UnresolvableSource as error:
            raise SourceUnreachable(str(error)) from None
        except (ValidationFailed, SourceNotUsable) as error:
            raise SourceRefused(f"the source repository cannot be read: {error}") from None

    @contextlib.asynccontextmanager
    async def _workspace(self, prefix: str) -> AsyncIterator[Path]:
        """A fresh directory of the probe's own (ssh keys, repos), removed afterwards."""
        await asyncio.to_thread(self.work_root.mkdir, 0o700, True, True)
        path = Path(await asyncio.to_thread(tempfile.mkdtemp, None, prefix, self.work_root))
        try:
            yield path
        finally:
            await asyncio.to_thread(shutil.rmtree, path, True)


def commit_url(repo_url: str, sha: str) -> str | None:
    """A link to the commit on github.com, gitlab.com or codeberg.org; None elsewhere."""
    if "://" in repo_url:
        parts = urlsplit(repo_url)
        if parts.scheme not in {"https", "http", "ssh"}:
            return None
        try:
            if parts.port not in {None, 22, 443}:
                return None
        except ValueError:
            return None
        host, path = (parts.hostname or "").lower(), parts.path
    else:  # scp-like git@github.com:owner/repo.git
        host, _, path = repo_url.partition("@")[2].partition(":")
        host = host.lower()
    commit_path = _FORGE_COMMIT_PATHS.get(host)
    path = path.strip("/").removesuffix(".git")
    if commit_path is None or not _FORGE_PATH.fullmatch(path) or not _SHA.fullmatch(sha):
        return None
    # Only GitLab nests groups; elsewhere a repository is owner/name.
    if host != "gitlab.com" and path.count("/") != 1:
        return None
    return f"https://{host}/{path}{commit_path}{sha}"


async def _changed_since(git: _Git, repo: str, since: str, sha: str) -> frozenset[str] | None:
    """The paths changed from `since` to `sha`, if `since` is in the fetched history."""
    # rev-list walks only what was fetched (it stops at the shallow boundary);
    # asking for `since` itself could make git fetch it from the server.
    history = await git.run(
        "-C", repo, "rev-list", f"--max-count={HISTORY_DEPTH * 20}", sha, "--", what="read history"
    )
    if since not in history.split():
        return None
    # No rename detection: it would read file contents, which were not fetched;
    # a rename then counts as both of its paths, which watch paths want anyway.
    names = await git.run(
        "-C", repo, "diff", "--name-only", "--no-renames", "-z", since, sha, "--",
        what="compare the commits",
    )  # fmt: skip
    return frozenset(name for name in names.split("\0") if name)


def _check_ref(ref: str) -> None:
    try:
        validate_source_ref(ref)
    except ValidationFailed:
        raise SourceRefused(f"the source ref {ref[:80]!r} is not usable") from None


class _Git:
    """git commands against one source, in its own environment and work dir."""

    def __init__(self, git: str, fetched: BuildSource, work_dir: Path, timeout: float) -> None:
        self.source: GitSource = fetched.source
        self.url = fetch_url(fetched.source)
        self.git = git
        self._work_dir = work_dir
        self.timeout_seconds = timeout
        self._env: Mapping[str, str] | None = None
        source = fetched.source
        # The header git sends holds "user:token" encoded whole: masked whole too.
        basic = [f"{source.username or 'x'}:{source.password}"] if source.password else []
        self._mask = secret_masker([*fetched.secrets, *basic])

    async def run(self, *args: str, what: str) -> str:
        """git's output; SourceUnreachable (RefNotFound for a ref or commit the
        server does not have) with git's own words, masked, when it fails or
        takes too long."""
        if self._env is None:
            self._env = {
                **base_env(),
                **await asyncio.to_thread(git_env, self.source, self._work_dir / "ssh"),
                "GIT_ALLOW_PROTOCOL": _PROTOCOLS,
                # git looks for a repository in no folder above the probe's own.
                "GIT_CEILING_DIRECTORIES": str(self._work_dir.parent),
            }
        try:
            async with asyncio.timeout(self.timeout_seconds):
                code, out, err = await _run([self.git, *args], self._env, self._work_dir)
        except TimeoutError:
            raise SourceUnreachable(
                f"could not {what}: git did not finish within {self.timeout_seconds:g} s"
            ) from None
        except OSError as error:
            raise SourceUnreachable(
                f"could not {what}: git could not run ({error.strerror})"
            ) from None
        if code == 0:
            return out.decode("utf-8", errors="replace")
        reason = self._mask(_reason(err.decode("utf-8", errors="replace")))
        if "couldn't find remote ref" in reason.lower() or "not our ref" in reason.lower():
            raise RefNotFound(f"could not {what}: {reason}")
        raise SourceUnreachable(f"could not {what}: {reason}")


def _reason(stderr: str) -> str:
    """git's error, shortly: its fatal and error lines, else its last lines."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines[-2:]
    text = " ".join(line.removeprefix("fatal: ").removeprefix("error: ") for line in errors)
    return text[:_MAX_ERROR_CHARS] or "git failed without saying why"


async def _run(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=dict(env),
        # Its own process group: a timeout stops git's helpers (remote-https, ssh) too.
        start_new_session=True,
    )
    try:
        out, err = await process.communicate()
    except BaseException:  # a timeout or a cancel: git must not outlive the call
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.shield(process.wait())
        raise
    assert process.returncode is not None
    return process.returncode, out, err
