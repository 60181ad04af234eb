"""The git contract: what a platform-repo plugin does (commit, read, webhooks), and its data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "CommitAuthor",
    "CommitResult",
    "GitConfig",
    "GitError",
    "GitPlugin",
    "GitUnavailable",
    "PushEvent",
    "SourceHookOutcome",
    "SourceHookRegistrar",
    "SourceHookResult",
]


class GitError(Exception):
    """The git plugin could not do what was asked; the message is safe to show."""


class GitUnavailable(GitError):
    """The repository could not be reached (network, server down): worth retrying."""


@dataclass(frozen=True)
class GitConfig:
    """What the server tells a git plugin when it makes one.

    `options` holds the plugin's own settings (for GitHub: token, owner,
    api_url, private); secrets in it are never logged.
    """

    repo_name: str
    branch: str
    data_dir: Path
    webhook_url: str
    webhook_secret: str
    # repr=False: options hold tokens, and a config may end up in a log line.
    options: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CommitAuthor:
    name: str
    email: str


@dataclass(frozen=True)
class CommitResult:
    """`changed` is false when the files already held this content (no new commit)."""

    sha: str
    changed: bool


@dataclass(frozen=True)
class PushEvent:
    """The parts of a GitHub-format push event the engine acts on."""

    repository: str
    ref: str
    before: str
    after: str
    commits: tuple[str, ...]

    @property
    def branch(self) -> str | None:
        prefix = "refs/heads/"
        return self.ref.removeprefix(prefix) if self.ref.startswith(prefix) else None


@runtime_checkable
class GitPlugin(Protocol):
    """The platform git repo: where Dockerfiles and manifests are committed."""

    @property
    def repository(self) -> str:
        """The repository's full name as push events carry it (`repository.full_name`)."""
        ...

    @property
    def clone_url(self) -> str:
        """The URL builders clone the platform repo from."""
        ...

    @property
    def local_path(self) -> Path | None:
        """The repository on this machine's disk, if it is there (builders here read it)."""
        ...

    async def ensure_repo(self) -> None:
        """Create the repository (with its branch) if it does not exist; idempotent."""
        ...

    async def commit_files(
        self, files: Mapping[str, bytes | None], author: CommitAuthor, message: str
    ) -> CommitResult:
        """Commit `files` (path → content, None deletes) on the branch and push.

        Paths are relative, '/'-separated, without '..'. When another writer
        moved the branch meanwhile (non-fast-forward), the plugin rebuilds the
        commit on the new head and tries again, so concurrent commits all land.
        When nothing would change, no commit is made and the head is returned.
        """
        ...

    async def read_file(self, path: str, sha: str) -> bytes | None:
        """The file's content at commit `sha`, or None if it is not there."""
        ...

    async def head(self) -> str | None:
        """The branch's current commit, or None while the branch has no commits."""
        ...

    async def contains(self, sha: str) -> bool:
        """Whether commit `sha` is on the branch (the reconciler's check)."""
        ...

    async def register_webhook(self) -> None:
        """Make pushes to the branch send signed push events to `config.webhook_url`."""
        ...

    def verify_webhook(self, body: bytes, signature: str | None) -> bool:
        """Whether `signature` (X-Hub-Signature-256) is right for `body`; constant time."""
        ...

    def parse_push(self, body: bytes) -> PushEvent:
        """The push event in `body`; raises WebhookRejected for anything else."""
        ...

    async def aclose(self) -> None:
        """Release connections and other resources; the server calls it at shutdown."""
        ...


class SourceHookOutcome(StrEnum):
    """What became of a request to register an app's source push webhook."""

    CREATED = "created"
    UPDATED = "updated"
    # The repository is not on the plugin's git host (or not a repository URL at all).
    NOT_SUPPORTED = "not-supported"
    # The host answered that the token may not manage the repository's hooks.
    REFUSED = "refused"
    # The host could not be reached, or failed.
    FAILED = "failed"


@dataclass(frozen=True)
class SourceHookResult:
    """The outcome, where it happened and a message that is safe to show.

    `repository` is the host and full name (`github.com/owner/repo`) once the
    URL was recognised, else None. `message` never holds the token or the secret.
    """

    outcome: SourceHookOutcome
    message: str
    repository: str | None = None

    @property
    def registered(self) -> bool:
        """Whether the host now sends the repository's pushes to the hook URL."""
        return self.outcome in {SourceHookOutcome.CREATED, SourceHookOutcome.UPDATED}


@runtime_checkable
class SourceHookRegistrar(Protocol):
    """An optional capability of a git plugin: push webhooks on other repositories.

    The platform repo's own hook is `GitPlugin.register_webhook`; this one is
    for the apps' source repositories, when they live on the plugin's git host
    and its credential may manage their hooks. A plugin without it leaves the
    hook to be added by hand; the server checks with `isinstance`.
    """

    async def register_source_hook(
        self, repo_url: str, hook_url: str, secret: str
    ) -> SourceHookResult:
        """Make pushes to `repo_url` send signed JSON push events to `hook_url`.

        An existing hook with exactly `hook_url` is updated (secret, events,
        active) rather than duplicated. Never raises for what the host
        answers: a URL on another host is NOT_SUPPORTED, a host that refuses
        the credential's rights is REFUSED, and anything else that goes wrong
        (host down, server errors) is FAILED, each with a message that names
        neither the credential nor `secret`.
        """
        ...


# -- builders ------------------------------------------------------------------
