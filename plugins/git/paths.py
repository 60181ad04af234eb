"""Checks on file paths before they reach a git tree."""

from __future__ import annotations

from home_idp.plugins.git.contract import GitError
from home_idp.plugins.support.repo_paths import is_repo_path

__all__ = ["check_repo_path"]


def check_repo_path(path: str) -> str:
    """`path` when it may name a file in the tree; GitError otherwise."""
    if not is_repo_path(path):
        raise GitError(f"refusing the repository path {path!r}")
    return path
