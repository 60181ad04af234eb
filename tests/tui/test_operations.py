"""The dashboard's GraphQL documents stay valid against the committed schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, build_schema, parse, validate

from home_idp.tui.operations import UnknownOperation, document, operation_names

SCHEMA = build_schema((Path(__file__).parents[2] / "schema" / "schema.graphql").read_text())


@pytest.mark.parametrize("name", operation_names())
def test_every_operation_is_valid_against_the_schema(name: str) -> None:
    errors = validate(SCHEMA, parse(document(name)))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("name", operation_names())
def test_each_document_carries_only_its_own_operation(name: str) -> None:
    parsed = parse(document(name))
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    assert [op.name.value for op in operations if op.name] == [name]


def test_an_unknown_operation_is_a_clear_error() -> None:
    with pytest.raises(UnknownOperation):
        document("DropEverything")


def test_the_dashboard_covers_the_api_it_promises() -> None:
    names = set(operation_names())
    assert {"Login", "SignUp", "RefreshToken", "SaveDockerfile", "CancelRelease"} <= names
    assert {"RetryRelease", "Rollback", "ReleaseEvents", "BuildLog", "Spans"} <= names
