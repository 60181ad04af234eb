"""Password hashing with argon2id, and the password rules."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from home_idp.server.errors import ValidationFailed
from home_idp.server.settings import PasswordHashingSettings

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "PasswordHashing", "validate_password"]

MIN_PASSWORD_LENGTH = 10
# argon2 would accept more, but a megabyte "password" is a cheap CPU attack.
MAX_PASSWORD_LENGTH = 1024


def validate_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.for_field(
            field, f"must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed.for_field(field, f"must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


class PasswordHashing:
    """argon2id hashing, at the cost the settings give.

    argon2 takes a fifth of a second of CPU at its default cost, on purpose:
    it runs in a thread (argon2-cffi lets go of the GIL), so the server goes
    on answering other requests meanwhile.
    """

    def __init__(self, settings: PasswordHashingSettings | None = None) -> None:
        settings = settings or PasswordHashingSettings()
        self._hasher = PasswordHasher(
            time_cost=settings.time_cost,
            memory_cost=settings.memory_kib,
            parallelism=settings.parallelism,
        )
        # Verified against when the user does not exist, so that an unknown
        # username costs the same time as a wrong password.
        self._dummy_hash = self._hasher.hash("home-idp timing equaliser")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether `password_hash` was made at another cost than today's settings."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return False
