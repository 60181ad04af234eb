"""Releases: saving a Dockerfile starts one; users follow, cancel and retry them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from home_idp.plugins.git.contract import GitPlugin
from home_idp.server.apps.dockerfiles import DockerfileService
from home_idp.server.apps.fields import validate_source_ref
from home_idp.server.apps.models import App, DockerfileVersion
from home_idp.server.apps.service import AppService
from home_idp.server.apps.source_reader import RefNotFound, SourceProblem, SourceReader
from home_idp.server.deploy.deploy_steps import (
    current_manifests,
    manifests_folder,
    pinned_image,
    render_release_manifests,
)
from home_idp.server.deploy.manifests import manifest_diff
from home_idp.server.deploy.release_plans import (
    RELEASE_PLAN,
    ROLLBACK_PLAN,
    next_release_number,
)
from home_idp.server.deploy.release_settings import secrets_gone_for
from home_idp.server.deploy.source_releases import start_source_release
from home_idp.server.errors import Conflict, NotFound, ValidationFailed
from home_idp.server.pipeline.engine import Engine
from home_idp.server.pipeline.models import (
    Release,
    ReleaseEvent,
    ReleaseStatus,
    ReleaseStep,
    StepState,
)
from home_idp.server.rbac.audit import AuditLog
from home_idp.server.rbac.authz import Authorizer

__all__ = ["RELEASE_PLAN", "ROLLBACK_PLAN", "ReleasePlan", "ReleaseService"]

_FINISHED_STEP_STATES = (StepState.SUCCEEDED, StepState.FAILED, StepState.CANCELLED)


async def _renders_later(app: App) -> bool:
    """Whether a running release of the app has yet to start rendering its manifests
    (one rendering now may have read the config as it was)."""
    return await ReleaseStep.exists(
        release__app_id=app.id,
        release__status=ReleaseStatus.RUNNING,
        name="manifests",
        state=StepState.PENDING,
    )


async def _newest_image(app: App) -> Release | None:
    """The newest release of the app with an image that has not failed: what a config
    change ships with (a release still rolling out a newer image than the live one
    must not be undone by it)."""
    return (
        await Release.filter(app_id=app.id, digest__not_isnull=True)
        .exclude(status__in=[ReleaseStatus.FAILED, ReleaseStatus.CANCELLED])
        .order_by("-number")
        .first()
    )


@dataclass(frozen=True)
class ReleasePlan:
    """A release's manifests change: a unified diff of its folder, and its files."""

    folder: str
    diff: str
    files: list[str]


