"""The environment every git command of home-idp starts from.

Nothing of the server's environment is inherited but PATH, and the user's and
the system's git config are ignored, so a setting on this machine (a hooks
path, a default branch, a credential helper) cannot change what git does;
git never waits on a prompt either. Each caller adds what its command needs.
"""

from __future__ import annotations

import os

__all__ = ["isolated_git_env"]


def isolated_git_env() -> dict[str, str]:
    """A fresh environment for one git command, before the command's own additions."""
    return {
        # git, and any interpreter it starts (a hook's), are found on the server's PATH.
        "PATH": os.environ.get("PATH", os.defpath),
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
