"""Request limits and error masking, configured from settings in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable

from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from home_idp.server.errors import DomainError
from home_idp.server.settings import GraphQLLimits

__all__ = ["security_extensions"]

log = logging.getLogger(__name__)


def _should_mask(error: GraphQLError) -> bool:
    """Mask anything unexpected; keep GraphQL's own and home-idp's domain errors."""
    original = error.original_error
    if original is None or isinstance(original, (GraphQLError, DomainError)):
        return False
    # Strawberry's permission classes raise plain PermissionError-style errors
    # whose message is the class's `message`, which is safe to show.
    if type(original).__name__ in ("PermissionError",):
        return False
    log.error("unexpected error in %s", error.path, exc_info=original)
    return True


def security_extensions(limits: GraphQLLimits) -> list[Callable[[], SchemaExtension]]:
    """Factories, so every request gets fresh extension instances."""
    return [
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: MaskErrors(should_mask_error=_should_mask, error_message="Unexpected error."),
    ]
