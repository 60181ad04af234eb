"""The span store: batched writes, reads by trace, and wake-ups of live readers.

Writes are upserts on (trace id, span id): an exporter that retries a batch,
or a release span emitted again after a retry, replaces the earlier copy
instead of failing the batch. After a batch is stored, subscribers of its
traces are woken: in-process, or through Postgres NOTIFY on every replica
when several share a database. A wake-up carries no spans on purpose: live
readers read what they have not seen from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import cache

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from home_idp.server.events import EventBus, KeyedBroadcast
from home_idp.server.trace.models import Span
from home_idp.server.trace.records import SPAN_COLUMNS, SpanRecord

__all__ = [
    "SPAN_CHANNEL",
    "SpanStore",
    "insert_rows",
    "trace_topic",
    "upsert_statement",
]

log = logging.getLogger(__name__)

SPAN_CHANNEL = "home_idp_spans"
# Trace ids per NOTIFY payload (Postgres caps a payload at 8000 bytes).
_IDS_PER_NOTIFY = 200


@cache
def upsert_statement(dialect: str) -> str:
    """INSERT … ON CONFLICT of `SPAN_COLUMNS` (the same words on SQLite and Postgres)."""
    columns = ", ".join(f'"{column}"' for column in SPAN_COLUMNS)
    if dialect == "postgres":
        values = ", ".join(f"${number}" for number in range(1, len(SPAN_COLUMNS) + 1))
    else:
        values = ", ".join("?" for _ in SPAN_COLUMNS)
    updates = ", ".join(
        f'"{column}" = excluded."{column}"'
        for column in SPAN_COLUMNS
        if column not in ("trace_id", "span_id")
    )
    # A span sent again replaces the stored copy only within the same project
    # (or both of none): nobody overwrites another project's spans.
    same_project = (
        '"span"."project" IS NOT DISTINCT FROM excluded."project"'
        if dialect == "postgres"
        else '"span"."project" IS excluded."project"'
    )
    # Made of the constant column names only.
    insert = f'INSERT INTO "span" ({columns}) VALUES ({values}) '  # noqa: S608
    return (
        insert + f'ON CONFLICT ("trace_id", "span_id") DO UPDATE SET {updates} WHERE {same_project}'
    )


async def insert_rows(connection: BaseDBAsyncClient, rows: list[list[object]]) -> None:
    """Upsert rows of `SPAN_COLUMNS` values.

    Straight to the driver: building an ORM object per span cost more than
    the insert itself, and ingest stores hundreds of spans per request.
    """
    statement = upsert_statement(connection.capabilities.dialect)
    await connection.execute_many(statement, rows)


def trace_topic(trace_id: str) -> str:
    return f"trace:{trace_id}"


class SpanStore(KeyedBroadcast):
    """Stores spans and tells live readers of their traces."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__(bus, SPAN_CHANNEL, trace_topic)

    async def write(self, records: Sequence[SpanRecord]) -> None:
        """Store `records` in one transaction, replacing spans stored before with the same ids."""
        if not records:
            return
        # One row per id: the last copy wins, as it would in the store.
        unique = {(record.trace_id, record.span_id): record for record in records}
        async with in_transaction() as connection:
            await insert_rows(connection, [record.row() for record in unique.values()])
        await self.wake({record.trace_id for record in records})

    async def wake(self, trace_ids: Iterable[str]) -> None:
        ids = sorted(trace_ids)
        notifier = self._shared_notifier
        if notifier is not None:
            for start in range(0, len(ids), _IDS_PER_NOTIFY):
                chunk = ",".join(ids[start : start + _IDS_PER_NOTIFY])
                await notifier.notify(SPAN_CHANNEL, chunk)
            return
        self._deliver(ids)

    @staticmethod
    def spans_of(trace_id: str) -> QuerySet[Span]:
        """A trace's spans, earliest first."""
        return Span.filter(trace_id=trace_id).order_by("start_ns", "id")

    @staticmethod
    def spans_after(trace_id: str, after: int) -> QuerySet[Span]:
        """A trace's spans stored after row `after`, in the order they were stored."""
        return Span.filter(trace_id=trace_id, id__gt=after).order_by("id")

    @staticmethod
    async def projects_of(trace_ids: Iterable[str]) -> dict[str, str]:
        """The project each of these traces' stored spans place it in, where any does."""
        rows = (
            await Span.filter(trace_id__in=list(trace_ids), project__not_isnull=True)
            .distinct()
            .values_list("trace_id", "project")
        )
        return {str(trace_id): str(project) for trace_id, project in rows}

    @staticmethod
    async def delete_started_before(cutoff_ns: int) -> int:
        """Remove spans that started before `cutoff_ns`; how many went."""
        deleted: int = await Span.filter(start_ns__lt=cutoff_ns).delete()
        return deleted
