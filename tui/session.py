"""The remembered session: which server, who, and the tokens, kept private.

The file lives in the user's config dir (`$XDG_CONFIG_HOME/home-idp`, else
`~/.config/home-idp`) with mode 0600 in a 0700 folder, because the refresh
token it holds is as good as a password until it expires.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

__all__ = ["DEFAULT_SERVER", "Session", "SessionStore", "default_config_dir"]

DEFAULT_SERVER = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Session:
    """A logged-in user on one server."""

    server_url: str
    username: str
    # Out of repr: a crash report's locals must not show them.
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    # When the access token stops working (Unix seconds), so it is renewed early.
    expires_at: float

    def renewed(self, access_token: str, refresh_token: str, expires_in: int) -> Session:
        return replace(
            self,
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=time.time() + expires_in,
        )

    @property
    def expires_soon(self) -> bool:
        return time.time() > self.expires_at - 30


def default_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "home-idp"


class SessionStore:
    """Reads and writes the session file; a damaged file counts as no session."""

    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder or default_config_dir()) / "session.json"

    def load(self) -> Session | None:
        try:
            raw = json.loads(self.path.read_text())
            return Session(
                server_url=str(raw["server_url"]),
                username=str(raw["username"]),
                access_token=str(raw["access_token"]),
                refresh_token=str(raw["refresh_token"]),
                expires_at=float(raw["expires_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, session: Session) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path.parent.chmod(0o700)  # also when the folder was there before
        partial = self.path.with_suffix(".tmp")
        partial.unlink(missing_ok=True)
        # Created 0600 from the start (O_EXCL: never an old file with its old mode).
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(session), file)
        os.replace(partial, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def last_server(self) -> str:
        session = self.load()
        return session.server_url if session else DEFAULT_SERVER
