"""The dashboard's GraphQL operations, as named documents.

Each `.graphql` file here holds the operations of one part of the dashboard;
`fragments.graphql` holds fragments every file may use. The files are split
into one document per operation, carrying only the fragments it uses, so a
request stays well inside the server's token limit. A test validates every
one against the committed `schema/schema.graphql`.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from graphql import DocumentNode, parse, print_ast
from graphql.utilities import separate_operations

__all__ = ["UnknownOperation", "document", "operation_names"]


_SHARED = "fragments.graphql"


class UnknownOperation(KeyError):
    """The dashboard asked for an operation no `.graphql` file defines."""


@cache
def _documents() -> dict[str, DocumentNode]:
    folder = files(__name__)
    shared = folder.joinpath(_SHARED).read_text()
    documents: dict[str, DocumentNode] = {}
    for resource in sorted(folder.iterdir(), key=lambda r: r.name):
        if not resource.name.endswith(".graphql") or resource.name == _SHARED:
            continue
        text = f"{resource.read_text()}\n{shared}"
        for name, operation in separate_operations(parse(text)).items():
            if name in documents:
                raise ValueError(f"operation {name} is defined twice")
            documents[name] = operation
    return documents


def operation_names() -> list[str]:
    """Every operation the dashboard may send."""
    return sorted(_documents())


@cache
def document(name: str) -> str:
    """The text of one operation with the fragments it uses."""
    try:
        return print_ast(_documents()[name])
    except KeyError:
        raise UnknownOperation(name) from None
