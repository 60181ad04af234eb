"""Password hashing with argon2id, and the password rules."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from home_idp.server.errors import ValidationFailed

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
    """argon2id hashing (library defaults: RFC 9106 low-memory profile)."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        # Verified against when the user does not exist, so that an unknown
        # username costs the same time as a wrong password.
        self._dummy_hash = self._hasher.hash("home-idp timing equaliser")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
