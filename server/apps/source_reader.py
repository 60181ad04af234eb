"""What the server asks of an app's source repository without building it: the
commit a ref points at, and what that commit is and changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from home_idp.server.apps.models import App

__all__ = ["RefNotFound", "SourceCommit", "SourceProblem", "SourceReader"]


class SourceProblem(Exception):
    """The source repository cannot be read as the app has it set; the message,
    safe to show, says why."""


class RefNotFound(SourceProblem):
    """The repository answers, but has no such branch, tag or commit."""


@dataclass(frozen=True)
class SourceCommit:
    """A commit of an app's source repository, as a push or the repository told it.

    `changed_paths` are the paths changed since the last commit home-idp acted
    on; None when that is not known (which counts as "everything changed").
    """

    sha: str
    author: str | None = None
    message: str | None = None
    url: str | None = None
    changed_paths: frozenset[str] | None = None


class SourceReader(Protocol):
    async def head(self, app: App, ref: str | None = None) -> str:
        """The sha `ref` (the app's branch when None) points at now."""
        ...

    async def describe(self, app: App, sha: str, since: str | None) -> SourceCommit:
        """The commit `sha`, with the paths changed since `since` when that is known."""
        ...
