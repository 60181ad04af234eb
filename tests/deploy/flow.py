"""Helpers for release tests: make an app, save a Dockerfile, wait for a release."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from strawberry.relay import to_base64

from home_idp.server.apps.models import App
from home_idp.server.pipeline.models import Release, ReleaseStatus
from home_idp.server.rbac.models import Project
from tests.components import BASE_IMAGE, SOURCE_REPO
from tests.graphql import GraphQLClient

__all__ = [
    "DOCKERFILE",
    "SAVE",
    "make_app",
    "save_dockerfile",
    "unique_dockerfile",
    "wait_for_release",
]

DOCKERFILE = f'FROM {BASE_IMAGE}\nCOPY . /app\nCMD ["/app/run"]\n'

SAVE = """
mutation($input: SaveDockerfileInput!) {
  saveDockerfile(input: $input) {
    __typename
    ... on SaveDockerfileSuccess {
      dockerfileVersion { id number lintFindings { line code level } }
      release { id status steps { name state } }
    }
    ... on Error { message }
    ... on ValidationError { fieldErrors { field message } }
  }
}
"""


def unique_dockerfile() -> str:
    """A Dockerfile no earlier test committed (the platform repo outlives each test)."""
    return f"{DOCKERFILE}ENV RUN_ID={uuid.uuid4().hex}\n"


async def make_app(project: Project, name: str = "web") -> App:
    return await App.create(project=project, name=name, source_repo=SOURCE_REPO)


async def save_dockerfile(
    gql: GraphQLClient, token: str, app: App, content: str = DOCKERFILE, message: str = "first"
) -> dict[str, Any]:
    result = await gql(
        SAVE,
        {"input": {"app": to_base64("App", app.id), "content": content, "message": message}},
        token=token,
    )
    payload: dict[str, Any] = result["saveDockerfile"]
    return payload


async def wait_for_release(release_id: int, seconds: float = 60.0) -> Release:
    """Poll the database until the release ends (or fail the test after `seconds`)."""
    async with asyncio.timeout(seconds):
        while True:
            release = await Release.get(id=release_id)
            if release.status is not ReleaseStatus.RUNNING:
                return release
            await asyncio.sleep(0.05)
