"""Release steps of the deployment: commit the `manifests`, `sync` them, watch the `rollout`.

Between `manifests` and `sync` the release waits for the manifests' push
webhook (`await-manifest-push`, the git wait of `git_steps`), so the GitOps
engine and home-idp act on the same commit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from home_idp.plugins.deployer.contract import (
    AppDeployment,
    ConfigFile,
    DeployerPlugin,
    DeployError,
    DeployUnavailable,
    RolloutState,
)
from home_idp.plugins.git.contract import CommitAuthor, GitError, GitPlugin
from home_idp.plugins.registry.contract import RegistryError, RegistryUnavailable
from home_idp.plugins.support.tracing import tracer
from home_idp.server.apps.models import App
from home_idp.server.deploy.git_steps import PlatformCommitStep
from home_idp.server.deploy.manifests import (
    MANIFEST_FILES,
    AppManifestInput,
    FileMount,
    render_manifests,
)
from home_idp.server.deploy.platform_repo import app_path
from home_idp.server.deploy.registry_access import RegistryAccounts
from home_idp.server.deploy.release_settings import (
    MissingSecrets,
    missing_secrets,
    secret_values,
    settings_for,
    snapshot_of,
)
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep
from home_idp.server.pipeline.steps import Done, Fail, NeverParks, Outcome, Retry, StepContext
from home_idp.server.secret_box import SecretBox

__all__ = [
    "DeploymentSource",
    "ManifestsStep",
    "RolloutStep",
    "SyncStep",
    "current_manifests",
    "manifests_folder",
    "pinned_image",
    "render_release_manifests",
]

_AUTHOR = CommitAuthor("home-idp", "home-idp@users.home-idp")


def pinned_image(image: str, digest: str) -> str:
    """`host/project/app:tag` at `digest` → `host/project/app@sha256:…` (what runs)."""
    repository, _, _ = image.rpartition(":")
    return f"{repository}@{digest}"


def manifests_folder(project: str, app: str) -> str:
    return app_path(project, app, "manifests")


async def render_release_manifests(
    release: Release, image: str, tls_cluster_issuer: str | None = None
) -> dict[str, str]:
    """The manifests of `release` (its app loaded) running `image`, with its settings
    (and the server's cert-manager issuer for an app with an ingress host)."""
    app = release.app
    settings = await settings_for(release)
    spec = AppManifestInput(
        project=app.project.name,
        app=app.name,
        release=release.number,
        image=image,
        port=settings.port,
        replicas=settings.replicas,
        health_path=settings.health_path,
        env=settings.env,
        secret_names=settings.secret_names,
        ingress_host=settings.ingress_host,
        files=[FileMount(f.name, f.mount_path, f.content) for f in settings.files],
        tls_cluster_issuer=tls_cluster_issuer or None,
    )
    return render_manifests(spec)


async def current_manifests(git: GitPlugin, folder: str) -> dict[str, str]:
    """What the platform branch holds in an app's manifests folder now."""
    head = await git.head()
    if head is None:
        return {}
    found: dict[str, str] = {}
    for name in MANIFEST_FILES:
        content = await git.read_file(f"{folder}/{name}", head)
        if content is not None:
            found[name] = content.decode()
    return found


async def _newer_release_with_manifests(release: Release) -> int | None:
    """The number of a later release of the app that committed manifests, if any."""
    newer = (
        await Release.filter(
            app_id=release.app.id, number__gt=release.number, manifests_sha__not_isnull=True
        )
        .exclude(status__in=[ReleaseStatus.FAILED, ReleaseStatus.CANCELLED])
        .order_by("-number")
        .first()
    )
    return newer.number if newer else None


async def _make_live(release: Release) -> int | None:
    """`release` serves now, unless a later release of the app already does; the id of
    the release it replaced (what an automatic rollback goes back to), if any."""
    async with in_transaction():
        app = await App.filter(id=release.app.id).select_for_update().get()
        replaced = app.live_release_id
        if replaced is not None and replaced != release.id:
            live = await Release.get_or_none(id=replaced).only("id", "number")
            if live is not None and live.number > release.number:
                return None
        app.live_release_id = release.id
        await app.save(update_fields=["live_release_id"])
    return replaced if replaced != release.id else None


@dataclass(frozen=True)
class ManifestsStep(PlatformCommitStep):
    """Renders the app's manifests with the image pinned by digest and commits what changed."""

    name: str = "manifests"
    commits = "the manifests"
    tls_cluster_issuer: str = ""

    async def run(self, context: StepContext) -> Outcome:
        release = context.release
        await release.refresh_from_db(fields=["image", "digest", "manifests_before", "settings"])
        if release.image is None or release.digest is None:
            return Fail("the build recorded no image")
        newer = await _newer_release_with_manifests(release)
        if newer is not None:
            # Committing now would put an older image back over a newer one.
            return Fail(f"release #{newer} of this app already has newer manifests")
        if release.settings is None:
            # The app's settings now are the release's; kept before the commit, so a
            # re-run renders what was committed even if they changed meanwhile.
            snapshot = (await snapshot_of(release.app)).to_json()
            await Release.filter(id=release.id).update(settings=snapshot)
            release.settings = snapshot
        missing = await missing_secrets(await settings_for(release), release.app)
        if missing:
            # A rollback's settings name a secret deleted since: its app would not start.
            gone = MissingSecrets(missing)
            return Fail(f"{gone}; set {gone.them} again to deploy this release")
        folder = manifests_folder(context.project, context.app)
        try:
            before = await current_manifests(self.git, folder)
            if release.manifests_before is None:
                # Kept before the commit: a re-run after it would see no change.
                await Release.filter(id=release.id).update(manifests_before=before)
                release.manifests_before = before
            rendered = await render_release_manifests(
                release, pinned_image(release.image, release.digest), self.tls_cluster_issuer
            )
            changes: dict[str, bytes | None] = {
                f"{folder}/{name}": text.encode()
                for name, text in rendered.items()
                if before.get(name) != text
            }
            changes.update({f"{folder}/{name}": None for name in before if name not in rendered})
            message = (
                f"{context.project}/{context.app}: manifests of release #{release.number}\n\n"
                f"image {pinned_image(release.image, release.digest)}\n"
            )
            # Nothing changed (a re-run after a commit that landed): no commit.
            result = None
            if changes:
                with tracer(__name__).start_as_current_span(
                    "git commit", attributes={"home_idp.git.files": len(changes)}
                ) as span:
                    result = await self.git.commit_files(changes, _AUTHOR, message)
                    span.set_attribute("home_idp.git.sha", result.sha)
            sha = result.sha if result else await self.git.head()
        except GitError as error:
            return self.retry(error)
        if sha is None:
            return Retry("the platform branch has no commit yet")
        await Release.filter(id=release.id).update(manifests_sha=sha, manifests=rendered)
        release.manifests_sha = sha
        return Done(
            {"sha": sha, "new_commit": bool(result and result.changed), "files": sorted(changes)}
        )


@dataclass(frozen=True)
class DeploymentSource:
    """Makes the AppDeployment of a release: what every deployer is given."""

    accounts: RegistryAccounts
    secret_box: SecretBox

    async def of(self, release: Release) -> AppDeployment:
        await release.refresh_from_db(
            fields=["image", "digest", "manifests_sha", "manifests", "settings"]
        )
        if release.image is None or release.digest is None or release.manifests_sha is None:
            raise DeployError("the release has no image or manifests yet")
        app = release.app
        # The build made the project's accounts; no registry call on this path.
        access = await self.accounts.stored(app.project)
        settings = await settings_for(release)
        try:
            secrets = await secret_values(settings, app, self.secret_box)
        except MissingSecrets as missing:
            raise DeployError(str(missing)) from None
        return AppDeployment(
            project=app.project.name,
            app=app.name,
            release=release.number,
            image=pinned_image(release.image, release.digest),
            port=settings.port,
            replicas=settings.replicas,
            health_path=settings.health_path,
            env=settings.env,
            manifests_path=manifests_folder(app.project.name, app.name),
            commit_sha=release.manifests_sha,
            manifests=dict(release.manifests or {}),
            secrets=secrets,
            pull_credentials=access.pull if access else None,
            files=tuple(ConfigFile(f.name, f.mount_path, f.content) for f in settings.files),
        )


@dataclass(frozen=True)
class SyncStep(NeverParks):
    """Hands the release to the deployer (Argo CD sync, server-side apply, a container)."""

    deployer: DeployerPlugin
    source: DeploymentSource
    timeout_seconds: float
    name: str = "sync"

    async def run(self, context: StepContext) -> Outcome:
        try:
            deployment = await self.source.of(context.release)
            with tracer(__name__).start_as_current_span(
                "deploy sync",
                attributes={
                    "home_idp.deployer": type(self.deployer).__name__,
                    "home_idp.image": deployment.image,
                },
            ):
                await self.deployer.sync(deployment)
        except (DeployUnavailable, RegistryUnavailable) as error:
            return Retry(f"the deployment target is unreachable: {error}")
        except (DeployError, RegistryError) as error:
            return Fail(f"the deployer refused: {error}")
        return Done({"image": deployment.image, "commit": deployment.commit_sha})

    def deadline_reason(self, context: StepContext) -> str:
        return (
            f"could not hand the release to the deployer within {self.timeout_seconds:g}s; "
            "check that the deployment target is reachable"
        )


# How long the rollout waits before its second look; each later one waits twice
# as long, up to the poll interval.
_FIRST_LOOK_SECONDS = 0.05


@dataclass(frozen=True)
class RolloutStep(NeverParks):
    """Waits until the release is ready; then it is the app's live release.

    A failed rollout fails the release with the deployer's reason; the
    release that was live before keeps serving (deployers replace it only
    once the new one is ready).
    """

    deployer: DeployerPlugin
    source: DeploymentSource
    timeout_seconds: float
    poll_seconds: float
    name: str = "rollout"
    # A failed rollout removed the release's instance: a retry deploys it again.
    retried_from: str = "sync"

    async def run(self, context: StepContext) -> Outcome:
        release = context.release
        last_reason = ""
        # A new instance answers within a moment: look often at first, then
        # every `poll_seconds`, so that a quick start is seen quickly.
        delay = min(_FIRST_LOOK_SECONDS, self.poll_seconds)
        try:
            deployment = await self.source.of(release)
            while True:
                if not await Release.exists(id=release.id, status=ReleaseStatus.RUNNING):
                    # Cancelled meanwhile: the engine drops whatever this returns.
                    return Fail("the release is no longer running")
                status = await self.deployer.rollout_status(deployment)
                if status.state is RolloutState.READY:
                    await Release.filter(id=release.id).update(url=status.url)
                    replaced = await _make_live(release)
                    return Done({"url": status.url, "replaced": replaced})
                if status.state is RolloutState.FAILED:
                    return Fail(await self._failed(release, status.reason))
                if status.reason != last_reason:
                    # Kept on the step, so the deadline's message says what it waited for.
                    last_reason = status.reason
                    await ReleaseStep.filter(id=context.step.id).update(error=status.reason)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.poll_seconds)
        except (DeployUnavailable, RegistryUnavailable) as error:
            return Retry(f"the deployment target is unreachable: {error}")
        except (DeployError, RegistryError) as error:
            return Fail(f"the deployer refused: {error}")

    async def _failed(self, release: Release, reason: str) -> str:
        app = await App.get(id=release.app.id).only("id", "live_release_id")
        if app.live_release_id is not None and app.live_release_id != release.id:
            live = await Release.get_or_none(id=app.live_release_id).only("id", "number")
            if live is not None:
                return f"{reason}; release #{live.number} keeps serving"
        return reason

    def deadline_reason(self, context: StepContext) -> str:
        late = f"the release was not ready within {self.timeout_seconds:g}s"
        # The app as loaded when the step started: only a rollout makes a release live.
        live = context.release.app.live_release_id
        if live is None or live == context.release.id:
            return f"{late}; no earlier release of the app was serving"
        return f"{late}; the release before it keeps serving"
