"""The durable work queue: jobs in the database, claimed with leases.

On Postgres several workers (and replicas) claim jobs with
`SELECT ... FOR UPDATE SKIP LOCKED`, so each job goes to one worker; a
worker that dies loses its lease when it expires, or at once when its
server comes back under the same name (see `instance.py`). A worker's id is
`<server's name>-<number>`. SQLite runs one worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from home_idp.server.pipeline.models import Job, ReleaseStep

__all__ = ["JobQueue", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobQueue:
    """Claims, renews and finishes jobs on behalf of one worker."""

    def __init__(self, worker_id: str, lease_seconds: float) -> None:
        self.worker_id = worker_id
        self._lease = timedelta(seconds=lease_seconds)

    @staticmethod
    async def enqueue(step_id: int, due_at: datetime | None = None) -> None:
        """Make a step runnable; call inside the transaction that changes the step."""
        await Job.update_or_create(
            defaults={"due_at": due_at or utcnow(), "leased_by": None, "lease_until": None},
            step_id=step_id,
        )

    async def claim(self) -> Job | None:
        """The oldest due job nobody holds, now leased to this worker."""
        now = utcnow()
        async with in_transaction():
            job = (
                await Job.filter(
                    Q(lease_until__isnull=True) | Q(lease_until__lt=now), due_at__lte=now
                )
                .order_by("due_at", "id")
                .select_for_update(skip_locked=True)
                .first()
            )
            if job is None:
                return None
            job.leased_by = self.worker_id
            job.lease_until = now + self._lease
            await job.save(update_fields=["leased_by", "lease_until"])
            return job

    async def renew(self, job_id: int) -> bool:
        """Extend the lease; False means another worker took the job over."""
        updated = await Job.filter(id=job_id, leased_by=self.worker_id).update(
            lease_until=utcnow() + self._lease
        )
        return updated == 1

    async def holds(self, job_id: int) -> bool:
        return await Job.exists(id=job_id, leased_by=self.worker_id)

    async def reschedule(self, job_id: int, due_at: datetime) -> None:
        await Job.filter(id=job_id, leased_by=self.worker_id).update(
            due_at=due_at, leased_by=None, lease_until=None
        )

    @staticmethod
    async def remove_for_step(step_id: int) -> None:
        await Job.filter(step_id=step_id).delete()

    @staticmethod
    async def remove_for_release(release_id: int) -> None:
        steps = ReleaseStep.filter(release_id=release_id).values_list("id", flat=True)
        await Job.filter(step_id__in=await steps).delete()

    @staticmethod
    async def take_back_leases(server_name: str) -> int:
        """Free the jobs a previous life of this server held, for its workers to claim now.

        Call before this life's workers start: every lease under the name is
        then a dead process's, since the name is locked to one live server.
        """
        return await Job.filter(leased_by__startswith=f"{server_name}-").update(
            leased_by=None, lease_until=None
        )

    @staticmethod
    async def release_all_leases() -> int:
        """SQLite start-up: the only worker is us, so every lease is stale."""
        return await Job.filter(leased_by__isnull=False).update(leased_by=None, lease_until=None)

    @staticmethod
    async def next_due() -> datetime | None:
        job = await Job.filter(leased_by__isnull=True).order_by("due_at").first()
        return job.due_at if job else None
