"""Release steps on the platform repo: `commit` the Dockerfile, `await-push` its webhook.

The same wait serves the manifests' commit (`await-manifest-push`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from home_idp.plugins.git.contract import CommitAuthor, GitError, GitPlugin, GitUnavailable
from home_idp.plugins.support.tracing import tracer
from home_idp.server.apps.models import DockerfileVersion
from home_idp.server.deploy.models import GitPush
from home_idp.server.deploy.platform_repo import app_path
from home_idp.server.deploy.webhook_spans import trace_early_delivery
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.pipeline.steps import Done, Fail, NeverParks, Outcome, Retry, StepContext, Wait

__all__ = [
    "PUSH_WAITS",
    "AwaitPushStep",
    "CommitDockerfileStep",
    "PlatformCommitStep",
    "steps_waiting_for",
]


@dataclass(frozen=True)
class PlatformCommitStep(NeverParks):
    """A step that commits files to the platform repo and pushes them."""

    git: GitPlugin
    timeout_seconds: float
    # What the step commits, as its deadline's message names it.
    commits: ClassVar[str]

    @staticmethod
    def retry(error: GitError) -> Retry:
        """The commit failed: the git server may be away, or it refused the commit."""
        if isinstance(error, GitUnavailable):
            return Retry(f"the platform repo is unreachable: {error}")
        return Retry(f"git refused the commit: {error}")

    def deadline_reason(self, context: StepContext) -> str:
        return (
            f"could not commit {self.commits} to the platform repo within "
            f"{self.timeout_seconds:g}s; check that the git server is reachable"
        )


@dataclass(frozen=True)
class CommitDockerfileStep(PlatformCommitStep):
    """Commits the release's Dockerfile version to the platform repo and pushes it."""

    name: str = "commit"
    commits = "the Dockerfile"

    async def run(self, context: StepContext) -> Outcome:
        release = context.release
        version = await DockerfileVersion.get(id=release.dockerfile_version_id)  # type: ignore[attr-defined]
        path = app_path(context.project, context.app, "Dockerfile")
        author = CommitAuthor(version.author, f"{version.author}@users.home-idp")
        message = (
            f"{context.project}/{context.app}: Dockerfile v{version.number} "
            f"(release #{release.number})\n\n{version.message}\n"
        )
        try:
            # Safe to repeat: if a killed attempt already pushed this content,
            # the plugin makes no new commit and returns the head.
            with tracer(__name__).start_as_current_span(
                "git commit", attributes={"home_idp.git.path": path}
            ) as span:
                result = await self.git.commit_files(
                    {path: version.content.encode()}, author, message
                )
                span.set_attribute("home_idp.git.sha", result.sha)
        except GitError as error:
            return self.retry(error)
        await Release.filter(id=release.id).update(commit_sha=result.sha)
        release.commit_sha = result.sha
        return Done({"sha": result.sha, "path": path, "new_commit": result.changed})


@dataclass(frozen=True)
class AwaitPushStep:
    """Waits for the push webhook that carries a commit of the release.

    `sha_field` names the release's column holding that commit, and
    `commit_step` the step that made it. The webhook advances it at once; the
    reconciler's `check` looks at the branch itself, so a lost webhook costs
    one reconcile interval.
    """

    git: GitPlugin
    timeout_seconds: float
    name: str = "await-push"
    sha_field: str = "commit_sha"
    commit_step: str = "commit"

    async def run(self, context: StepContext) -> Outcome:
        sha = await self._sha(context)
        if sha is None:
            return Fail(f"the {self.commit_step} step recorded no commit")
        push = await GitPush.get_or_none(sha=sha).select_related("delivery")
        if push is not None:
            # The webhook came while the commit step was still finishing.
            trace_early_delivery(push.delivery)
            return Done({"sha": sha, "advanced_by": "webhook"})
        commit = await ReleaseStep.get_or_none(release_id=context.release.id, name=self.commit_step)
        if commit is not None and commit.detail.get("new_commit") is False:
            # The branch already held these files: nothing was pushed, so no
            # webhook will come.
            return Done({"sha": sha, "advanced_by": "no new commit"})
        return Wait(f"waiting for the push webhook of {sha[:12]}")

    async def check(self, context: StepContext) -> Outcome | None:
        sha = await self._sha(context)
        if sha is None:
            return Fail(f"the {self.commit_step} step recorded no commit")
        if await GitPush.exists(sha=sha) or await self.git.contains(sha):
            return Done({"sha": sha})
        return None

    def deadline_reason(self, context: StepContext) -> str:
        sha = (getattr(context.release, self.sha_field) or "")[:12]
        return (
            f"no push webhook for commit {sha} arrived within {self.timeout_seconds:g}s and "
            f"the commit is not on the platform branch; check the repo's webhook "
            f"(Webhook deliveries) and that the git server is reachable"
        )

    async def _sha(self, context: StepContext) -> str | None:
        release = context.release
        if getattr(release, self.sha_field) is None:
            await release.refresh_from_db(fields=[self.sha_field])
        sha: str | None = getattr(release, self.sha_field)
        return sha


# The waits for pushes, by step name, with the release column of their commit.
PUSH_WAITS = {"await-push": "commit_sha", "await-manifest-push": "manifests_sha"}


async def steps_waiting_for(shas: set[str]) -> list[int]:
    """Ids of the push-waiting steps whose commit is any of these."""
    found: list[int] = []
    for name, column in PUSH_WAITS.items():
        steps: list[int] = await ReleaseStep.filter(
            name=name,
            state=StepState.WAITING,
            release__status=ReleaseStatus.RUNNING,
            **{f"release__{column}__in": sorted(shas)},
        ).values_list("id", flat=True)  # type: ignore[assignment]  # flat: one column
        found += steps
    return found
