"""The steps a release runs, and how releases of an app are numbered."""

from __future__ import annotations

from home_idp.server.pipeline.models import Release

__all__ = ["RELEASE_PLAN", "ROLLBACK_PLAN", "next_release_number"]

# The steps of a release that builds an image, in order.
RELEASE_PLAN = (
    "commit",
    "await-push",
    "build",
    "await-image",
    "manifests",
    "await-manifest-push",
    "sync",
    "rollout",
    # Watched for a while after the rollout: an app that answers once and then
    # crashes has not succeeded.
    "verify",
)
# A rollback ships an earlier release's exact image: nothing to build.
ROLLBACK_PLAN = RELEASE_PLAN[RELEASE_PLAN.index("manifests") :]


async def next_release_number(app_id: int) -> int:
    """The number of the app's next release; call under the app's row lock."""
    last = await Release.filter(app_id=app_id).order_by("-number").first()
    return last.number + 1 if last else 1
