"""The `verify` step: a rolled-out release is watched for a while before it succeeds.

An app that answers once and then crashes, restarts, runs out of memory or
stops answering its health check is not a release that succeeded. During
the watch (the app's `stability_seconds`, or the server's) the release
stays running and records until when it is watched; any of those fails it
with the exit code or "out of memory" and the app's last log lines (secrets
masked by the deployer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from home_idp.plugins.deployer.contract import (
    DeployerPlugin,
    DeployError,
    DeployUnavailable,
    StabilityReport,
)
from home_idp.plugins.registry.contract import RegistryError, RegistryUnavailable
from home_idp.plugins.support.log_excerpt import quote_log_lines
from home_idp.server.apps.models import App
from home_idp.server.deploy.deploy_steps import DeploymentSource
from home_idp.server.pipeline.models import Release, ReleaseStatus, ReleaseStep, StepState
from home_idp.server.pipeline.queue import utcnow
from home_idp.server.pipeline.steps import Done, Fail, Outcome, StepContext, Wait
from home_idp.server.settings import MAX_STABILITY_SECONDS

__all__ = ["VerifyStep", "stability_problem", "taken_over_by"]

# Looks in a row at an app that runs but does not answer its health check before
# the watch fails it (the reconciler looks once per interval).
UNREADY_LOOKS = 3
# Beyond the longest window: time to look at the app once more, and retries.
_SPARE_SECONDS = 300.0


def stability_problem(
    report: StabilityReport, restarts_before: int, health_path: str
) -> str | None:
    """What went wrong since the watch began, in the user's words; None if nothing did."""
    cause = (
        "out of memory"
        if report.oom_killed
        else f"exit code {report.exit_code}"
        if report.exit_code is not None
        else ""
    )
    restarted = report.restarts - restarts_before
    if not report.running:
        problem = "the app stopped" + (f" ({cause})" if cause else "")
    elif restarted > 0:
        times = "once" if restarted == 1 else f"{restarted} times"
        problem = f"the app restarted {times}" + (f" (last exit: {cause})" if cause else "")
    elif not report.ready:
        problem = f"the app stopped answering GET {health_path}"
    else:
        return None
    if report.log_lines:
        problem += "; its last lines: " + quote_log_lines(report.log_lines)
    return problem


@dataclass(frozen=True)
class VerifyStep:
    """Watches a rolled-out release until its window ends; the release succeeds after.

    The step parks while it watches: the reconciler looks at the app every
    reconcile interval, so a watch holds no worker (with SQLite there is one).
    """

    deployer: DeployerPlugin
    source: DeploymentSource
    default_seconds: int
    name: str = "verify"
    # A failed watch removed the release's instance: a retry deploys it again.
    retried_from: str = "sync"
    # The window is the app's; the deadline only guards against a watch that hangs.
    timeout_seconds: float = MAX_STABILITY_SECONDS + _SPARE_SECONDS

    async def run(self, context: StepContext) -> Outcome:
        release = context.release
        app = await App.get(id=release.app.id).only("id", "stability_seconds")
        window = app.stability_seconds
        if window is None:
            window = self.default_seconds
        if window <= 0:
            return Done({"watched_seconds": 0})
        # Each run watches anew (a retry too): the step parks once it has begun, so a
        # restart of the server does not run it again.
        until = utcnow() + timedelta(seconds=window)
        await Release.filter(id=release.id).update(verify_until=until)
        release.verify_until = until
        context.step.detail = {"watched_seconds": window}
        await ReleaseStep.filter(id=context.step.id).update(detail=context.step.detail)
        outcome = await self.check(context)
        return outcome or Wait(f"watching the app until {until:%H:%M:%S} UTC")

    async def check(self, context: StepContext) -> Outcome | None:
        """One look at the app: Fail on trouble, Done once the window is over."""
        release = context.release
        await release.refresh_from_db(fields=["verify_until"])
        until = release.verify_until
        if until is None:
            return None  # the step has not started its watch yet
        newer = await taken_over_by(release)
        if newer is not None:
            # A newer release is taking over: watching this one is no longer useful.
            return Done({**context.step.detail, "overtaken_by": newer})
        try:
            deployment = await self.source.of(release)
            report = await self.deployer.stability(deployment)
        except (DeployUnavailable, RegistryUnavailable):
            return None  # looked at again next time, until the deadline
        except (DeployError, RegistryError) as error:
            return Fail(f"the deployer refused: {error}")
        detail = dict(context.step.detail)
        restarts_before = detail.setdefault("restarts_before", report.restarts)
        problem = stability_problem(report, restarts_before, deployment.health_path)
        # One slow answer to the health check is not an app that stopped answering:
        # only so many looks in a row are.
        only_unready = report.running and report.restarts == restarts_before
        unready_looks = detail.get("unready_looks", 0) + 1 if problem and only_unready else 0
        detail["unready_looks"] = unready_looks
        if detail != context.step.detail:
            await ReleaseStep.filter(id=context.step.id).update(detail=detail)
            context.step.detail = detail
        if problem is not None and 0 < unready_looks < UNREADY_LOOKS:
            return None
        if problem is not None:
            newer = await taken_over_by(release)
            if newer is not None:
                # Gone because a newer release retired it while we looked.
                return Done({**context.step.detail, "overtaken_by": newer})
            return Fail(problem)
        if utcnow() >= until:
            return Done(context.step.detail)
        return None

    def deadline_reason(self, context: StepContext) -> str:
        return "the watch after the rollout did not end in time; check the deployment target"


async def taken_over_by(release: Release) -> int | None:
    """The number of a newer release of the app that has reached the deployer (its
    sync started) and not failed, if one has: it replaces this one's instances."""
    newer = (
        await ReleaseStep.filter(
            release__app_id=release.app.id,
            release__number__gt=release.number,
            release__status__in=[ReleaseStatus.RUNNING, ReleaseStatus.SUCCEEDED],
            name="sync",
        )
        .exclude(state=StepState.PENDING)
        .prefetch_related("release")
        .order_by("-release__number")
        .first()
    )
    return newer.release.number if newer is not None else None
