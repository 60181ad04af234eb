"""The object types of releases: a release and its steps and events, build logs,
webhook deliveries, and what runs an app."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Self, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from home_idp.plugins.deployer import contract as deployer_contract
from home_idp.plugins.support.log_excerpt import has_log_lines
from home_idp.schema.apps.types import App, DockerfileVersion, readable_app
from home_idp.schema.core.context import Info
from home_idp.schema.core.from_row import FromRow, from_row
from home_idp.schema.core.log_lines import shown_in_project
from home_idp.schema.core.relay import VisibleNode, encode_cursor
from home_idp.schema.traces.types import CriticalPathSegment, Trace, load_trace
from home_idp.server.deploy import models as deploy_models
from home_idp.server.errors import NotFound
from home_idp.server.pipeline import models
from home_idp.server.pipeline.models import StepState

__all__ = [
    "AppLogLine",
    "AppResource",
    "BuildLogLine",
    "Release",
    "ReleaseEvent",
    "ReleasePlan",
    "ReleaseStep",
    "WebhookDelivery",
]


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
    SUPERSEDED = strawberry.enum_value(
        "superseded",
        description="A newer push overtook it before its build started; only the newest "
        "commit is built.",
    )


# The model's own enum, so the two lists of states cannot drift apart.
strawberry.enum(StepState, description="Where a step stands; WAITING means it waits for a webhook.")


@strawberry.type(description="The commit of the app's source repository a release builds.")
class SourceCommit:
    sha: str
    author: str | None = strawberry.field(description="Who made the commit, if known.")
    message: str | None = strawberry.field(description="The commit message, if known.")
    url: str | None = strawberry.field(description="A link to the commit on its forge, if known.")

    @classmethod
    def of(cls, release: models.Release) -> SourceCommit | None:
        if release.source_sha is None:
            return None
        return cls(
            sha=release.source_sha,
            author=release.source_author,
            message=release.source_message,
            url=release.source_url,
        )


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
    def from_model(cls, step: models.ReleaseStep, error: str | None) -> Self:
        """`error`: the step's error as the caller may see it (`shown_to`)."""
        return from_row(
            cls,
            step,
            error=error,
            duration_ms=_duration_ms(step.started_at, step.finished_at),
        )


async def shown_to(info: Info, app_id: int, text: str | None) -> str | None:
    """`text` (an error, an event's message) as the caller may see it: the log
    lines it quotes only if they may read the app's project's logs."""
    if text is None or not has_log_lines(text):
        return text  # no query for the common case
    app = await info.context.loaders.app.load(app_id)
    project = await info.context.loaders.project.load(app.project_id) if app else None  # type: ignore[attr-defined]
    return await shown_in_project(info, project.name if project else None, text)


async def _release_error(root: Release, info: Info) -> str | None:
    return await shown_to(info, root.app_id, root.stored_error)


async def _release_url(root: Release, info: Info) -> str | None:
    """Release.url: the app's stable address while the release is live, else its own."""
    addresses = info.context.runtime.deploy.app_addresses
    if root.instance_url is None or addresses is None or not await root.is_live(info):
        return root.instance_url
    app = await info.context.loaders.app.load(root.app_id)
    project = await info.context.loaders.project.load(app.project_id) if app else None  # type: ignore[attr-defined]
    if app is None or project is None:
        return root.instance_url
    return addresses.url(project.name, app.name)


