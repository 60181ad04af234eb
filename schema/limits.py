"""Request limits, error masking and document caches, configured from settings in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule

from home_idp.server.errors import DomainError
from home_idp.server.settings import GraphQLLimits

__all__ = ["DOCUMENT_CACHE_SIZE", "MAX_CACHED_QUERY_CHARS", "security_extensions"]

log = logging.getLogger(__name__)

# Distinct query texts whose parsed and validated documents are kept. Clients
# send a handful of fixed documents; the bounds keep unique (or huge, e.g. a
# megabyte string literal) texts from growing memory. Entries are keyed by the
# text and the limits, so nothing is shared between documents or settings.
DOCUMENT_CACHE_SIZE = 256
MAX_CACHED_QUERY_CHARS = 20_000


def _cacheable(extension: SchemaExtension) -> bool:
    return len(extension.execution_context.query or "") <= MAX_CACHED_QUERY_CHARS


class _ParserCache(ParserCache):
    """Strawberry's parse cache, for documents of a bounded size."""

    def on_parse(self) -> Iterator[None]:
        if _cacheable(self):
            yield from super().on_parse()
        else:
            yield


class _ValidationCache(ValidationCache):
    """Strawberry's validation cache, for the documents `_ParserCache` keeps."""

    def on_validate(self) -> Iterator[None]:
        if _cacheable(self):
            yield from super().on_validate()
        else:
            yield


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
    """Factories, so every request gets fresh extension instances.

    The depth and alias rules are the ones `QueryDepthLimiter` and
    `MaxAliasesLimiter` add, made once rather than per request: the rule
    classes are then part of a stable key, and `ValidationCache` can reuse
    the validation of a document it has seen (validation depends only on the
    schema, the document and the rules). `ParserCache` keys on the text and
    the parse options, which include `MaxTokensLimiter`'s bound. Longer texts
    are parsed and validated every time, as before.
    """
    rules: list[type[ASTValidationRule]] = [
        max_depth_rule(limits.max_depth, should_ignore=None),
        max_aliases_rule(limits.max_aliases),
    ]
    return [
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: _ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: _ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: MaskErrors(should_mask_error=_should_mask, error_message="Unexpected error."),
    ]
