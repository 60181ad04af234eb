"""A fake of the server's source reader: repositories kept in memory, pushed to by tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from home_idp.server.apps.models import App
from home_idp.server.apps.source_reader import RefNotFound, SourceCommit, SourceProblem

__all__ = ["FakeSourceRepos"]


@dataclass(frozen=True)
class _Commit:
    sha: str
    author: str
    message: str
    paths: frozenset[str]


@dataclass
class FakeSourceRepos:
    """Branches of source repositories by URL; a repository nobody pushed to is
    unreachable, as the real reader finds one that no server answers for."""

    branches: dict[tuple[str, str], list[_Commit]] = field(default_factory=dict)
    # URL -> the error its reads fail with (a repository that went away).
    broken: dict[str, str] = field(default_factory=dict)
    reads: int = 0

    def forget(self) -> None:
        """Start again with no repositories (each test pushes its own)."""
        self.branches.clear()
        self.broken.clear()
        self.reads = 0

    def push(
        self,
        url: str,
        branch: str = "main",
        *,
        paths: tuple[str, ...] = ("app.py",),
        message: str = "change",
        author: str = "Dev",
    ) -> str:
        """Add a commit on `branch` of `url`; its sha."""
        history = self.branches.setdefault((url, branch), [])
        seed = f"{url}{branch}{len(history)}{message}".encode()
        sha = hashlib.sha1(seed, usedforsecurity=False).hexdigest()
        history.append(_Commit(sha, author, message, frozenset(paths)))
        return sha

    async def head(self, app: App, ref: str | None = None) -> str:
        self.reads += 1
        url = app.source_repo
        if url in self.broken:
            raise SourceProblem(self.broken[url])
        if not any(repo == url for repo, _ in self.branches):
            raise SourceProblem(f"could not connect to {url}")
        history = self.branches.get((url, ref or app.source_ref))
        if not history:
            raise RefNotFound(f"the repository has no ref {ref or app.source_ref!r}")
        return history[-1].sha

    async def describe(self, app: App, sha: str, since: str | None) -> SourceCommit:
        for (url, _), history in self.branches.items():
            shas = [commit.sha for commit in history]
            if url != app.source_repo or sha not in shas:
                continue
            end = shas.index(sha)
            commit = history[end]
            changed = None
            if since in shas[:end]:
                start = shas.index(since) + 1
                changed = frozenset().union(*(c.paths for c in history[start : end + 1]))
            return SourceCommit(sha, commit.author, commit.message, None, changed)
        raise RefNotFound(f"the repository has no commit {sha[:12]}")
