"""Mutation fields: what the managers raise answers as a typed error, and denials are audited.

Every mutation returns `Success | ErrorTypes`. Its resolver returns the success
and lets domain errors propagate; `mutation(action, …)` makes the field and adds
the `TypedErrors` extension that turns them into the union's error types, in
this one place, writing each denial to the audit log under `action`.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from tortoise.exceptions import ValidationError as StoredFieldInvalid

from home_idp.schema.core.context import Info
from home_idp.schema.core.errors import stored_field_error, to_error
from home_idp.server import errors as domain

__all__ = ["TypedErrors", "mutation"]


class TypedErrors(FieldExtension):
    """Domain errors become typed results; a denial is audited as `action`."""

    def __init__(self, action: str) -> None:
        self.action = action

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except StoredFieldInvalid as error:
            # A bound the managers do not check themselves is still the caller's to fix.
            return to_error(stored_field_error(error))
        except domain.PermissionDenied as error:
            session = info.context.rbac
            await session.audit.record(
                session.principal,
                self.action,
                "mutation",
                outcome="denied",
                detail={"reason": error.message},
            )
            return to_error(error)
        except domain.DomainError as error:
            return to_error(error)


def mutation(action: str, *, description: str) -> Any:
    """A mutation field answering domain errors as typed results; `action` names it
    in the audit log."""
    return strawberry.mutation(description=description, extensions=[TypedErrors(action)])
