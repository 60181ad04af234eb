"""Releases: saving a Dockerfile starts one; follow, cancel and retry them live."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterable
from datetime import datetime
from enum import Enum
from typing import Annotated, Self

import strawberry
from strawberry import relay

from home_idp.schema.apps import App, DockerfileVersion, app_id
from home_idp.schema.context import Context, Info
from home_idp.schema.errors import ErrorTypes, run_mutation
from home_idp.schema.live_rights import while_allowed
from home_idp.schema.permissions import IsAuthenticated
from home_idp.schema.relay import decode_cursor, decode_id, encode_cursor, resolve_visible_nodes
from home_idp.schema.traces import CriticalPathSegment, Trace, load_trace
from home_idp.server.errors import ValidationFailed
from home_idp.server.pipeline import models
from home_idp.server.pipeline.events import app_topic, release_topic

__all__ = ["Release", "ReleaseMutation", "ReleaseQuery", "ReleaseSubscription"]

_REPLAY_BATCH = 500


def _duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


@strawberry.enum(description="Where a release stands.")
class ReleaseStatus(Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@strawberry.enum(description="Where a step stands; WAITING means it waits for a webhook.")
class StepState(Enum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@strawberry.type(description="One step of a release.")
class ReleaseStep:
    name: str
    state: StepState
    attempts: int
    deadline: datetime | None
    error: str | None = strawberry.field(description="Why it failed, or the last retry's error.")
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    span_id: str | None = strawberry.field(description="The step's span in the release's trace.")

    @classmethod
    def from_model(cls, step: models.ReleaseStep) -> Self:
        return cls(
            span_id=step.span_id,
            name=step.name,
            state=StepState(step.state.value),
            attempts=step.attempts,
            deadline=step.deadline,
            error=step.error,
            started_at=step.started_at,
            finished_at=step.finished_at,
            duration_ms=_duration_ms(step.started_at, step.finished_at),
        )


@strawberry.type(description="One run of an app's flow, from a Dockerfile save to the end.")
class Release(relay.Node):
    id: relay.NodeID[int]
    number: int = strawberry.field(description="Counts up per app.")
    status: ReleaseStatus
    trigger: str
    created_by: str
    commit_sha: str | None = strawberry.field(description="The platform-repo commit.")
    image: str | None
    digest: str | None
    trace_id: str | None
    manifests_sha: str | None = strawberry.field(
        description="The platform-repo commit of the release's manifests."
    )
    url: str | None = strawberry.field(description="Where the app answers, once rolled out.")
    error: str | None = strawberry.field(description="Which step failed, and why.")
    created_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    app_id: strawberry.Private[int]
    version_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, release: models.Release) -> Self:
        return cls(
            id=release.id,
            number=release.number,
            status=ReleaseStatus(release.status.value),
            trigger=release.trigger,
            created_by=release.created_by,
            commit_sha=release.commit_sha,
            image=release.image,
            digest=release.digest,
            trace_id=release.trace_id,
            manifests_sha=release.manifests_sha,
            url=release.url,
            error=release.error,
            created_at=release.created_at,
            finished_at=release.finished_at,
            duration_ms=_duration_ms(release.created_at, release.finished_at),
            app_id=release.app_id,  # type: ignore[attr-defined]
            version_id=release.dockerfile_version_id,  # type: ignore[attr-defined]
        )

    @strawberry.field(description="Whether this release is the one that serves now.")
    async def is_live(self, info: Info) -> bool:
        return await info.context.loaders.live_release_of_app.load(self.app_id) == self.id

    @strawberry.field(
        description="The release as a trace: a root span, a span per step, and the work "
        "inside them; null when you may not read traces."
    )
    async def trace(self, info: Info) -> Trace | None:
        return await load_trace(info, self.trace_id) if self.trace_id else None

    @strawberry.field(
        description="The steps and spans that made the release as long as it was, in order."
    )
    async def critical_path(self, info: Info) -> list[CriticalPathSegment]:
        trace = await self.trace(info)
        return trace.critical_path() if trace is not None else []

    @strawberry.field(description="The steps in order.")
    async def steps(self, info: Info) -> list[ReleaseStep]:
        steps = await models.ReleaseStep.filter(release_id=self.id).order_by("position")
        return [ReleaseStep.from_model(step) for step in steps]

    @strawberry.field
    async def app(self, info: Info) -> App:
        return App.from_model(await info.context.apps.apps.get(self.app_id))

    @strawberry.field(description="The Dockerfile version this release ships.")
    async def dockerfile_version(self, info: Info) -> DockerfileVersion:
        return DockerfileVersion.from_model(
            await info.context.apps.dockerfiles.get(self.version_id)
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        authz = info.context.rbac.authz

        async def allowed(release: models.Release) -> bool:
            await release.fetch_related("app__project")
            return await authz.can("release", "read", release.app.project.name)

        return await resolve_visible_nodes(models.Release, node_ids, cls.from_model, allowed)


@strawberry.type(description="A change of a release or one of its steps.")
class ReleaseEvent:
    release_id: relay.GlobalID
    step: str | None = strawberry.field(description="Null for the release's own status.")
    state: str
    message: str
    created_at: datetime
    sequence: strawberry.Private[int]

    @strawberry.field(description="Pass as `after` to resume from here.")
    def cursor(self) -> str:
        return encode_cursor(self.sequence)

    @classmethod
    def from_model(cls, event: models.ReleaseEvent) -> Self:
        return cls(
            release_id=relay.GlobalID("Release", str(event.release_id)),  # type: ignore[attr-defined]
            step=event.step,
            state=event.state,
            message=event.message,
            created_at=event.created_at,
            sequence=event.id,
        )


@strawberry.input
class SaveDockerfileInput:
    app: relay.GlobalID
    content: str = strawberry.field(description="At most 256 KiB; must parse.")
    message: str = strawberry.field(description="What changed, like a commit message.")


@strawberry.input
class ReleaseInput:
    id: relay.GlobalID


@strawberry.input
class RollbackInput:
    app: relay.GlobalID
    release: relay.GlobalID = strawberry.field(
        description="The earlier release (it must have succeeded) whose image to run again."
    )


@strawberry.type(description="What a release changes in its app's manifests in git.")
class ReleasePlan:
    folder: str = strawberry.field(description="The manifests folder in the platform repo.")
    diff: str = strawberry.field(description="A unified diff; empty when nothing changes.")
    files: list[str] = strawberry.field(description="The files the release renders.")


@strawberry.type(description="The new version (with lint warnings) and the release it started.")
class SaveDockerfileSuccess:
    dockerfile_version: DockerfileVersion
    release: Release


@strawberry.type
class ReleaseSuccess:
    release: Release


SaveDockerfileResult = Annotated[
    SaveDockerfileSuccess | ErrorTypes, strawberry.union("SaveDockerfileResult")
]
ReleaseResult = Annotated[ReleaseSuccess | ErrorTypes, strawberry.union("ReleaseResult")]


@strawberry.type
class ReleaseMutation:
    @strawberry.mutation(description="Save a new Dockerfile version and start its release.")
    async def save_dockerfile(self, info: Info, input: SaveDockerfileInput) -> SaveDockerfileResult:
        async def body() -> SaveDockerfileSuccess:
            version, release = await info.context.deploy.releases.save_dockerfile(
                app_id(input.app), input.content, input.message
            )
            return SaveDockerfileSuccess(
                dockerfile_version=DockerfileVersion.from_model(version),
                release=Release.from_model(release),
            )

        return await run_mutation(info, "dockerfile.save", body)

    @strawberry.mutation(description="Stop a running release.")
    async def cancel_release(self, info: Info, input: ReleaseInput) -> ReleaseResult:
        async def body() -> ReleaseSuccess:
            release = await info.context.deploy.releases.cancel(decode_id(input.id, "Release"))
            return ReleaseSuccess(release=Release.from_model(release))

        return await run_mutation(info, "release.cancel", body)

    @strawberry.mutation(
        description="Run a failed or cancelled release again from its failed step."
    )
    async def retry_release(self, info: Info, input: ReleaseInput) -> ReleaseResult:
        async def body() -> ReleaseSuccess:
            release = await info.context.deploy.releases.retry(decode_id(input.id, "Release"))
            return ReleaseSuccess(release=Release.from_model(release))

        return await run_mutation(info, "release.retry", body)

    @strawberry.mutation(
        description="Run an earlier release's exact image again, as a new release."
    )
    async def rollback(self, info: Info, input: RollbackInput) -> ReleaseResult:
        async def body() -> ReleaseSuccess:
            release = await info.context.deploy.releases.rollback(
                app_id(input.app), decode_id(input.release, "Release", "release")
            )
            return ReleaseSuccess(release=Release.from_model(release))

        return await run_mutation(info, "release.rollback", body)


@strawberry.type
class ReleaseQuery:
    @strawberry.field(
        description="The manifests change of a release: from git before it to what it renders.",
        permission_classes=[IsAuthenticated],
    )
    async def release_plan(self, info: Info, release_id: relay.GlobalID) -> ReleasePlan:
        plan = await info.context.deploy.releases.plan(
            decode_id(release_id, "Release", "releaseId")
        )
        return ReleasePlan(folder=plan.folder, diff=plan.diff, files=plan.files)


@strawberry.type
class ReleaseSubscription:
    @strawberry.subscription(
        description="Changes of one release (releaseId) or of every release of an app (appId). "
        "Pass the last cursor you saw as `after` to get what you missed first.",
        permission_classes=[IsAuthenticated],
    )
    async def release_events(
        self,
        info: Info,
        app_id: relay.GlobalID | None = None,
        release_id: relay.GlobalID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[ReleaseEvent, None]:
        releases = info.context.deploy.releases
        if (app_id is None) == (release_id is None):
            raise ValidationFailed.for_field("appId", "give exactly one of appId and releaseId")
        if release_id is not None:
            release = await releases.get(decode_id(release_id, "Release", "releaseId"))
            topic, by_release, by_app = release_topic(release.id), release.id, None
        else:
            assert app_id is not None
            app = await releases.app_for_events(decode_id(app_id, "App", "appId"))
            topic, by_release, by_app = app_topic(app.id), None, app.id

        project = (release.app if release_id is not None else app).project.name

        async def may_still_read(context: Context) -> None:
            await context.rbac.authz.require("release", "read", project)

        async with contextlib.aclosing(
            while_allowed(
                info,
                _release_events(info, topic, by_release, by_app, decode_cursor(after)),
                may_still_read,
            )
        ) as events:
            async for event in events:
                yield event


async def _release_events(
    info: Info, topic: str, by_release: int | None, by_app: int | None, last: int | None
) -> AsyncGenerator[ReleaseEvent, None]:
    releases = info.context.deploy.releases
    async with info.context.runtime.bus.subscribe(topic) as live:
        if last is not None:
            # Replay what was missed; live events queue up meanwhile.
            while True:
                batch = await releases.events_after(
                    release_id=by_release, app_id=by_app, after=last
                ).limit(_REPLAY_BATCH)
                for event in batch:
                    last = event.id
                    yield ReleaseEvent.from_model(event)
                if len(batch) < _REPLAY_BATCH:
                    break
        # Only what the replay sent is skipped: live events of different
        # releases may arrive out of id order and must all get through.
        replayed_up_to = last
        async for event in live:
            if replayed_up_to is not None and event.id <= replayed_up_to:
                continue
            yield ReleaseEvent.from_model(event)