@strawberry.type(description="One run of an app's flow, from a Dockerfile save to the end.")
class Release(VisibleNode):
    id: relay.NodeID[int]
    number: int = strawberry.field(description="Counts up per app.")
    status: ReleaseStatus
    trigger: str
    created_by: str
    commit_sha: str | None = strawberry.field(description="The platform-repo commit.")
    source_commit: SourceCommit | None = strawberry.field(
        description="The app's source commit the image is built from; null until the "
        "build step knows it."
    )
    image: str | None
    digest: str | None
    trace_id: str | None
    manifests_sha: str | None = strawberry.field(
        description="The platform-repo commit of the release's manifests."
    )
    url: str | None = strawberry.field(
        resolver=_release_url,
        description="Where the release answers, once rolled out. The live release of an app "
        "the server runs itself (the container deployer) answers at the app's address, "
        "App.url, which stays the same across releases; any other release at its own "
        "instance's address.",
    )
    instance_url: str | None = strawberry.field(
        description="Where this release's own instance answers, once rolled out (the "
        "container deployer's container, on its own port): also after the server stops."
    )
    error: str | None = strawberry.field(
        resolver=_release_error,
        description="Which step failed, and why. The app's or the build's last lines it "
        "quotes (between ⟨ and ⟩) show only to those who may read the project's logs.",
    )
    verify_until: datetime | None = strawberry.field(
        description="Until when the release is (or was) watched after its rollout; null "
        "when it is not watched."
    )
    created_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    app_id: strawberry.Private[int]
    version_id: strawberry.Private[int]
    rolled_back_by_id: strawberry.Private[int | None]
    stored_error: strawberry.Private[str | None]

    @classmethod
    def from_model(cls, release: models.Release) -> Self:
        return from_row(
            cls,
            release,
            status=ReleaseStatus(release.status.value),
            source_commit=SourceCommit.of(release),
            duration_ms=_duration_ms(release.created_at, release.finished_at),
            version_id=release.dockerfile_version_id,  # type: ignore[attr-defined]
            instance_url=release.url,
            stored_error=release.error,
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

    @strawberry.field(
        description="The release home-idp started to roll this one back automatically, if it did."
    )
    async def rolled_back_by(self, info: Info) -> Release | None:
        if self.rolled_back_by_id is None:
            return None
        rollback = await info.context.loaders.release.load(self.rolled_back_by_id)
        if rollback is None or not await Release.visible_to(info, rollback):
            return None
        return Release.from_model(rollback)

    @strawberry.field(description="The steps in order.")
    async def steps(self, info: Info) -> list[ReleaseStep]:
        steps = await info.context.loaders.steps_of_release.load(self.id)
        return [
            ReleaseStep.from_model(step, await shown_to(info, self.app_id, step.error))
            for step in steps
        ]

    @strawberry.field
    async def app(self, info: Info) -> App:
        app = await readable_app(info, self.app_id, "app")
        if app is None:
            raise NotFound("no such app")
        return App.from_model(app)

    @strawberry.field(description="The Dockerfile version this release ships.")
    async def dockerfile_version(self, info: Info) -> DockerfileVersion:
        version = await info.context.loaders.dockerfile_version.load(self.version_id)
        if version is None or not await DockerfileVersion.visible_to(info, version):
            raise NotFound("no such Dockerfile version")
        return DockerfileVersion.from_model(version)

    row_model = models.Release

    @classmethod
    async def visible_to(cls, info: Info, release: models.Release) -> bool:
        return await readable_app(info, release.app_id, "release") is not None  # type: ignore[attr-defined]


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
    def from_model(cls, event: models.ReleaseEvent, message: str) -> Self:
        """`message`: the event's message as the caller may see it (`shown_to`)."""
        return from_row(
            cls,
            event,
            release_id=relay.GlobalID("Release", str(event.release_id)),  # type: ignore[attr-defined]
            message=message,
            sequence=event.id,
        )


@strawberry.type(description="What a release changes in its app's manifests in git.")
class ReleasePlan:
    folder: str = strawberry.field(description="The manifests folder in the platform repo.")
    diff: str = strawberry.field(description="A unified diff; empty when nothing changes.")
    files: list[str] = strawberry.field(description="The files the release renders.")


@strawberry.type(description="One line a build printed; secrets are masked.")
class BuildLogLine(FromRow):
    seq: int = strawberry.field(description="Counts up per release, across retries.")
    step: str
    text: str
    created_at: datetime

    @strawberry.field(description="Pass as `after` to resume from here.")
    def cursor(self) -> str:
        return encode_cursor(self.seq)


@strawberry.type(description="One webhook request as received, and what came of it.")
class WebhookDelivery(VisibleNode):
    id: relay.NodeID[int]
    source: str = strawberry.field(description="git or registry.")
    event: str
    delivery_id: str = strawberry.field(description="The sender's delivery id.")
    signature_ok: bool
    outcome: str = strawberry.field(description="accepted, duplicate, ignored, rejected or failed.")
    detail: str
    headers: JSON
    received_at: datetime
    processed_at: datetime | None
    redelivery_of_id: strawberry.Private[int | None]

    @strawberry.field(description="The delivery this one repeats, if it is a redelivery.")
    def redelivery_of(self) -> relay.GlobalID | None:
        if self.redelivery_of_id is None:
            return None
        return relay.GlobalID("WebhookDelivery", str(self.redelivery_of_id))

    @classmethod
    def from_model(cls, delivery: deploy_models.WebhookDelivery) -> Self:
        return from_row(
            cls, delivery, outcome=delivery.outcome.value, headers=cast(JSON, delivery.headers)
        )

    row_model = deploy_models.WebhookDelivery

    @classmethod
    async def visible_to(cls, info: Info, delivery: deploy_models.WebhookDelivery) -> bool:
        return info.context.principal.is_admin


@strawberry.type(
    description="An object that runs an app: Deployment, Pod, Service, Ingress, ConfigMap, "
    "Secret, or a Container in local mode."
)
class AppResource:
    kind: str
    name: str
    status: str = strawberry.field(description="A short summary of its state.")
    ready: bool | None
    phase: str | None = strawberry.field(description="A pod's phase or a container's state.")
    restarts: int | None
    release: int | None = strawberry.field(description="The release it belongs to, if known.")
    keys: list[str] = strawberry.field(
        description="A ConfigMap's or Secret's keys (never a Secret's values); a container's "
        "mounted files."
    )
    created_at: str | None

    @classmethod
    def from_plugin(cls, found: deployer_contract.AppResource) -> Self:
        return from_row(cls, found, keys=list(found.keys))


@strawberry.type(description="One line an app wrote; secrets are masked.")
class AppLogLine:
    source: str = strawberry.field(description="The pod (or container) that wrote it.")
    text: str
