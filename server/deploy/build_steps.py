"""Release steps of the image: `build` it and push it, `await-image` its registry webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from opentelemetry.trace import Status, StatusCode

from home_idp.plugins.builder.contract import (
    BuilderPlugin,
    BuildError,
    BuildHandle,
    BuildRequest,
    BuildResult,
    GitSource,
)
from home_idp.plugins.registry.contract import (
    ProjectAccess,
    RegistryError,
    RegistryPlugin,
    RegistryUnavailable,
)
from home_idp.plugins.support.log_excerpt import quote_log_lines
from home_idp.plugins.support.tracing import trace_env, tracer
from home_idp.server.apps.config import app_secret_values
from home_idp.server.apps.models import App
from home_idp.server.apps.source_hosts import SourceHostPolicy, UnresolvableSource
from home_idp.server.apps.source_reader import SourceProblem, SourceReader
from home_idp.server.deploy.app_source import SourceNotUsable, build_source
from home_idp.server.deploy.build_logs import BuildLog, BuildLogWriter
from home_idp.server.deploy.models import RegistryPush
from home_idp.server.deploy.platform_repo import app_path
from home_idp.server.deploy.registry_access import RegistryAccounts, image_tag
from home_idp.server.deploy.source_releases import source_fields
from home_idp.server.deploy.webhook_spans import trace_early_delivery
from home_idp.server.errors import ValidationFailed
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.pipeline.steps import Done, Fail, NeverParks, Outcome, Retry, StepContext, Wait
from home_idp.server.secret_box import SecretBox

__all__ = ["AwaitImageStep", "BuildStep", "steps_waiting_for_image"]

log = logging.getLogger(__name__)

_ERROR_LINES = 10


def _repository(context: StepContext) -> str:
    return f"{context.project}/{context.app}"


@dataclass(frozen=True)
class BuildStep(NeverParks):
    """Builds the app's image from its source repo with the committed Dockerfile, and pushes it.

    Idempotent: the tag is unique to the release, and a registry only shows
    a tag once its whole manifest is pushed, so an earlier attempt's tag in
    the registry is a finished build to reuse; anything less is built again
    from a clean start.
    """

    builder: BuilderPlugin
    registry: RegistryPlugin
    accounts: RegistryAccounts
    logs: BuildLog
    secret_box: SecretBox
    # The platform repo at a commit, with credentials a builder can clone it with.
    platform_source: Callable[[str], GitSource]
    source_hosts: SourceHostPolicy
    # Finds the source commit of a release that was not started from one.
    probe: SourceReader
    timeout_seconds: float
    cancel_check_seconds: float = 0.5
    name: str = "build"

    async def run(self, context: StepContext) -> Outcome:
        release = context.release
        await release.refresh_from_db(fields=["commit_sha", "source_sha"])
        if release.commit_sha is None:
            return Fail("the commit step recorded no commit")
        if release.source_sha is None:
            await self._find_source_commit(release)
        repository = _repository(context)
        tag = image_tag(release.number, release.commit_sha, release.source_sha)
        image = f"{self.registry.host}/{repository}:{tag}"
        try:
            pushed = await self.registry.tag_digest(repository, tag)
            if pushed is not None:
                await _record_image(release, image, pushed)
                return Done({"image": image, "digest": pushed, "reused": True})
            access = await self.accounts.for_project(release.app.project)
        except RegistryUnavailable as error:
            return Retry(f"the registry is unreachable: {error}")
        except RegistryError as error:
            return Fail(f"the registry refused: {error}")
        with tracer(__name__).start_as_current_span(
            "build image",
            attributes={"home_idp.image": image, "home_idp.builder": type(self.builder).__name__},
        ) as span:
            outcome = await self._build_and_push(release, context, image, access)
            digest = outcome.detail.get("digest") if isinstance(outcome, Done) else None
            if digest:
                span.set_attribute("home_idp.digest", str(digest))
            elif isinstance(outcome, Retry | Fail):
                span.set_status(Status(StatusCode.ERROR, outcome.reason.partition("\n")[0]))
            return outcome

    async def _find_source_commit(self, release: Release) -> None:
        """Record the commit the app's branch points at now, and build that one.

        A source that cannot be asked is built by its ref as before: the
        builder's own fetch then says what is wrong with it.
        """
        app = release.app
        try:
            sha = await self.probe.head(app)
            commit = await self.probe.describe(app, sha, since=None)
        except SourceProblem as problem:
            log.info("release %s: no source commit found first (%s)", release.id, problem)
            return
        fields = source_fields(commit)
        await Release.filter(id=release.id).update(**fields)
        release.update_from_dict(fields)
        # Polling compares with the newest commit built.
        await App.filter(id=app.id).update(source_seen_sha=commit.sha)

    async def _build_and_push(
        self, release: Release, context: StepContext, image: str, access: ProjectAccess
    ) -> Outcome:
        assert release.commit_sha is not None
        app = release.app
        platform = self.platform_source(release.commit_sha)
        try:
            source = await build_source(app, self.source_hosts, self.secret_box)
        except (ValidationFailed, SourceNotUsable) as refused:
            return Fail(f"the source repository cannot be fetched: {refused}")
        except UnresolvableSource as error:
            return Retry(str(error))
        # The commit the release was started for, not whatever the branch is now.
        fetched = replace(source.source, ref=release.source_sha or source.source.ref)
        request = BuildRequest(
            build_id=f"build-{release.id}",
            namespace=context.project,
            source=fetched,
            platform=platform,
            dockerfile_path=app_path(context.project, context.app, "Dockerfile"),
            image=image,
            push_credentials=access.push,
            insecure_registry=self.registry.insecure,
            # TRACEPARENT: a build that emits spans joins the release's trace.
            env={"HOME_IDP_RELEASE": str(release.id), **trace_env()},
        )
        secrets = [
            *(await app_secret_values(app, self.secret_box)).values(),
            *(account.password for account in (access.push, access.pull) if account),
            *(value for value in (platform.password,) if value),
            *source.secrets,
        ]
        writer = await self.logs.writer(release.id, self.name, secrets)
        try:
            result = await self._build(context.step, request, writer)
        finally:
            await writer.close()
        if result.succeeded:
            assert result.digest is not None
            await _record_image(release, image, result.digest)
            return Done({"image": image, "digest": result.digest})
        reason = writer.mask(result.reason)
        last = writer.last_lines(_ERROR_LINES)
        message = f"{reason}; last lines:\n" + quote_log_lines(last, "\n") if last else reason
        return Retry(message) if result.retryable else Fail(message)

    async def _build(
        self, step: ReleaseStep, request: BuildRequest, writer: BuildLogWriter
    ) -> BuildResult:
        try:
            handle = await self.builder.start(request)
        except BuildError as error:
            return BuildResult(None, f"the build could not start: {error}")
        pump = asyncio.create_task(_pump(handle, writer))
        watch = asyncio.create_task(self._stop_when_cancelled(step, handle))
        try:
            result = await handle.result()
            await pump
            return result
        except asyncio.CancelledError:
            # The step's deadline passed or the server is stopping: no
            # build may go on pushing on its own.
            await handle.cancel()
            raise
        finally:
            for task in (pump, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _stop_when_cancelled(self, step: ReleaseStep, handle: BuildHandle) -> None:
        """Cancelling a release (from any replica) stops its build.

        The step's own row is what tells: a release cancelled and retried
        between two looks is running again, but this attempt of the step is
        over (cancelled, then pending again with its attempts reset), and
        must not hold the worker or push an image.
        """
        while True:
            await asyncio.sleep(self.cancel_check_seconds)
            now = await ReleaseStep.get_or_none(id=step.id).only("id", "state", "attempts")
            if now is None or now.state is not StepState.RUNNING or now.attempts != step.attempts:
                log.info("build step %s was cancelled: stopping its build", step.id)
                await handle.cancel()
                return

    def deadline_reason(self, context: StepContext) -> str:
        return (
            f"the image build did not finish within {self.timeout_seconds:g}s; "
            "see the build log for where it stopped"
        )


async def _pump(handle: BuildHandle, writer: BuildLogWriter) -> None:
    async for line in handle.log_lines():
        try:
            await writer.write(line)
        except Exception:  # a log that cannot be stored must not fail the build
            log.exception("could not store a build log line")


async def _record_image(release: Release, image: str, digest: str) -> None:
    await Release.filter(id=release.id).update(image=image, digest=digest)
    release.image, release.digest = image, digest


@dataclass(frozen=True)
class AwaitImageStep:
    """Waits for the registry's push webhook of the release's image.

    The webhook advances it at once; the reconciler asks the registry for
    the tag, so a lost webhook costs one reconcile interval.
    """

    registry: RegistryPlugin
    timeout_seconds: float
    name: str = "await-image"

    async def run(self, context: StepContext) -> Outcome:
        release = context.release
        await release.refresh_from_db(fields=["image", "digest"])
        if release.image is None or release.digest is None:
            return Fail("the build step recorded no image")
        repository, tag = _split(release.image)
        push = await RegistryPush.get_or_none(
            repository=repository, tag=tag, digest=release.digest
        ).select_related("delivery")
        if push is not None:
            # The webhook came while the build step was still finishing.
            trace_early_delivery(push.delivery)
            return Done({"digest": release.digest, "advanced_by": "webhook"})
        build = await ReleaseStep.get_or_none(release_id=release.id, name=BuildStep.name)
        if build is not None and build.detail.get("reused"):
            # An earlier attempt pushed it; its webhook may have come long ago.
            return Done({"digest": release.digest, "advanced_by": "already in the registry"})
        return Wait(f"waiting for the registry's push webhook of {release.image}")

    async def check(self, context: StepContext) -> Outcome | None:
        release = context.release
        await release.refresh_from_db(fields=["image", "digest"])
        if release.image is None or release.digest is None:
            return Fail("the build step recorded no image")
        repository, tag = _split(release.image)
        digest = await self.registry.tag_digest(repository, tag)
        if digest is None:
            return None
        if digest != release.digest:
            return Fail(
                f"the tag {tag} now points at {digest[:19]}, not the built {release.digest[:19]}; "
                "something else pushed over it"
            )
        return Done({"digest": digest})

    def deadline_reason(self, context: StepContext) -> str:
        return (
            f"no push webhook for {context.release.image} arrived within "
            f"{self.timeout_seconds:g}s and the registry does not have the tag; check the "
            "registry's notifications (Webhook deliveries) and that it is reachable"
        )


def _split(image: str) -> tuple[str, str]:
    """`host/project/app:tag` → (`project/app`, `tag`)."""
    _, _, path = image.partition("/")
    repository, _, tag = path.rpartition(":")
    return repository, tag


async def steps_waiting_for_image(host: str, repository: str, tag: str, digest: str) -> list[int]:
    """Ids of the await-image steps waiting for this push."""
    steps: list[int] = await ReleaseStep.filter(
        name=AwaitImageStep.name,
        state=StepState.WAITING,
        release__status=ReleaseStatus.RUNNING,
        release__image=f"{host}/{repository}:{tag}",
        release__digest=digest,
    ).values_list("id", flat=True)  # type: ignore[assignment]  # flat: one column
    return steps
