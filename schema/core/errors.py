"""Typed errors returned inside mutation result unions, and how domain errors map onto them."""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from tortoise.exceptions import ValidationError as StoredFieldInvalid

from home_idp.server import errors as domain

__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "Error",
    "ErrorTypes",
    "FieldError",
    "NotFound",
    "PermissionDenied",
    "StoredFieldErrors",
    "ValidationError",
    "stored_field_error",
    "to_error",
]


@strawberry.interface(description="Something the caller can fix or must know about.")
class Error:
    message: str = strawberry.field(description="A human-readable explanation.")


@strawberry.type(description="The object does not exist or is not visible to the caller.")
class NotFound(Error):
    pass


@strawberry.type(description="The caller may not do this.")
class PermissionDenied(Error):
    pass


@strawberry.type(description="The request clashes with the current state.")
class Conflict(Error):
    pass


@strawberry.type(description="Credentials were wrong or cannot be used.")
class AuthenticationFailed(Error):
    pass


@strawberry.type(description="One input field and what is wrong with it.")
class FieldError:
    field: str
    message: str


@strawberry.type(description="The input is not valid; nothing was changed.")
class ValidationError(Error):
    field_errors: list[FieldError] = strawberry.field(description="Each bad field.")


# Every mutation result is `Success | ErrorTypes`, so clients can always branch
# on the same error typenames.
ErrorTypes = NotFound | PermissionDenied | ValidationError | Conflict | AuthenticationFailed


def to_error(error: domain.DomainError) -> ErrorTypes:
    if isinstance(error, domain.ValidationFailed):
        return ValidationError(
            message=error.message,
            field_errors=[FieldError(field=e.field, message=e.message) for e in error.field_errors],
        )
    if isinstance(error, domain.NotFound):
        return NotFound(message=error.message)
    if isinstance(error, domain.PermissionDenied):
        return PermissionDenied(message=error.message)
    if isinstance(error, domain.Conflict):
        return Conflict(message=error.message)
    if isinstance(error, domain.AuthenticationFailed):
        return AuthenticationFailed(message=error.message)
    raise TypeError(f"unmapped domain error {type(error).__name__}")


def stored_field_error(error: StoredFieldInvalid) -> domain.ValidationFailed:
    """A value the database column cannot hold (too long, out of range), as a field error.

    The ORM's own message quotes the value, which may be huge or a secret, so
    only the field's name is kept from it.
    """
    field = str(error).partition(":")[0].strip()
    if not field or " " in field:
        field = "input"
    return domain.ValidationFailed.for_field(field, "is too long or out of range")


class StoredFieldErrors(SchemaExtension):
    """A query argument the database column cannot hold (a filter too long for
    it) answers as the field error a mutation would give, not "Unexpected error".

    Listed after MaskErrors, so that it sees the errors before they are masked.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_stored_field_answer(error) for error in result.errors]


def _stored_field_answer(error: GraphQLError) -> GraphQLError:
    if not isinstance(error.original_error, StoredFieldInvalid):
        return error
    refused = stored_field_error(error.original_error)
    return GraphQLError(refused.message, nodes=error.nodes, path=error.path, original_error=refused)
