"""schema/schema.graphql is the exported SDL, and stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from home_idp.schema.schema import build_schema

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    exported = build_schema().as_str() + "\n"
    assert SDL.read_text() == exported, "run `home-idp schema export > schema/schema.graphql`"


def test_names_other_tools_rely_on_are_there() -> None:
    sdl = SDL.read_text()
    for fragment in (
        "login(input: LoginInput!): LoginResult!",
        "signUp(input: SignUpInput!): SignUpResult!",
        "createProject(input: CreateProjectInput!): CreateProjectResult!",
        "createApiToken(input: CreateApiTokenInput!): CreateApiTokenResult!",
        "me: User!",
    ):
        assert fragment in sdl
