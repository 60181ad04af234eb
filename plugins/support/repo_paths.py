"""Which paths may name a file in a git tree: checked before they reach git or a build."""

from __future__ import annotations

import re

__all__ = ["is_repo_path"]

_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


def is_repo_path(path: str) -> bool:
    """A relative, '/'-separated path with plain segments: no '..', no '.git', no control chars."""
    return (
        bool(path)
        and len(path) <= 1024
        and all(
            _SEGMENT.fullmatch(s) and s not in {".", ".."} and s.lower() != ".git"
            for s in path.split("/")
        )
    )
