"""What happens when a release fails after it reached the deployer.

A release that replaced a live one and then fails its rollout or the watch
after it is rolled back at once, when its app asks for it (the default): a
new release ships the replaced release's exact image again, made by
home-idp itself, audited, and recorded on the failed one. It is started in
the transaction that fails the release, so a crash cannot lose it.

Then, outside the database: the failed release's own instance is removed
(the container deployer's container; cluster deployers run whatever git
and the next release say), and, with no rollback, git gets the manifests
from before the failed release back in one commit, so it never keeps
pointing at a failed image, and the deployer is handed the release those
manifests are of: what runs follows git, as Argo CD would make it (the
kubernetes deployer applies them itself, or the failed Deployment would
stay applied).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from home_idp.plugins.deployer.contract import DeployerPlugin, DeployError
from home_idp.plugins.git.contract import CommitAuthor, GitError, GitPlugin
from home_idp.server.apps.models import App
from home_idp.server.deploy.deploy_steps import (
    DeploymentSource,
    current_manifests,
    manifests_folder,
)
from home_idp.server.deploy.release_plans import ROLLBACK_PLAN, next_release_number
from home_idp.server.deploy.release_settings import secrets_gone_for
from home_idp.server.deploy.stability import taken_over_by
from home_idp.server.pipeline.engine import Engine
from home_idp.server.pipeline.models import (
    Release,
    ReleaseEvent,
    ReleaseStatus,
    ReleaseStep,
)
from home_idp.server.rbac.audit import AuditLog

__all__ = ["AUTO_ROLLBACK_ACTOR", "AutoRollback"]

log = logging.getLogger(__name__)

# Who makes the releases and commits home-idp starts on its own.
AUTO_ROLLBACK_ACTOR = "home-idp"
_AUTHOR = CommitAuthor("home-idp", "home-idp@users.home-idp")
# Failures after these steps left the release's own instance at the deployer
# (a failed sync may have been refused a name another app holds: nothing of its own).
_ROLLED_OUT_STEPS = ("rollout", "verify")


@dataclass(frozen=True)
class AutoRollback:
    """The engine's failure hook for releases that reached the deployer."""

    engine: Engine
    audit: AuditLog
    deployer: DeployerPlugin
    source: DeploymentSource
    git: GitPlugin

    async def release_failed(self, release: Release, step: ReleaseStep) -> list[ReleaseEvent]:
        """Start the rollback to the release `release` replaced, if its app wants one."""
        if step.name not in _ROLLED_OUT_STEPS:
            return []
        # Locked, as every release of the app is numbered under its row's lock.
        app = await App.filter(id=release.app.id).select_for_update().get()
        if await taken_over_by(release) is not None:
            # A newer release is deploying or serving: going back would undo it.
            return []
        target = await _replaced(release, step.name, app)
        if app.live_release_id == release.id:
            # Its instance is removed next: nothing serves until a rollback is live.
            await App.filter(id=app.id, live_release_id=release.id).update(live_release_id=None)
        if target is None or not app.auto_rollback or release.created_by == AUTO_ROLLBACK_ACTOR:
            # A failed automatic rollback is not rolled back in turn (its target
            # would be the same again, round after round).
            return []
        gone = await secrets_gone_for(target, app)
        if gone is not None:
            # It would fail at its manifests step: git gets the manifests back instead.
            release.error = f"{release.error}; no rollback to #{target.number}: {gone}"
            return []
        app.project = release.app.project
        rollback = await Release.create(
            app=app,
            number=await next_release_number(app.id),
            dockerfile_version_id=target.dockerfile_version_id,  # type: ignore[attr-defined]
            trigger=f"auto rollback to #{target.number}",
            created_by=AUTO_ROLLBACK_ACTOR,
            commit_sha=target.commit_sha,
            image=target.image,
            digest=target.digest,
            # The release rolled back to runs as it ran, with its settings.
            settings=target.settings,
        )
        rollback.app = app
        events = await self.engine.plan(rollback, ROLLBACK_PLAN)
        release.rolled_back_by_id = rollback.id
        release.error = (
            f"{release.error}; release #{rollback.number} rolls back to #{target.number}"
        )
        await self.audit.record_app(
            AUTO_ROLLBACK_ACTOR,
            "release.auto_rollback",
            app.project.name,
            app.name,
            {"failed": release.number, "to": target.number, "release": rollback.number},
        )
        return events

    async def after_failure(self, release_id: int, step: str) -> None:
        """Remove the failed release's own instance; without a rollback, put git's
        manifests back to what they were before it."""
        if step not in _ROLLED_OUT_STEPS:
            return
        release = await Release.get(id=release_id).prefetch_related("app__project")
        try:
            deployment = await self.source.of(release)
            await self.deployer.discard(deployment)
        except DeployError as error:
            log.warning("release %s failed; removing what runs it failed: %s", release_id, error)
        if release.rolled_back_by_id is None and await self._restore_manifests(release):
            await self._redeploy_replaced(release, step)

    async def _restore_manifests(self, release: Release) -> bool:
        """Whether git holds the manifests from before `release` again."""
        before, mine = release.manifests_before, release.manifests
        if not before or not mine:
            return False  # the app's first manifests: nothing to go back to
        project, app = release.app.project.name, release.app.name
        folder = manifests_folder(project, app)
        try:
            current = await current_manifests(self.git, folder)
            if current == before:
                return True  # put back already: this clean-up runs again after a restart
            if current != mine:
                return False  # a later commit moved on already
            changes: dict[str, bytes | None] = {
                f"{folder}/{name}": text.encode() for name, text in before.items()
            }
            changes.update({f"{folder}/{name}": None for name in mine if name not in before})
            message = (
                f"{project}/{app}: manifests from before release #{release.number}\n\n"
                f"release #{release.number} failed, and no rollback was started for it\n"
            )
            await self.git.commit_files(changes, _AUTHOR, message)
        except GitError as error:
            log.warning("could not put the manifests of %s/%s back: %s", project, app, error)
            return False
        return True

    async def _redeploy_replaced(self, release: Release, step: str) -> None:
        """Hand the deployer the release git's manifests are of again, and call it live."""
        app = await App.get(id=release.app.id)
        target = await _replaced(release, step, app)
        if target is None:
            return
        await target.fetch_related("app__project")
        try:
            await self.deployer.sync(await self.source.of(target))
        except DeployError as error:
            log.warning(
                "release %s failed; deploying release #%s again failed: %s",
                release.id,
                target.number,
                error,
            )
            return
        # A failed watch had taken the live mark off: the release before serves again.
        await App.filter(id=app.id, live_release_id=None).update(live_release_id=target.id)
        log.info(
            "release %s failed: release #%s runs again, as git says", release.id, target.number
        )


async def _replaced(release: Release, step: str, app: App) -> Release | None:
    """The release that served before `release` took over, if it succeeded (only a
    release that succeeded is one to go back to); `step` is the one it failed at."""
    if step == "rollout":
        # A failed rollout never became live: what is live now is what it replaced.
        replaced_id = app.live_release_id
    else:
        rollout = await ReleaseStep.get_or_none(release_id=release.id, name="rollout")
        replaced_id = rollout.detail.get("replaced") if rollout is not None else None
    if not isinstance(replaced_id, int) or replaced_id == release.id:
        return None
    return await Release.get_or_none(
        id=replaced_id,
        app_id=app.id,
        status=ReleaseStatus.SUCCEEDED,
        digest__not_isnull=True,
        number__lt=release.number,
    )
