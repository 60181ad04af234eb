"""Checks on file paths before they reach a git tree."""

from __future__ import annotations

import re

from home_idp.plugins.git.contract import GitError

__all__ = ["check_repo_path"]

_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


def check_repo_path(path: str) -> str:
    """A relative, '/'-separated path with plain segments: no '..', no '.git', no control chars."""
    segments = path.split("/")
    if (
        not path
        or len(path) > 1024
        or any(
            not _SEGMENT.fullmatch(s) or s in {".", ".."} or s.lower() == ".git" for s in segments
        )
    ):
        raise GitError(f"refusing the repository path {path!r}")
    return path
