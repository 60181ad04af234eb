"""What a release step is: the contract every step of the engine implements.

A step is either work (commit, build, apply) that runs and finishes, or a
wait (for a webhook) that the engine parks until a webhook or the reconciler
advances it. Steps must be idempotent: a step that was running when the
process died runs again from the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from home_idp.server.pipeline.models import Release, ReleaseStep

__all__ = ["Done", "Fail", "NeverParks", "Outcome", "Retry", "Step", "StepContext", "Wait"]


@dataclass(frozen=True)
class StepContext:
    """The release (with its app and project loaded) and the step being run."""

    release: Release
    step: ReleaseStep

    @property
    def project(self) -> str:
        return str(self.release.app.project.name)

    @property
    def app(self) -> str:
        return str(self.release.app.name)


@dataclass(frozen=True)
class Done:
    """The step finished; `detail` is kept on the step."""

    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Wait:
    """Park the step until a webhook or the reconciler advances it."""

    message: str = ""


@dataclass(frozen=True)
class Retry:
    """A transient failure: run again after a backoff, within attempts and deadline."""

    reason: str


@dataclass(frozen=True)
class Fail:
    """A failure retrying cannot fix; the reason is shown to the user."""

    reason: str


Outcome = Done | Wait | Retry | Fail


class NeverParks:
    """For a step whose `run` never returns Wait: there is no parked state to check."""

    async def check(self, context: StepContext) -> Outcome | None:
        return None


class Step(Protocol):
    """One kind of step in a release's plan."""

    @property
    def name(self) -> str:
        """The step's name as releases show it, e.g. "commit"."""
        ...

    @property
    def timeout_seconds(self) -> float:
        """From the step's start to its deadline."""
        ...

    async def run(self, context: StepContext) -> Outcome:
        """Do the step's work (again, if it ran before); Wait parks it."""
        ...

    async def check(self, context: StepContext) -> Outcome | None:
        """For a parked step: look at the real state; Done advances, None keeps waiting."""
        ...

    def deadline_reason(self, context: StepContext) -> str:
        """What the user reads when the deadline passes: what is missing and what to check."""
        ...
