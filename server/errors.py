"""Domain errors raised by the managers and mapped to typed GraphQL errors."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "DomainError",
    "FieldError",
    "NotFound",
    "PermissionDenied",
    "TooManyAttempts",
    "ValidationFailed",
]


class DomainError(Exception):
    """Base of every error a caller is meant to see, with a safe message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it does."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, last admin, in use)."""


class AuthenticationFailed(DomainError):
    """Credentials were wrong, or the account cannot log in."""


class TooManyAttempts(AuthenticationFailed):
    """Too many logins or sign-ups from one username or address; wait and retry."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ValidationFailed(DomainError):
    """Input was malformed; `field_errors` names each bad field."""

    def __init__(self, message: str, field_errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.field_errors: list[FieldError] = field_errors or []

    @classmethod
    def for_field(cls, name: str, message: str) -> ValidationFailed:
        return cls(f"{name}: {message}", [FieldError(name, message)])
