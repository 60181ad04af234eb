"""Dockerfile versions through the API: save, history, diff, refusals, lint and races."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from strawberry.relay import to_base64

from home_idp.server.apps.dockerfile import MAX_DOCKERFILE_BYTES
from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.deploy.releases import RELEASE_PLAN
from home_idp.server.pipeline.models import Release, ReleaseStatus
from tests.components import BASE_IMAGE
from tests.deploy.flow import DOCKERFILE, make_app, wait_for_release
from tests.factories import Factory, Person
from tests.graphql import GraphQLClient

VERSION = "id number content author message lintFindings { line code level message }"
SAVE = f"""mutation($input: SaveDockerfileInput!) {{
  saveDockerfile(input: $input) {{
    __typename
    ... on SaveDockerfileSuccess {{
      dockerfileVersion {{ {VERSION} }}
      release {{ id number status steps {{ name state }} }}
    }}
    ... on ValidationError {{ fieldErrors {{ field message }} }}
    ... on Error {{ message }}
  }}
}}"""
HISTORY = f"""query($id: ID!, $first: Int! = 20, $after: String) {{
  node(id: $id) {{
    ... on App {{
      dockerfile {{ number }}
      dockerfileVersions(first: $first, after: $after) {{
        totalCount
        pageInfo {{ hasNextPage endCursor }}
        edges {{ node {{ {VERSION} }} }}
      }}
      releases {{ edges {{ node {{ number }} }} }}
    }}
  }}
}}"""
NODE = f"""query($id: ID!) {{
  node(id: $id) {{ __typename ... on DockerfileVersion {{ {VERSION} }} }}
}}"""
DIFF = "query($a: ID!, $b: ID!) { dockerfileDiff(fromVersion: $a, toVersion: $b) }"

APT = "FROM debian:12\nRUN apt-get install curl\n"


@dataclass
class Setup:
    app: App
    maintainer: Person
    developer: Person
    viewer: Person
    outsider: Person

    @property
    def app_id(self) -> str:
        return to_base64("App", self.app.id)


@pytest.fixture
async def setup(factory: Factory) -> Setup:
    people = [await factory.user(name) for name in ("mia", "dev", "vic", "otto")]
    project = await factory.project("shop", mia="maintainer", dev="developer", vic="viewer")
    return Setup(await make_app(project), *people)


@pytest.fixture(autouse=True)
async def releases_finish(app: Starlette) -> AsyncIterator[None]:
    """Let every release a test started end, so none runs into the next test."""
    yield
    for release in await Release.filter(status=ReleaseStatus.RUNNING):
        await wait_for_release(release.id)


async def save(
    gql: GraphQLClient, setup: Setup, content: str, message: str, by: Person | None = None
) -> dict[str, Any]:
    variables = {"input": {"app": setup.app_id, "content": content, "message": message}}
    result = await gql(SAVE, variables, token=(by or setup.developer).token)
    answer: dict[str, Any] = result["saveDockerfile"]
    return answer


async def saved(
    gql: GraphQLClient, setup: Setup, content: str, message: str, by: Person | None = None
) -> dict[str, Any]:
    answer = await save(gql, setup, content, message, by)
    assert answer["__typename"] == "SaveDockerfileSuccess", answer
    return answer


async def history(gql: GraphQLClient, setup: Setup, person: Person) -> dict[str, Any]:
    node: dict[str, Any] = (await gql(HISTORY, {"id": setup.app_id}, token=person.token))["node"]
    return node


async def nothing_stored() -> bool:
    return not await DockerfileVersion.exists() and not await Release.exists()


def dockerfile(n: int) -> str:
    return f'FROM {BASE_IMAGE}\nENV VERSION={n}\nCMD ["/app/run"]\n'


# --- versions -----------------------------------------------------------------------------


async def test_each_save_is_a_new_numbered_version_with_its_author_and_message(
    gql: GraphQLClient, setup: Setup
) -> None:
    authors = (setup.developer, setup.maintainer, setup.developer)
    answers = [
        await saved(gql, setup, dockerfile(n), f"change {n}", by)
        for n, by in enumerate(authors, start=1)
    ]
    versions = [answer["dockerfileVersion"] for answer in answers]
    assert [(v["number"], v["author"], v["message"]) for v in versions] == [
        (1, "dev", "change 1"),
        (2, "mia", "change 2"),
        (3, "dev", "change 3"),
    ]
    assert [v["content"] for v in versions] == [dockerfile(n) for n in (1, 2, 3)]
    # Each save starts a release of that version.
    assert [a["release"]["number"] for a in answers] == [1, 2, 3]
    assert all(a["release"]["status"] == "RUNNING" for a in answers)
    assert [s["name"] for s in answers[0]["release"]["steps"]] == list(RELEASE_PLAN)

    app = await history(gql, setup, setup.viewer)
    assert app["dockerfile"] == {"number": 3}
    listed = app["dockerfileVersions"]
    assert listed["totalCount"] == 3
    # Newest first, each as it was saved.
    assert [edge["node"] for edge in listed["edges"]] == versions[::-1]


async def test_the_history_pages_newest_first(gql: GraphQLClient, setup: Setup) -> None:
    for n in range(1, 4):
        await saved(gql, setup, dockerfile(n), f"change {n}")
    first = await gql(HISTORY, {"id": setup.app_id, "first": 2}, token=setup.viewer.token)
    page = first["node"]["dockerfileVersions"]
    assert [edge["node"]["number"] for edge in page["edges"]] == [3, 2]
    assert page["pageInfo"]["hasNextPage"] is True
    variables = {"id": setup.app_id, "first": 2, "after": page["pageInfo"]["endCursor"]}
    rest = (await gql(HISTORY, variables, token=setup.viewer.token))["node"]
    assert [edge["node"]["number"] for edge in rest["dockerfileVersions"]["edges"]] == [1]
    assert rest["dockerfileVersions"]["pageInfo"]["hasNextPage"] is False


async def test_an_app_without_a_saved_dockerfile_has_no_versions(
    gql: GraphQLClient, setup: Setup
) -> None:
    app = await history(gql, setup, setup.viewer)
    assert app["dockerfile"] is None
    assert app["dockerfileVersions"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


async def test_any_version_can_be_fetched_by_its_id(gql: GraphQLClient, setup: Setup) -> None:
    versions = [
        (await saved(gql, setup, dockerfile(n), f"change {n}"))["dockerfileVersion"]
        for n in (1, 2, 3)
    ]
    for version in versions:
        node = (await gql(NODE, {"id": version["id"]}, token=setup.viewer.token))["node"]
        assert node == {"__typename": "DockerfileVersion", **version}
    # Someone outside the project cannot tell the version exists.
    hidden = await gql(NODE, {"id": versions[0]["id"]}, token=setup.outsider.token)
    assert hidden["node"] is None
    missing = await gql(
        NODE, {"id": to_base64("DockerfileVersion", 999999)}, token=setup.viewer.token
    )
    assert missing["node"] is None


async def test_the_diff_between_two_versions(gql: GraphQLClient, setup: Setup) -> None:
    old = (await saved(gql, setup, dockerfile(1), "one"))["dockerfileVersion"]
    new = (await saved(gql, setup, dockerfile(2), "two"))["dockerfileVersion"]
    diff = (await gql(DIFF, {"a": old["id"], "b": new["id"]}, token=setup.viewer.token))[
        "dockerfileDiff"
    ]
    lines = diff.splitlines()
    assert lines[:2] == ["--- web/Dockerfile@v1", "+++ web/Dockerfile@v2"]
    assert "-ENV VERSION=1" in lines
    assert "+ENV VERSION=2" in lines
    # Unchanged lines are context, not changes.
    assert f" FROM {BASE_IMAGE}" in lines
    assert not any(line.startswith(("-FROM", "+FROM")) for line in lines)
    same = await gql(DIFF, {"a": old["id"], "b": old["id"]}, token=setup.viewer.token)
    assert same["dockerfileDiff"] == ""
    hidden = await gql(DIFF, {"a": old["id"], "b": new["id"]}, token=setup.outsider.token)
    assert hidden.data is None
    assert hidden.error_messages == ["no such Dockerfile version"]


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("FROM busybox\nRUNN echo hi\n", 2),
        ('FROM busybox\n\n# a comment\nCMD ["/app/run", \n', 4),
        ("FROM busybox\nRUN <<EOF\necho never closed\n", 2),
        ("COPY . /app\nFROM busybox\n", 1),
        ("FROM busybox\nCOPY\n", 2),
    ],
    ids=["typo", "broken-exec-form", "open-heredoc", "no-from-first", "no-arguments"],
)
async def test_an_unparseable_dockerfile_is_refused_naming_its_line(
    gql: GraphQLClient, setup: Setup, content: str, line: int
) -> None:
    answer = await save(gql, setup, content, "broken")
    assert answer["__typename"] == "ValidationError", answer
    assert [e["field"] for e in answer["fieldErrors"]] == ["content"]
    assert f"line {line}:" in answer["message"]
    assert await nothing_stored()


async def test_a_refused_save_leaves_the_history_as_it_was(
    gql: GraphQLClient, setup: Setup
) -> None:
    await saved(gql, setup, DOCKERFILE, "good")
    before = await history(gql, setup, setup.viewer)
    answer = await save(gql, setup, "FROM busybox\nRUNN x\n", "bad")
    assert answer["__typename"] == "ValidationError"
    assert await history(gql, setup, setup.viewer) == before
    assert await DockerfileVersion.all().count() == 1
    assert await Release.all().count() == 1


async def test_a_dockerfile_over_256_kib_is_refused(gql: GraphQLClient, setup: Setup) -> None:
    head = "FROM busybox\n# "
    at_limit = head + "x" * (MAX_DOCKERFILE_BYTES - len(head))
    assert len(at_limit.encode()) == 256 * 1024
    answer = await save(gql, setup, at_limit + "x", "too big")
    assert answer["__typename"] == "ValidationError", answer
    assert [e["field"] for e in answer["fieldErrors"]] == ["content"]
    assert "256 KiB" in answer["message"]
    assert await nothing_stored()
    # Exactly 256 KiB is allowed.
    assert (await save(gql, setup, at_limit, "just fits"))["__typename"] == "SaveDockerfileSuccess"


@pytest.mark.parametrize(
    "message", ["", "   ", "\n", "x" * 501], ids=["empty", "spaces", "nl", "long"]
)
async def test_a_save_needs_a_message(gql: GraphQLClient, setup: Setup, message: str) -> None:
    answer = await save(gql, setup, DOCKERFILE, message)
    assert answer["__typename"] == "ValidationError", answer
    assert [e["field"] for e in answer["fieldErrors"]] == ["message"]
    assert await nothing_stored()


async def test_only_project_writers_save(gql: GraphQLClient, setup: Setup) -> None:
    denied = await save(gql, setup, DOCKERFILE, "no", by=setup.viewer)
    assert denied["__typename"] == "PermissionDenied"
    hidden = await save(gql, setup, DOCKERFILE, "no", by=setup.outsider)
    assert hidden["__typename"] == "NotFound"
    assert await nothing_stored()


# --- lint ---------------------------------------------------------------------------------


async def test_lint_findings_come_back_but_never_block_the_save(
    gql: GraphQLClient, setup: Setup
) -> None:
    answer = await saved(gql, setup, APT, "install curl")
    version = answer["dockerfileVersion"]
    assert version["number"] == 1
    findings = {(f["code"], f["line"], f["level"]) for f in version["lintFindings"]}
    assert ("DL3008", 2, "warning") in findings
    assert all(f["message"] for f in version["lintFindings"])
    # The findings are kept with the version.
    node = (await gql(NODE, {"id": version["id"]}, token=setup.viewer.token))["node"]
    assert node["lintFindings"] == version["lintFindings"]
    assert await Release.all().count() == 1


async def test_a_clean_dockerfile_has_no_findings(gql: GraphQLClient, setup: Setup) -> None:
    answer = await saved(gql, setup, DOCKERFILE, "clean")
    assert answer["dockerfileVersion"]["lintFindings"] == []


# --- races --------------------------------------------------------------------------------


async def test_two_concurrent_saves_get_distinct_numbers(gql: GraphQLClient, setup: Setup) -> None:
    answers = await asyncio.gather(
        save(gql, setup, dockerfile(1), "one"),
        save(gql, setup, dockerfile(2), "two", by=setup.maintainer),
    )
    assert [a["__typename"] for a in answers] == ["SaveDockerfileSuccess"] * 2, answers
    numbers = sorted(a["dockerfileVersion"]["number"] for a in answers)
    assert numbers == [1, 2]
    assert sorted(a["release"]["number"] for a in answers) == [1, 2]
    # Each answer's version holds what that save sent.
    for answer, n in zip(answers, (1, 2), strict=True):
        assert answer["dockerfileVersion"]["content"] == dockerfile(n)
    stored = await DockerfileVersion.filter(app_id=setup.app.id).order_by("number")
    assert [v.number for v in stored] == [1, 2]
    assert {v.content for v in stored} == {dockerfile(1), dockerfile(2)}
