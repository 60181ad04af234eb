"""The `local` git plugin: the platform repo as a bare repository in the data dir.

Commits are built with git plumbing in a private scratch repository and
*pushed* to the bare repo, so the bare repo's post-receive hook (see
`post_receive.py`) sends the same signed push webhook a GitHub push would.
Every git call is an asyncio subprocess: the event loop never waits on git.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import shutil
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from home_idp.plugins.git.contract import (
    CommitAuthor,
    CommitResult,
    GitConfig,
    GitError,
    GitUnavailable,
    PushEvent,
)
from home_idp.plugins.git.paths import check_repo_path
from home_idp.plugins.git.post_receive import CONFIG_NAME
from home_idp.plugins.git.webhooks import parse_push_event, verify_signature
from home_idp.plugins.support.dns_names import is_dns_label
from home_idp.plugins.support.git_isolation import isolated_git_env

__all__ = ["LocalGit", "git_env"]

log = logging.getLogger(__name__)

_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
_SHA = re.compile(r"^[0-9a-fA-F]{4,64}$")
_PATH_CHARS = re.compile(r"[A-Za-z0-9._/-]+")
_IDENT_FORBIDDEN = re.compile(r"[<>\x00-\x1f]")
# Another writer won the race for the branch: rebuild on its commit and retry.
_LOST_RACE = re.compile(
    r"non-fast-forward|fetch first|failed to update ref|cannot lock ref|stale info|"
    r"unable to (create|lock)|incorrect old value",
    re.IGNORECASE,
)
_MAX_PUSH_ATTEMPTS = 25
_PRUNE_EVERY = 200
_ERROR_CHARS = 600


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The isolated environment of a git command (`isolated_git_env`), with `extra`."""
    return {**isolated_git_env(), **(extra or {})}


@dataclass(frozen=True)
class _Run:
    returncode: int
    stdout: bytes
    stderr: str


