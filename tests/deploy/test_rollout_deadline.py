"""What a release that missed its rollout deadline says about what still serves."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from home_idp.server.deploy.deploy_steps import RolloutStep
from home_idp.server.pipeline.models import Release, ReleaseStep
from home_idp.server.pipeline.steps import StepContext


def late_rollout(live_release_id: int | None, release_id: int = 7) -> str:
    """The reason for release #2 (id `release_id`) of an app whose live release is
    `live_release_id`: only the rows' fields the step reads, as loaded."""
    app = SimpleNamespace(name="web", live_release_id=live_release_id)
    release = cast(Release, SimpleNamespace(id=release_id, number=2, app=app))
    step = RolloutStep(
        deployer=cast(Any, None), source=cast(Any, None), timeout_seconds=300, poll_seconds=1
    )
    return step.deadline_reason(StepContext(release, cast(ReleaseStep, None)))


@pytest.mark.parametrize("live", [None, 7], ids=["never-live", "itself"])
def test_an_app_with_nothing_live_is_not_said_to_keep_serving(live: int | None) -> None:
    reason = late_rollout(live)

    assert reason.startswith("the release was not ready within 300s")
    assert "keeps serving" not in reason
    assert "no earlier release of the app was serving" in reason


def test_an_app_with_an_earlier_live_release_keeps_it_serving() -> None:
    assert late_rollout(3).endswith("the release before it keeps serving")
