"""Text in a request may not hold U+0000.

No name, filter, message or value of home-idp needs it, and Postgres cannot
compare or store it (the statement would fail with a database error).
Refused once, for the whole request, before anything runs: in the
document's string literals and in the variables alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

__all__ = ["NoNulCharacters"]

_MESSAGE = "text in a request may not contain the NUL character (U+0000)"


class _FindNul(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        if "\0" in node.value:
            self.found = True


def _holds_nul(value: Any) -> bool:
    # An explicit stack: variables may nest deeper than Python's recursion limit allows.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\0" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class NoNulCharacters(SchemaExtension):
    """Refuses a request whose text holds U+0000, with an error that says so."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            finder = _FindNul()
            visit(document, finder)
            if finder.found or _holds_nul(context.variables):
                # Set before graphql-core's validation, which then does not run.
                context.pre_execution_errors = [
                    GraphQLError(_MESSAGE, extensions={"code": "BAD_USER_INPUT"})
                ]
        yield