def _trimmed(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_CHARS else "…" + text[-_ERROR_CHARS:]


def _check_sha(sha: str) -> str:
    if not _SHA.fullmatch(sha):
        raise GitError(f"not a commit id: {sha[:80]!r}")
    return sha.lower()


def _check_path(path: str) -> str:
    # The plain-character check keeps git's own path rules (no control characters).
    if not _PATH_CHARS.fullmatch(path):
        raise GitError(f"refusing the repository path {path!r}")
    return check_repo_path(path)


def _check_ident(author: CommitAuthor) -> None:
    for label, value in (("name", author.name), ("email", author.email)):
        if not value.strip() or len(value) > 200 or _IDENT_FORBIDDEN.search(value):
            raise GitError(f"the commit author's {label} is not usable: {value[:80]!r}")


def _index_lines(blobs: Mapping[str, str | None]) -> bytes:
    """`update-index -z --index-info` input: mode 0 removes a path."""
    zero = "0" * 40
    lines = (
        f"100644 {blob}\t{path}" if blob is not None else f"0 {zero}\t{path}"
        for path, blob in blobs.items()
    )
    return "".join(f"{line}\0" for line in lines).encode()


class LocalGit:
    """The platform repo as `<data_dir>/git/<repo_name>.git`, a bare repository.

    Options: `clone_url` (what builders clone from; the repo path by default).
    """

    def __init__(self, config: GitConfig) -> None:
        if not is_dns_label(config.repo_name):
            raise GitError(f"the repository name {config.repo_name!r} is not a DNS-1123 label")
        if not _BRANCH.fullmatch(config.branch) or ".." in config.branch:
            raise GitError(f"the branch name {config.branch!r} is not usable")
        self._config = config
        self._root = config.data_dir / "git"
        self._repo = self._root / f"{config.repo_name}.git"
        # Commits are assembled here; it borrows the bare repo's objects
        # (objects/info/alternates), so nothing needs fetching before a commit.
        self._scratch = self._root / ".work" / f"{config.repo_name}.git"
        self._branch_ref = f"refs/heads/{config.branch}"
        self._lock = asyncio.Lock()
        self._commits = 0

    @property
    def repository(self) -> str:
        """`local/<repo_name>`, as the post-receive hook names it in push events."""
        return f"local/{self._config.repo_name}"

    @property
    def clone_url(self) -> str:
        """The `clone_url` option, else the bare repo's path."""
        return self._config.options.get("clone_url") or str(self._repo)

    @property
    def path(self) -> Path:
        """The bare repository's directory."""
        return self._repo

    @property
    def local_path(self) -> Path:
        """The bare repository's directory: builders on this machine clone it directly."""
        return self._repo

    async def _git(
        self,
        git_dir: Path,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> _Run:
        """Run git on `git_dir`; with `check`, a non-zero exit is a GitError."""
        git = shutil.which("git", path=os.environ.get("PATH", os.defpath))
        if git is None:
            raise GitUnavailable("git is not installed on this machine")
        process = await asyncio.create_subprocess_exec(
            git,
            f"--git-dir={git_dir}",
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=git_env(env),
        )
        try:
            stdout, stderr = await process.communicate(stdin)
        finally:
            if process.returncode is None:  # cancelled: leave no git behind
                process.kill()
                await process.wait()
        run = _Run(process.returncode or 0, stdout, stderr.decode("utf-8", "replace"))
        if check and run.returncode != 0:
            raise GitError(f"git {args[0]} failed: {_trimmed(run.stderr) or 'no message'}")
        return run

    async def _require_repo(self) -> None:
        if not await asyncio.to_thread((self._repo / "HEAD").is_file):
            raise GitUnavailable(f"the platform repository {self.repository} does not exist")

    async def ensure_repo(self) -> None:
        """Create the bare repo (and the scratch repo) if missing; no commit is needed."""
        await asyncio.to_thread(self._make_dirs)
        # Only home-idp pushes, through commit_files; this holds even if the
        # repo is served by something other than home-idp's git route.
        await self._init_bare(
            self._repo,
            f"--initial-branch={self._config.branch}",
            config=("http.receivepack", "false"),
        )
        await self._init_bare(self._scratch)
        await asyncio.to_thread(self._link_objects)

    async def _init_bare(
        self, path: Path, *args: str, config: tuple[str, str] | None = None
    ) -> None:
        """`git init --bare` beside `path`, then a rename: racing creators cannot mix."""
        if await asyncio.to_thread((path / "HEAD").is_file):
            return
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        try:
            await self._git(temporary, "init", "--quiet", "--bare", "--template=", *args)
            if config is not None:
                await self._git(temporary, "config", *config)
            await asyncio.to_thread(_install_dir, temporary, path)
        finally:
            await asyncio.to_thread(shutil.rmtree, temporary, True)

    def _make_dirs(self) -> None:
        for directory in (self._root, self._scratch.parent):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory.chmod(0o700)

    def _link_objects(self) -> None:
        alternates = self._scratch / "objects" / "info" / "alternates"
        wanted = f"{(self._repo / 'objects').resolve()}\n"
        if not alternates.is_file() or alternates.read_text() != wanted:
            alternates.parent.mkdir(parents=True, exist_ok=True)
            _write_private(alternates, wanted, 0o600)

    async def head(self) -> str | None:
        """The branch's commit, or None while it has none."""
        await self._require_repo()
        run = await self._git(
            self._repo, "rev-parse", "--verify", "-q", self._branch_ref, check=False
        )
        if run.returncode == 1:
            return None
        if run.returncode != 0:
            raise GitError(f"git rev-parse failed: {_trimmed(run.stderr)}")
        return run.stdout.decode().strip()

    async def contains(self, sha: str) -> bool:
        """Whether commit `sha` is the branch head or one of its ancestors (False if unknown)."""
        if not _SHA.fullmatch(sha) or await self.head() is None:
            return False
        known = await self._git(self._repo, "cat-file", "-e", f"{sha}^{{commit}}", check=False)
        if known.returncode != 0:
            return False
        run = await self._git(
            self._repo, "merge-base", "--is-ancestor", sha, self._branch_ref, check=False
        )
        if run.returncode not in (0, 1):
            raise GitError(f"git merge-base failed: {_trimmed(run.stderr)}")
        return run.returncode == 0

    async def read_file(self, path: str, sha: str) -> bytes | None:
        """The blob at `path` in commit `sha`; None if either is not there."""
        _check_path(path)
        sha = _check_sha(sha)
        await self._require_repo()
        # --batch answers "<spec> missing" instead of failing, and keeps the
        # content's bytes exactly (no newline handling).
        run = await self._git(self._repo, "cat-file", "--batch", stdin=f"{sha}:{path}\n".encode())
        header, _, rest = run.stdout.partition(b"\n")
        parts = header.split()
        if len(parts) != 3 or parts[1] != b"blob":
            return None
        return rest[: int(parts[2])]

    async def commit_files(
        self, files: Mapping[str, bytes | None], author: CommitAuthor, message: str
    ) -> CommitResult:
        """Commit `files` on the branch by a push to the bare repo; see GitPlugin."""
        for path, content in files.items():
            _check_path(path)
            if content is not None and not isinstance(content, bytes):
                raise GitError(f"the content of {path!r} must be bytes or None")
        written = [path for path, content in files.items() if content is not None]
        for path in written:
            if any(other.startswith(f"{path}/") for other in written):
                raise GitError(f"{path!r} cannot be both a file and a directory")
        _check_ident(author)
        if "\0" in message or not message.strip():
            raise GitError("the commit message must be non-empty text")
        await self._require_repo()
        if not await asyncio.to_thread((self._scratch / "HEAD").is_file):
            await self.ensure_repo()
        async with self._lock:
            blobs: dict[str, str | None] = {}
            for path, content in files.items():
                blobs[path] = None if content is None else await self._hash_object(content)
            result = await self._commit_and_push(blobs, author, message)
            self._commits += 1
            if self._commits % _PRUNE_EVERY == 0:
                await self._prune_scratch()
            return result

    async def _hash_object(self, content: bytes) -> str:
        run = await self._git(self._scratch, "hash-object", "-w", "--stdin", stdin=content)
        return run.stdout.decode().strip()

    async def _commit_and_push(
        self, blobs: Mapping[str, str | None], author: CommitAuthor, message: str
    ) -> CommitResult:
        for attempt in range(_MAX_PUSH_ATTEMPTS):
            base = await self.head()
            tree = await self._write_tree(base, blobs)
            if base is not None:
                base_tree = await self._git(self._scratch, "rev-parse", f"{base}^{{tree}}")
                if base_tree.stdout.decode().strip() == tree:
                    return CommitResult(base, changed=False)
            sha = await self._commit_tree(tree, base, author, message)
            push = await self._git(
                self._scratch,
                "push",
                "--quiet",
                "--no-verify",
                str(self._repo),
                f"{sha}:{self._branch_ref}",
                check=False,
            )
            if push.returncode == 0:
                return CommitResult(sha, changed=True)
            if not _LOST_RACE.search(push.stderr) and await self.head() == base:
                raise GitError(f"git push failed: {_trimmed(push.stderr) or 'no message'}")
            # Jittered, growing pause so racing writers do not collide in lockstep.
            pause = random.SystemRandom().uniform(0, min(0.02 * 2**attempt, 0.5))
            log.debug("the branch moved during a commit; retrying in %.3fs", pause)
            await asyncio.sleep(pause)
        raise GitError(
            f"could not commit: the branch kept moving for {_MAX_PUSH_ATTEMPTS} attempts"
        )

    async def _write_tree(self, base: str | None, blobs: Mapping[str, str | None]) -> str:
        # A fresh index per attempt; the scratch repo's own index is never used,
        # so concurrent commits (here or in another process) cannot mix.
        index = self._scratch / f"index-{uuid.uuid4().hex}"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            await self._git(self._scratch, "read-tree", *([base] if base else ["--empty"]), env=env)
            await self._git(
                self._scratch,
                "update-index",
                "-z",
                "--index-info",
                stdin=_index_lines(blobs),
                env=env,
            )
            run = await self._git(self._scratch, "write-tree", env=env)
            return run.stdout.decode().strip()
        finally:
            await asyncio.to_thread(self._remove_index, index)

    @staticmethod
    def _remove_index(index: Path) -> None:
        for leftover in (index, index.with_name(f"{index.name}.lock")):
            leftover.unlink(missing_ok=True)

    async def _commit_tree(
        self, tree: str, base: str | None, author: CommitAuthor, message: str
    ) -> str:
        ident = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": author.name,
            "GIT_COMMITTER_EMAIL": author.email,
        }
        parents = ["-p", base] if base else []
        run = await self._git(
            self._scratch,
            "commit-tree",
            tree,
            *parents,
            "-F",
            "-",
            stdin=message.encode(),
            env=ident,
        )
        return run.stdout.decode().strip()

    async def _prune_scratch(self) -> None:
        # Everything in the scratch repo was pushed (or abandoned); an hour
        # leaves commits that are being built right now alone.
        run = await self._git(self._scratch, "prune", "--expire=1.hour.ago", check=False)
        if run.returncode != 0:
            log.warning("pruning the scratch git repo failed: %s", _trimmed(run.stderr))

    async def register_webhook(self) -> None:
        """Install the post-receive hook and point it at `config.webhook_url`.

        The URL and secret are rewritten on every call, so a server that
        restarts on another address redirects the hook.
        """
        url, secret = self._config.webhook_url, self._config.webhook_secret
        if not url.startswith(("http://", "https://")):
            raise GitError("the git webhook URL must be an http(s) URL")
        if not secret:
            raise GitError("the git webhook secret must not be empty")
        await self.ensure_repo()
        settings = {"url": url, "secret": secret, "repository": self.repository}
        await asyncio.to_thread(self._write_hook, json.dumps(settings, indent=2) + "\n")

    def _write_hook(self, settings: str) -> None:
        hooks = self._repo / "hooks"
        hooks.mkdir(mode=0o700, exist_ok=True)
        source = (Path(__file__).with_name("post_receive.py")).read_text()
        # The secret is in place (0600) before the hook that reads it appears.
        _write_private(hooks / CONFIG_NAME, settings, 0o600)
        _write_private(hooks / "post-receive", f"#!{sys.executable}\n{source}", 0o700)

    async def aclose(self) -> None:
        """Nothing to release: no git process outlives the call that started it."""

    def verify_webhook(self, body: bytes, signature: str | None) -> bool:
        """Whether `signature` is the HMAC-SHA256 of `body` under the webhook secret."""
        return verify_signature(self._config.webhook_secret, body, signature)

    def parse_push(self, body: bytes) -> PushEvent:
        """The push event in `body` (any repository); WebhookRejected if it is not one."""
        return parse_push_event(body)


def _install_dir(temporary: Path, path: Path) -> None:
    """Move a fresh repo into place, unless another creator was first."""
    temporary.chmod(0o700)
    try:
        temporary.rename(path)
    except OSError as error:
        if not (path / "HEAD").is_file():
            raise GitError(f"{path.name} exists but is not a git repository") from error


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write `text` to `path` atomically, readable by this user only."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "w") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
