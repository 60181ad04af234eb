"""Who is calling: the authenticated identity every manager checks against."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ANONYMOUS", "SCOPES", "Principal"]

# API tokens may be limited: "read" allows queries and subscriptions,
# "write" allows mutations as well.
SCOPES = ("read", "write")


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    username: str
    is_admin: bool = False
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(SCOPES))
    via_api_token: bool = False
    # The login session of the access token, when it has one (see sessions.py).
    session_id: int | None = None
    # When the credential stops working (Unix seconds); None: it does not expire.
    # A websocket closes then, so its client reconnects with a fresh token.
    expires_at: float | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def can_write(self) -> bool:
        return "write" in self.scopes


ANONYMOUS = Principal(user_id=None, username="anonymous", scopes=frozenset())