@dataclass(frozen=True)
class ReleaseService:
    """Release operations for one caller, checked against the app's project."""

    authz: Authorizer
    audit: AuditLog
    engine: Engine
    apps: AppService
    dockerfiles: DockerfileService
    git: GitPlugin
    probe: SourceReader
    # The cert-manager issuer the manifests name (DeployerSettings.tls_cluster_issuer).
    tls_cluster_issuer: str = ""

    async def save_dockerfile(
        self, app_id: int, content: str, message: str
    ) -> tuple[DockerfileVersion, Release]:
        """Store a new Dockerfile version and start its release."""
        app = await self.apps.get(app_id, "create", "dockerfile")
        await self.authz.require("release", "create", app.project.name)
        author = self.authz.require_write().username
        draft = await self.dockerfiles.draft(content, message)
        async with in_transaction():
            # The app's row lock numbers versions and releases one save at a time.
            locked = await App.filter(id=app.id).select_for_update().get()
            locked.project = app.project
            version = await self.dockerfiles.store(locked, draft, author)
            release = await Release.create(
                app=locked,
                number=await next_release_number(app.id),
                dockerfile_version=version,
                trigger="dockerfile",
                created_by=author,
            )
            events = await self.engine.plan(release, RELEASE_PLAN)
            await self.audit.record_app(
                self.authz.principal,
                "dockerfile.save",
                app.project.name,
                app.name,
                {"version": version.number, "release": release.number},
            )
        await self.engine.committed(events)
        return version, release

    async def deploy(self, app_id: int, ref: str | None) -> Release:
        """Build the newest commit of `ref` (the app's branch when None) with the app's
        current Dockerfile and settings: "deploy now"."""
        app = await self.apps.get(app_id)
        self.authz.require_write()
        await self.authz.require("release", "create", app.project.name)
        if ref is not None:
            validate_source_ref(ref, "ref")
        try:
            sha = await self.probe.head(app, ref)
            commit = await self.probe.describe(app, sha, since=None)
        except RefNotFound as missing:
            raise ValidationFailed.for_field("ref", str(missing)) from None
        except SourceProblem as problem:
            raise Conflict(f"the source repository cannot be read: {problem}") from None
        release = await start_source_release(
            self.engine,
            app,
            commit,
            trigger=f"deploy {ref or app.source_ref}",
            by=self.authz.principal.username,
        )
        assert release is not None  # only a `once` release can be skipped
        await self.audit.record_app(
            self.authz.principal,
            "release.deploy",
            app.project.name,
            app.name,
            {"ref": ref or app.source_ref, "sha": sha, "release": release.number},
        )
        return release

    async def rollback(self, app_id: int, release_id: int) -> Release:
        """Deploy an earlier release's exact image again, with the settings it had, as a
        new release (and commit); its secrets' values are the ones stored now."""
        app = await self.apps.get(app_id)
        self.authz.require_write()
        await self.authz.require("release", "deploy", app.project.name)
        target = await self.get(release_id)
        if target.app_id != app.id:  # type: ignore[attr-defined]
            raise NotFound("no such release of this app")
        if target.status is not ReleaseStatus.SUCCEEDED or target.digest is None:
            raise Conflict(
                f"release #{target.number} is {target.status.value}; only a release "
                "that succeeded can be rolled back to"
            )
        gone = await secrets_gone_for(target, app)
        if gone is not None:
            raise Conflict(
                f"release #{target.number} cannot be rolled back to: {gone}; "
                f"set {gone.them} again first"
            )
        return await self._redeploy(
            app,
            target,
            trigger=f"rollback to #{target.number}",
            action="release.rollback",
            detail={"to": target.number},
            # A release from before settings were kept has none: it takes the app's now.
            settings=target.settings,
        )

    async def redeploy_config(self, apps: list[App], change: str) -> list[Release]:
        """Config-only releases: each app's newest image again, with its config as it is now.

        No rebuild: the manifests are rendered anew and the same digest rolls
        out. An app with nothing live gets none, nor one whose running release
        has yet to render its manifests (it takes the new config itself), nor
        one the caller may not deploy.
        """
        started = []
        for app in apps:
            if app.live_release_id is None or not await self.authz.can(
                "release", "deploy", app.project.name
            ):
                continue
            if await _renders_later(app):
                continue
            newest = await _newest_image(app)
            if newest is None:
                continue
            started.append(
                await self._redeploy(
                    app,
                    newest,
                    trigger=f"config: {change}"[:32],
                    action="release.config",
                    detail={"change": change},
                    # Its manifests step takes the settings as they are now: the point.
                    settings=None,
                )
            )
        return started

    async def _redeploy(
        self,
        app: App,
        source: Release,
        *,
        trigger: str,
        action: str,
        detail: dict[str, object],
        settings: dict[str, Any] | None = None,
    ) -> Release:
        """A new release that ships `source`'s exact image, from its manifests step on,
        with `settings` (a release's snapshot) or, when None, the app's as its manifests
        step finds them."""
        author = self.authz.principal.username
        async with in_transaction():
            locked = await App.filter(id=app.id).select_for_update().get()
            locked.project = app.project
            release = await Release.create(
                app=locked,
                number=await next_release_number(app.id),
                dockerfile_version_id=source.dockerfile_version_id,  # type: ignore[attr-defined]
                trigger=trigger,
                created_by=author,
                commit_sha=source.commit_sha,
                image=source.image,
                digest=source.digest,
                settings=settings,
            )
            events = await self.engine.plan(release, ROLLBACK_PLAN)
            await self.audit.record_app(
                self.authz.principal,
                action,
                app.project.name,
                app.name,
                {**detail, "release": release.number},
            )
        await self.engine.committed(events)
        release.app = locked
        return release

    async def plan(self, release_id: int) -> ReleasePlan:
        """The change the release makes (or made) to its app's manifests in git."""
        release = await self.get(release_id)
        await self.authz.require("release", "read", release.app.project.name)
        folder = manifests_folder(release.app.project.name, release.app.name)
        if release.manifests is not None and release.manifests_before is not None:
            before, after = release.manifests_before, release.manifests
        else:
            # Not rendered yet: what it would commit now; the digest comes with the build.
            image = (
                pinned_image(release.image, release.digest)
                if release.image and release.digest
                else f"{release.app.project.name}/{release.app.name}@<digest of the build>"
            )
            before = await current_manifests(self.git, folder)
            after = await render_release_manifests(release, image, self.tls_cluster_issuer)
        return ReleasePlan(folder, manifest_diff(before, after, folder), sorted(after))

    async def get(self, release_id: int) -> Release:
        release = await Release.get_or_none(id=release_id).prefetch_related("app__project")
        if release is None or not await self.authz.can("release", "read", release.app.project.name):
            raise NotFound("no such release")
        return release

    async def of_app(self, app: App) -> QuerySet[Release]:
        await self.authz.require("release", "read", app.project.name)
        return Release.filter(app_id=app.id)

    @staticmethod
    async def steps(release: Release) -> list[ReleaseStep]:
        return await ReleaseStep.filter(release_id=release.id).order_by("position")

    async def cancel(self, release_id: int) -> Release:
        release = await self._for_change(release_id)
        principal = self.authz.principal
        result = await self.engine.cancel(release.id, principal.username)
        await self._record("release.cancel", release)
        return result

    async def retry(self, release_id: int) -> Release:
        release = await self._for_change(release_id)
        result = await self.engine.retry(release.id, self.authz.principal.username)
        await self._record("release.retry", release)
        return result

    async def for_build_log(self, release_id: int) -> Release:
        """The release, if the caller may read its build log."""
        release = await self.get(release_id)
        await self.authz.require("log", "read", release.app.project.name)
        return release

    @staticmethod
    async def build_finished(release: Release) -> bool:
        """Whether the release's build is over (or will not run any more)."""
        await release.refresh_from_db(fields=["status"])
        if release.status is not ReleaseStatus.RUNNING:
            return True
        step = await ReleaseStep.get_or_none(release_id=release.id, name="build")
        return step is None or step.state in _FINISHED_STEP_STATES

    async def events_visible(self, release: Release) -> None:
        """Raise unless the caller may follow this release's events."""
        await self.authz.require("release", "read", release.app.project.name)

    async def app_for_events(self, app_id: int) -> App:
        app = await self.apps.get(app_id)
        await self.authz.require("release", "read", app.project.name)
        return app

    @staticmethod
    def events_after(
        *, release_id: int | None, app_id: int | None, after: int | None
    ) -> QuerySet[ReleaseEvent]:
        query = ReleaseEvent.filter(id__gt=after or 0)
        if release_id is not None:
            query = query.filter(release_id=release_id)
        if app_id is not None:
            query = query.filter(app_id=app_id)
        return query.order_by("id")

    async def _for_change(self, release_id: int) -> Release:
        release = await self.get(release_id)
        self.authz.require_write()
        await self.authz.require("release", "deploy", release.app.project.name)
        return release

    async def _record(self, action: str, release: Release) -> None:
        await self.audit.record(
            self.authz.principal,
            action,
            f"release:{release.app.project.name}/{release.app.name}#{release.number}",
            project=release.app.project.name,
        )
