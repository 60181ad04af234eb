"""Releases from the app's own code: a push, a poll or "deploy now" builds one source commit.

Such a release builds the commit with the app's newest Dockerfile. Only the
newest commit matters: a release of the app still waiting for its build is
superseded by the new one rather than built too.
"""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.apps.source_reader import SourceCommit
from home_idp.server.deploy.release_plans import RELEASE_PLAN, next_release_number
from home_idp.server.errors import Conflict
from home_idp.server.pipeline.engine import Engine
from home_idp.server.pipeline.models import Release

__all__ = ["source_fields", "start_source_release"]


def source_fields(commit: SourceCommit) -> dict[str, Any]:
    """The release's columns that record its source commit."""
    return {
        "source_sha": commit.sha,
        "source_author": commit.author[:200] if commit.author else None,
        "source_message": commit.message,
        "source_url": commit.url[:500] if commit.url else None,
    }


async def start_source_release(
    engine: Engine, app: App, commit: SourceCommit, *, trigger: str, by: str, once: bool = False
) -> Release | None:
    """Start a release of `app` that builds `commit` with its newest Dockerfile.

    With `once`, nothing starts when the app already acted on this commit (a
    push and a poll, or two replicas, may both see it). Conflict when the app
    has no Dockerfile yet.
    """
    async with in_transaction():
        locked = await App.filter(id=app.id).select_for_update().get()
        locked.project = app.project
        if once and locked.source_seen_sha == commit.sha:
            return None
        version = await DockerfileVersion.filter(app_id=app.id).order_by("-number").first()
        if version is None:
            raise Conflict("the app has no Dockerfile yet: save one to build its source")
        release = await Release.create(
            app=locked,
            number=await next_release_number(app.id),
            dockerfile_version=version,
            trigger=trigger[:32],
            created_by=by,
            **source_fields(commit),
        )
        events = await engine.supersede_unbuilt(app.id, release)
        events += await engine.plan(release, RELEASE_PLAN)
        locked.source_seen_sha = commit.sha
        await locked.save(update_fields=["source_seen_sha"])
    await engine.committed(events)
    release.app = locked
    return release
