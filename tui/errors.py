"""What can go wrong talking to the server, as typed errors whose text is for users.

Kept apart from the client so screens can catch them without importing gql
(which is slow to import and not needed to paint the login screen).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ActionFailed",
    "BadServerAddress",
    "FieldError",
    "GatewayError",
    "NotAuthenticated",
    "RequestFailed",
    "ServerUnreachable",
]


class GatewayError(Exception):
    """Anything that kept an operation from succeeding; its text is for users."""


class ServerUnreachable(GatewayError):
    """The server did not answer; the dashboard keeps retrying."""


class NotAuthenticated(GatewayError):
    """The session is over (or never was): log in again."""


class BadServerAddress(GatewayError):
    """What was given as the server's address is not one."""


class RequestFailed(GatewayError):
    """The server refused the request (a GraphQL error such as a permission check)."""


@dataclass(frozen=True)
class FieldError:
    """One input field and what is wrong with it."""

    field: str
    message: str


@dataclass
class ActionFailed(GatewayError):
    """A mutation answered with a typed error (`NotFound`, `ValidationError`, ...)."""

    typename: str
    message: str
    field_errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        # The server's message often is the one field error already: say it once.
        said = [f"{e.field}: {e.message}" for e in self.field_errors]
        details = "; ".join(text for text in said if text not in self.message)
        return f"{self.message} ({details})" if details else self.message
