"""JWT access/refresh tokens and API token secrets."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import jwt

__all__ = [
    "API_TOKEN_PREFIX",
    "JWT_ALGORITHM",
    "Claims",
    "JwtCodec",
    "hash_api_token",
    "new_api_token",
]

# Pinned: the decoder accepts this one algorithm only, so neither `alg: none`
# nor an algorithm-confusion token is ever considered.
JWT_ALGORITHM = "HS256"
_ISSUER = "home-idp"
API_TOKEN_PREFIX = "hidp_"  # noqa: S105 - a public marker, not a secret

TokenKind = Literal["access", "refresh"]


@dataclass(frozen=True)
class Claims:
    user_id: int
    token_version: int
    kind: TokenKind
    # The login session the token belongs to, and (refresh tokens) which of
    # its refresh tokens this is; None for tokens made outside a session.
    session_id: int | None = None
    generation: int | None = None


class JwtCodec:
    """Signs and checks home-idp's JWTs with one key."""

    def __init__(self, key: bytes, access_ttl: int, refresh_ttl: int) -> None:
        if len(key) < 32:
            raise ValueError("JWT key must be at least 32 bytes")
        self._key = key
        self._ttl = {"access": access_ttl, "refresh": refresh_ttl}

    @property
    def refresh_ttl(self) -> int:
        """Seconds a refresh token lives; a session idle that long ends."""
        return self._ttl["refresh"]

    def issue(
        self,
        user_id: int,
        token_version: int,
        kind: TokenKind,
        session_id: int | None = None,
        generation: int | None = None,
    ) -> str:
        now = int(time.time())
        payload: dict[str, object] = {
            "iss": _ISSUER,
            "sub": str(user_id),
            "iat": now,
            "exp": now + self._ttl[kind],
            "tv": token_version,
            "typ": kind,
            "jti": secrets.token_hex(8),
        }
        if session_id is not None:
            payload["sid"] = session_id
        if generation is not None:
            payload["gen"] = generation
        return jwt.encode(payload, self._key, algorithm=JWT_ALGORITHM)

    def decode(self, token: str, kind: TokenKind) -> Claims | None:
        """The claims of a valid token of this kind, or None for anything else."""
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                issuer=_ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
            if payload.get("typ") != kind:
                return None
            session_id = payload.get("sid")
            generation = payload.get("gen")
            return Claims(
                int(payload["sub"]),
                int(payload["tv"]),
                kind,
                int(session_id) if session_id is not None else None,
                int(generation) if generation is not None else None,
            )
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return None


def new_api_token() -> str:
    """A fresh API token secret; shown to its owner once and never stored."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is enough: no
    # dictionary can reach it, and the lookup must stay cheap per request.
    return hashlib.sha256(token.encode()).hexdigest()
