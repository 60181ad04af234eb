"""Request limits, error masking and document caches, configured from settings in one place."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from graphql import GraphQLError
from graphql.validation.rules import overlapping_fields_can_be_merged
from strawberry.extensions import MaskErrors, ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.schema import validate_document

from home_idp.schema.core.errors import StoredFieldErrors
from home_idp.schema.core.selection_cost import SelectionCost, measure_document
from home_idp.schema.core.text_input import NoNulCharacters
from home_idp.server.errors import DomainError
from home_idp.server.settings import GraphQLLimits

__all__ = [
    "DOCUMENT_CACHE_SIZE",
    "MAX_CACHED_QUERY_CHARS",
    "QUERY_TOO_COMPLEX",
    "VALIDATION_BUDGET",
    "security_extensions",
]

log = logging.getLogger(__name__)

# Distinct query texts whose parsed and validated documents are kept. Clients
# send a handful of fixed documents; the bounds keep unique (or huge, e.g. a
# megabyte string literal) texts from growing memory. Entries are keyed by the
# text and the limits, so nothing is shared between documents or settings.
DOCUMENT_CACHE_SIZE = 256
MAX_CACHED_QUERY_CHARS = 20_000

# The `code` in the extensions of an error for a document over a limit.
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"

# graphql-core's OverlappingFieldsCanBeMerged compares every pair of fields
# with the same response name, so 300 copies of `me { username }` took half a
# second. The library meters that work and aborts past a budget; its default
# (500,000) still allows hundreds of milliseconds. Measured here, this budget
# keeps the worst documents within the token limit to about 20 ms, and is far
# above what real documents use (the introspection query spends under 200).
VALIDATION_BUDGET = 10_000
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = VALIDATION_BUDGET


def _cacheable(extension: SchemaExtension) -> bool:
    return len(extension.execution_context.query or "") <= MAX_CACHED_QUERY_CHARS


@dataclass(frozen=True)
class _Bounds:
    """The limits one request is held to."""

    max_depth: int
    max_aliases: int
    max_tokens: int
    max_query_chars: int


def _bounds(limits: GraphQLLimits) -> tuple[_Bounds, _Bounds]:
    """(logged in, anonymous); anonymous bounds never exceed the logged-in ones."""
    member = _Bounds(
        limits.max_depth, limits.max_aliases, limits.max_tokens, limits.max_query_chars
    )
    anonymous = limits.anonymous
    return member, _Bounds(
        min(anonymous.max_depth, member.max_depth),
        min(anonymous.max_aliases, member.max_aliases),
        min(anonymous.max_tokens, member.max_tokens),
        min(anonymous.max_query_chars, member.max_query_chars),
    )


def _too_complex(message: str, limit: str, maximum: int) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": QUERY_TOO_COMPLEX, "limit": limit, "maximum": maximum}
    )


class _OperationLimits(SchemaExtension):
    """Holds each request to its bounds: tighter ones without a login.

    Parsing is bounded by graphql-core's own options (source length and
    tokens). Depth and aliases are measured with each fragment counted once
    (`selection_cost`), in time linear in the document, before graphql-core's
    validation runs; Strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter`
    expand every spread again, which doubles per level of fragments.
    """

    def __init__(self, member: _Bounds, anonymous: _Bounds) -> None:
        self.member = member
        self.anonymous = anonymous

    def _request_bounds(self) -> _Bounds:
        principal = getattr(self.execution_context.context, "principal", None)
        logged_in = principal is not None and principal.is_authenticated
        return self.member if logged_in else self.anonymous

    def on_operation(self) -> Iterator[None]:
        bounds = self._request_bounds()
        # Strawberry types the options with `max_tokens` only; graphql-core takes more.
        options = cast("dict[str, Any]", self.execution_context.parse_options)
        options["max_tokens"] = bounds.max_tokens
        options["max_source_length"] = bounds.max_query_chars
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.pre_execution_errors is None:
            bounds = self._request_bounds()
            cost = measure_document(
                context.graphql_document, ceiling=max(bounds.max_depth, bounds.max_aliases) + 1
            )
            errors = self._over(cost, bounds)
            if errors:
                # Set before graphql-core's validation, which then does not run.
                context.pre_execution_errors = errors
        yield

    def _over(self, cost: SelectionCost, bounds: _Bounds) -> list[GraphQLError]:
        who = "" if bounds is self.member else " for a request without a login"
        errors = []
        if cost.depth > bounds.max_depth:
            errors.append(
                _too_complex(
                    f"the operation exceeds maximum operation depth of {bounds.max_depth}{who}",
                    "depth",
                    bounds.max_depth,
                )
            )
        if cost.aliases > bounds.max_aliases:
            errors.append(
                _too_complex(
                    f"more than {bounds.max_aliases} aliases found{who}, counting a "
                    "fragment's each time it is spread",
                    "aliases",
                    bounds.max_aliases,
                )
            )
        return errors


class _ParserCache(ParserCache):
    """Strawberry's parse cache, for documents of a bounded size.

    A document that does not parse is left to Strawberry's own parse step,
    which reports the syntax error on every transport; raised from here it
    would end a websocket operation without telling the client why.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if _cacheable(self):
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
        yield


def _explain_abort(error: GraphQLError) -> GraphQLError:
    """graphql-core's "Validation aborted." when a validation budget ran out, explained."""
    if error.message != "Validation aborted.":
        return error
    return _too_complex(
        "the document is too complex to validate: too many fields with the same "
        "name, or fragments spread too often",
        "validation",
        VALIDATION_BUDGET,
    )


class _Validation(ValidationCache):
    """graphql-core's validation, cached for the documents `_ParserCache` keeps.

    It is skipped for a document the limits already refused, and an aborted
    validation gets an error that says why.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None and context.graphql_document is not None:
            validate = self.cached_validate_document if _cacheable(self) else validate_document
            errors = validate(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
            context.pre_execution_errors = [_explain_abort(error) for error in errors]
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

    Order matters: the limits pick the parse options before the parse cache
    parses, and refuse a document before graphql-core validates it.
    `ParserCache` keys on the text and the parse options (so logged-in and
    anonymous bounds never share an entry); validation depends only on the
    schema, the document and the rules, which are the same for everyone.
    Longer texts are parsed and validated every time.
    """
    member, anonymous = _bounds(limits)
    return [
        lambda: _OperationLimits(member, anonymous),
        NoNulCharacters,
        lambda: _ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: _Validation(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: MaskErrors(should_mask_error=_should_mask, error_message="Unexpected error."),
        StoredFieldErrors,
    ]
