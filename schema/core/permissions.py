"""Permission classes for query and subscription fields."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from home_idp.schema.core.context import Info

__all__ = ["IsAdmin", "IsAuthenticated"]


class IsAuthenticated(BasePermission):
    """An approved user, logged in with a JWT or an API token."""

    message = "log in first"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal.is_authenticated


class IsAdmin(BasePermission):
    """A global administrator."""

    message = "only administrators may do this"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal.is_authenticated and principal.is_admin
