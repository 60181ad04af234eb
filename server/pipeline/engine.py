"""The release engine: runs each step of a release once, durably, to an end.

State changes go through this module only. Each one happens in a
transaction that locks the release row, so a webhook, the reconciler, a
worker and a user's cancel never interleave on one release; events are
stored in the same transaction and published after it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from home_idp.server.errors import Conflict
from home_idp.server.pipeline.events import ReleaseEventLog
from home_idp.server.pipeline.instance import InstanceName, InstanceSlots, one_life_name
from home_idp.server.pipeline.models import (
    Job,
    Release,
    ReleaseEvent,
    ReleaseStatus,
    ReleaseStep,
    StepState,
)
from home_idp.server.pipeline.queue import JobQueue, utcnow
from home_idp.server.pipeline.release_trace import ReleaseTracer, WebhookReceipt
from home_idp.server.pipeline.steps import Done, Fail, Outcome, Retry, Step, StepContext, Wait
from home_idp.server.settings import PipelineSettings

__all__ = ["Engine", "FailureHook"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_OPEN_STEP_STATES = (StepState.PENDING, StepState.RUNNING, StepState.WAITING)


class FailureHook(Protocol):
    """Told of every release that fails (an automatic rollback, a clean-up)."""

    async def release_failed(self, release: Release, step: ReleaseStep) -> list[ReleaseEvent]:
        """Inside the failing transaction, the release row locked and its status and
        error set: change more (its error too), return the events of what it started."""
        ...

    async def after_failure(self, release_id: int, step: str) -> None:
        """Once the failure is committed: work outside the database (containers, git).

        It runs as a job of the queue, so a server that dies meanwhile does it
        after its restart (or another replica does): it must be safe to run twice.
        """
        ...


class Engine:
    """Plans releases, runs their steps from the queue, and advances waits."""

    def __init__(
        self,
        settings: PipelineSettings,
        steps: Mapping[str, Step],
        events: ReleaseEventLog,
        tracer: ReleaseTracer,
        *,
        single_worker: bool,
        instance_slots: InstanceSlots | None = None,
    ) -> None:
        self._settings = settings
        self._steps = dict(steps)
        self.events = events
        self._tracer = tracer
        self._single_worker = single_worker
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._failure_hooks: list[FailureHook] = []
        # Where this server's name for its leases comes from; without slots
        # (a data dir), a name of one life, whose jobs wait out their leases.
        self._instance_slots = instance_slots
        self._instance: InstanceName | None = None

    def on_failure(self, hook: FailureHook) -> None:
        """Tell `hook` of every release that fails from now on."""
        self._failure_hooks.append(hook)

    # -- planning ---------------------------------------------------------

    async def plan(self, release: Release, step_names: Sequence[str]) -> list[ReleaseEvent]:
        """Create the release's steps and queue the first; call inside its transaction."""
        unknown = [name for name in step_names if name not in self._steps]
        if unknown:
            raise ValueError(f"no step is named {', '.join(unknown)}")
        self._tracer.begin_release(release)
        await release.save(update_fields=["trace_id", "span_id"])
        steps = [
            await ReleaseStep.create(release=release, position=position, name=name)
            for position, name in enumerate(step_names)
        ]
        await JobQueue.enqueue(steps[0].id)
        return [await self.events.record(release, ReleaseStatus.RUNNING, message="release created")]

    async def committed(self, events: Sequence[ReleaseEvent]) -> None:
        """After a planning transaction commits: tell subscribers and wake a worker."""
        await self.events.publish(events)
        self._wake.set()

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        await self.events.start()
        workers = 1 if self._single_worker else self._settings.workers
        slots = self._instance_slots
        claimed = await asyncio.to_thread(slots.claim) if slots is not None else one_life_name()
        self._instance = instance = claimed
        taken_back = 0
        if self._single_worker:
            # With SQLite this process is the only worker; leases left by a
            # killed process would otherwise block its jobs until they expire.
            taken_back = await JobQueue.release_all_leases()
        elif instance.survives_restarts:
            # A restart after a crash: the steps this server was running are
            # taken back now, not when their leases run out. Only a dead
            # process held leases under this name (its slot was free), so no
            # step runs twice at once.
            taken_back = await JobQueue.take_back_leases(instance.name)
        if taken_back:
            log.info("took back %d job(s) this server held before a restart", taken_back)
        for number in range(workers):
            queue = JobQueue(f"{instance.name}-{number}", self._settings.lease_seconds)
            self._tasks.append(asyncio.create_task(self._work(queue), name=f"worker-{number}"))
        self._tasks.append(asyncio.create_task(self._reconcile_forever(), name="reconciler"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.events.stop()
        if self._instance is not None:
            self._instance.release()

    async def _work(self, queue: JobQueue) -> None:
        while True:
            self._wake.clear()
            try:
                job = await queue.claim()
                if job is not None:
                    await self.run_job(queue, job)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away; never die
                log.exception("release worker failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_seconds)

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.reconcile_interval_seconds)
            try:
                await self.reconcile_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconciler pass failed")

    # -- running a step ------------------------------------------------------

    async def run_job(self, queue: JobQueue, job: Job) -> None:
        """Run the job's step once and record what came of it."""
        step = await _load_step(job.step_id)  # type: ignore[attr-defined]
        if step is None:
            return
        release = step.release
        if step.state is StepState.FAILED and release.status is ReleaseStatus.FAILED:
            # A failed step's job is the clean-up after the failure (`_fail`).
            await self._holding_lease(queue, job.id, self._after_failure(release.id, step.name))
            await JobQueue.remove_for_step(step.id)
            return
        implementation = self._steps.get(step.name)
        if release.status is not ReleaseStatus.RUNNING or step.state not in (
            StepState.PENDING,
            StepState.RUNNING,
        ):
            await JobQueue.remove_for_step(step.id)
            return
        if implementation is None:
            await self._finish(queue, job, step.id, Fail(f"this server has no step {step.name!r}"))
            return
        if not await self._mark_running(step, implementation):
            return
        context = StepContext(release=release, step=step)
        remaining = (step.deadline - utcnow()).total_seconds() if step.deadline else 0
        if remaining <= 0:
            outcome: Outcome = Fail(implementation.deadline_reason(context))
        else:
            try:
                # Spans the step and its plugins start are children of the step's span.
                with self._tracer.step_context(release, step):
                    work = self._holding_lease(queue, job.id, implementation.run(context))
                    outcome = await asyncio.wait_for(work, remaining)
            except TimeoutError:
                await step.refresh_from_db(fields=["error"])
                last = f" (last error: {step.error})" if step.error else ""
                outcome = Fail(implementation.deadline_reason(context) + last)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.exception("step %s of release %s raised", step.name, release.id)
                outcome = Retry(f"internal error ({type(error).__name__}); see the server log")
        await self._finish(queue, job, step.id, outcome, implementation.deadline_reason(context))

    async def _mark_running(self, step: ReleaseStep, implementation: Step) -> bool:
        now = utcnow()
        async with in_transaction():
            release = await _lock_release(step.release.id)
            if release.status is not ReleaseStatus.RUNNING:
                return False
            step.deadline = step.deadline or now + timedelta(seconds=implementation.timeout_seconds)
            step.started_at = step.started_at or now
            self._tracer.begin_step(step)
            updated = await ReleaseStep.filter(
                id=step.id, state__in=[StepState.PENDING, StepState.RUNNING]
            ).update(
                state=StepState.RUNNING,
                attempts=F("attempts") + 1,
                started_at=step.started_at,
                deadline=step.deadline,
                span_id=step.span_id,
            )
            if not updated:
                return False
            step.attempts += 1
            step.state = StepState.RUNNING
            event = await self.events.record(
                step.release,
                StepState.RUNNING,
                step=step.name,
                message=f"attempt {step.attempts}",
            )
        await self.events.publish([event])
        return True

    async def _holding_lease(self, queue: JobQueue, job_id: int, work: Awaitable[T]) -> T:
        """Await `work` while renewing the job's lease, so no other worker takes it."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._settings.lease_seconds / 3)
                if not await queue.renew(job_id):
                    log.warning("lost the lease on job %s", job_id)
                    return

        renewer = asyncio.create_task(renew())
        try:
            return await work
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _finish(
        self,
        queue: JobQueue,
        job: Job,
        step_id: int,
        outcome: Outcome,
        deadline_reason: str = "the step's deadline passed",
    ) -> None:
        events: list[ReleaseEvent] = []
        async with in_transaction():
            step = await ReleaseStep.get(id=step_id)
            release = await _lock_release(step.release_id)  # type: ignore[attr-defined]
            if (
                release.status is not ReleaseStatus.RUNNING
                or step.state is not StepState.RUNNING
                or not await queue.holds(job.id)
            ):
                # Cancelled, or taken over by another worker meanwhile: its
                # result stands, this one is dropped.
                return
            now = utcnow()
            if isinstance(outcome, Retry):
                backoff = min(
                    self._settings.retry_backoff_seconds * 2 ** (step.attempts - 1),
                    self._settings.retry_backoff_max_seconds,
                )
                due = now + timedelta(seconds=backoff)
                if step.attempts < self._settings.max_attempts and (
                    step.deadline is None or due < step.deadline
                ):
                    step.error = outcome.reason
                    await step.save(update_fields=["error"])
                    await queue.reschedule(job.id, due)
                    events.append(
                        await self.events.record(
                            release,
                            StepState.RUNNING,
                            step=step.name,
                            message=f"attempt {step.attempts} failed: {outcome.reason}; "
                            f"retrying in {backoff:g}s",
                        )
                    )
                elif step.attempts >= self._settings.max_attempts:
                    outcome = Fail(f"gave up after {step.attempts} attempts: {outcome.reason}")
                else:
                    outcome = Fail(f"{deadline_reason} (last error: {outcome.reason})")
            if isinstance(outcome, Wait):
                step.state = StepState.WAITING
                await step.save(update_fields=["state"])
                await JobQueue.remove_for_step(step.id)
                events.append(
                    await self.events.record(
                        release, StepState.WAITING, step=step.name, message=outcome.message
                    )
                )
            elif isinstance(outcome, Done):
                await JobQueue.remove_for_step(step.id)
                events += await self._succeed(release, step, outcome.detail)
            elif isinstance(outcome, Fail):
                await JobQueue.remove_for_step(step.id)
                events += await self._fail(release, step, outcome.reason)
        await self.events.publish(events)
        self._wake.set()

    async def _succeed(
        self, release: Release, step: ReleaseStep, detail: Mapping[str, Any]
    ) -> list[ReleaseEvent]:
        """Mark `step` done and move the release on; inside a locked transaction."""
        now = utcnow()
        step.state = StepState.SUCCEEDED
        step.finished_at = now
        step.error = None  # type: ignore[assignment]  # the column is nullable
        step.detail = {**step.detail, **detail}
        await step.save(update_fields=["state", "finished_at", "error", "detail"])
        events = [await self.events.record(release, StepState.SUCCEEDED, step=step.name)]
        await self._tracer.step_ended(release, step)
        following = (
            await ReleaseStep.filter(release_id=release.id, position__gt=step.position)
            .order_by("position")
            .first()
        )
        if following is not None:
            await JobQueue.enqueue(following.id)
            return events
        release.status = ReleaseStatus.SUCCEEDED
        release.finished_at = now
        await release.save(update_fields=["status", "finished_at"])
        events.append(await self.events.record(release, ReleaseStatus.SUCCEEDED))
        self._tracer.release_ended(release)
        return events

    async def _fail(self, release: Release, step: ReleaseStep, reason: str) -> list[ReleaseEvent]:
        now = utcnow()
        step.state = StepState.FAILED
        step.finished_at = now
        step.error = reason
        await step.save(update_fields=["state", "finished_at", "error"])
        release.status = ReleaseStatus.FAILED
        release.finished_at = now
        release.error = f"{step.name}: {reason}"
        started: list[ReleaseEvent] = []
        for hook in self._failure_hooks:
            started += await hook.release_failed(release, step)
        await release.save(update_fields=["status", "finished_at", "error", "rolled_back_by_id"])
        if self._failure_hooks:
            # The clean-up outside the database is queued with the failure, in
            # its transaction: a crash before it ran cannot lose it.
            await JobQueue.enqueue(step.id)
        events = [
            await self.events.record(release, StepState.FAILED, step=step.name, message=reason),
            await self.events.record(release, ReleaseStatus.FAILED, message=release.error),
            *started,
        ]
        await self._tracer.step_ended(release, step)
        self._tracer.release_ended(release)
        return events

    async def _after_failure(self, release_id: int, step: str) -> None:
        for hook in self._failure_hooks:
            try:
                await hook.after_failure(release_id, step)
            except Exception:
                log.exception("cleaning up after release %s failed", release_id)

    # -- waits, the reconciler, cancel and retry ----------------------------

    async def advance(
        self, step_id: int, detail: Mapping[str, Any], receipt: WebhookReceipt | None = None
    ) -> bool:
        """Move a waiting step on (a webhook or the reconciler saw what it waits for).

        True when this call advanced it; False when it was not waiting (any
        more), so two replicas handling the same news advance it once. The
        `receipt` of the webhook that brought the news becomes a span of the step.
        """
        events: list[ReleaseEvent] = []
        async with in_transaction():
            step = await ReleaseStep.get_or_none(id=step_id)
            if step is None:
                return False
            release = await _lock_release(step.release_id)  # type: ignore[attr-defined]
            await step.refresh_from_db()
            if step.state is not StepState.WAITING or release.status is not ReleaseStatus.RUNNING:
                return False
            if receipt is not None:
                self._tracer.webhook_advanced(release, step, receipt)
            events += await self._succeed(release, step, detail)
        await self.events.publish(events)
        self._wake.set()
        return True

    async def reconcile_once(self) -> None:
        """Check every waiting step against the real state and its deadline."""
        waiting = await ReleaseStep.filter(
            state=StepState.WAITING, release__status=ReleaseStatus.RUNNING
        ).prefetch_related("release__app__project")
        for step in waiting:
            implementation = self._steps.get(step.name)
            if implementation is None:
                continue
            context = StepContext(release=step.release, step=step)
            if step.deadline is not None and step.deadline <= utcnow():
                await self._fail_waiting(step.id, implementation.deadline_reason(context))
                continue
            try:
                outcome = await implementation.check(context)
            except Exception as error:
                log.warning("reconciler check of %s failed: %s", step.name, error)
                continue
            if isinstance(outcome, Done):
                await self.advance(step.id, {**outcome.detail, "advanced_by": "reconciler"})
            elif isinstance(outcome, Fail):
                await self._fail_waiting(step.id, outcome.reason)

    async def _fail_waiting(self, step_id: int, reason: str) -> None:
        events: list[ReleaseEvent] = []
        async with in_transaction():
            step = await ReleaseStep.get(id=step_id)
            release = await _lock_release(step.release_id)  # type: ignore[attr-defined]
            await step.refresh_from_db()
            if step.state is not StepState.WAITING or release.status is not ReleaseStatus.RUNNING:
                return
            events += await self._fail(release, step, reason)
        await self.events.publish(events)
        self._wake.set()

    async def cancel(self, release_id: int, by: str) -> Release:
        """Stop a running release; a step in progress finishes but its result is dropped."""
        events: list[ReleaseEvent] = []
        async with in_transaction():
            release = await _lock_release(release_id)
            if release.status is not ReleaseStatus.RUNNING:
                raise Conflict(f"release #{release.number} is {release.status.value}, not running")
            events.append(
                await self.end_running(release, ReleaseStatus.CANCELLED, f"cancelled by {by}")
            )
        await self.events.publish(events)
        return release

    async def end_running(
        self, release: Release, status: ReleaseStatus, message: str
    ) -> ReleaseEvent:
        """End a running release (locked by the caller's transaction) as `status`:
        its open steps are cancelled and their jobs dropped. The caller publishes
        the event once the transaction is committed."""
        now = utcnow()
        open_steps = await ReleaseStep.filter(release_id=release.id, state__in=_OPEN_STEP_STATES)
        await ReleaseStep.filter(id__in=[step.id for step in open_steps]).update(
            state=StepState.CANCELLED, finished_at=now
        )
        await Job.filter(step__release_id=release.id).delete()
        release.status = status
        release.finished_at = now
        await release.save(update_fields=["status", "finished_at"])
        event = await self.events.record(release, status, message=message)
        for step in open_steps:
            step.state, step.finished_at = StepState.CANCELLED, now
            await self._tracer.step_ended(release, step)
        self._tracer.release_ended(release)
        return event

    async def supersede_unbuilt(self, app_id: int, newer: Release) -> list[ReleaseEvent]:
        """End the app's running releases whose build has not started as superseded
        by `newer` (only the newest commit is built). Call inside the transaction
        that creates `newer`; it publishes the events with its own."""
        waiting: list[int] = await ReleaseStep.filter(
            release__app_id=app_id,
            release__status=ReleaseStatus.RUNNING,
            name="build",
            state=StepState.PENDING,
        ).values_list("release_id", flat=True)  # type: ignore[assignment]
        events = []
        for release_id in sorted(set(waiting)):
            release = await _lock_release(release_id)
            # Under the lock again: a worker may have started the build meanwhile.
            build = await ReleaseStep.get(release_id=release.id, name="build")
            if release.status is ReleaseStatus.RUNNING and build.state is StepState.PENDING:
                message = f"superseded by #{newer.number}, which builds a newer commit"
                events.append(await self.end_running(release, ReleaseStatus.SUPERSEDED, message))
        return events

    async def retry(self, release_id: int, by: str) -> Release:
        """Run a failed or cancelled release again from its first unfinished step."""
        events: list[ReleaseEvent] = []
        async with in_transaction():
            release = await _lock_release(release_id)
            if release.status not in (ReleaseStatus.FAILED, ReleaseStatus.CANCELLED):
                raise Conflict(
                    f"release #{release.number} is {release.status.value}; "
                    "only failed or cancelled releases can be retried"
                )
            if release.rolled_back_by_id is not None:
                # The rollback is the newer release: this one could never be live again.
                raise Conflict(
                    f"release #{release.number} was rolled back automatically; "
                    "start a new release to try its changes again"
                )
            first = (
                await ReleaseStep.filter(release_id=release.id)
                .exclude(state=StepState.SUCCEEDED)
                .order_by("position")
                .first()
            )
            if first is None:
                raise Conflict("every step of this release already succeeded")
            # A step whose failure undid earlier ones (a failed watch removes the
            # release's instance) names the step a retry starts from.
            retried_from = getattr(self._steps.get(first.name), "retried_from", None)
            if retried_from is not None:
                first = (
                    await ReleaseStep.get_or_none(release_id=release.id, name=retried_from) or first
                )
            # A clean-up not run yet is moot: the retry sets up the release again.
            await JobQueue.remove_for_release(release.id)
            await ReleaseStep.filter(release_id=release.id, position__gte=first.position).update(
                state=StepState.PENDING,
                attempts=0,
                deadline=None,
                error=None,
                started_at=None,
                finished_at=None,
                span_id=None,
            )
            await JobQueue.enqueue(first.id)
            release.status = ReleaseStatus.RUNNING
            release.finished_at = None
            release.error = None  # type: ignore[assignment]  # the column is nullable
            await release.save(update_fields=["status", "finished_at", "error"])
            events.append(
                await self.events.record(
                    release,
                    ReleaseStatus.RUNNING,
                    message=f"retried from step {first.name} by {by}",
                )
            )
        await self.committed(events)
        return release


async def _lock_release(release_id: int) -> Release:
    """The release row, locked until the transaction ends (Postgres; SQLite serialises)."""
    release = await Release.filter(id=release_id).select_for_update().get()
    await release.fetch_related("app__project")
    return release


async def _load_step(step_id: int) -> ReleaseStep | None:
    return await ReleaseStep.filter(id=step_id).prefetch_related("release__app__project").first()
