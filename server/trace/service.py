"""trace-manager: who may see and send which spans, and the trace queries."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q
from tortoise.functions import Count, Max, Min
from tortoise.queryset import QuerySet

from home_idp.server.errors import NotFound, PermissionDenied, ValidationFailed
from home_idp.server.rbac.authz import Authorizer
from home_idp.server.trace.analysis import SpanTree
from home_idp.server.trace.models import Span
from home_idp.server.trace.records import (
    PROJECT_ATTRIBUTE,
    InvalidSpan,
    SpanRecord,
    checked_id,
    unix_ns,
)
from home_idp.server.trace.store import SpanStore

__all__ = ["MAX_TRACE_SPANS", "TraceFilter", "TracePage", "TraceService", "TraceSummary"]

# The most spans `trace(id)` returns; a trace with more is cut (and says so).
MAX_TRACE_SPANS = 10_000
TRACE_STATUSES = ("ok", "error")


@dataclass(frozen=True)
class TraceFilter:
    project: str | None = None
    app: str | None = None
    # "error": some span failed; "ok": none did.
    status: str | None = None
    # Traces with a span that started in [since, until).
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class TraceSummary:
    """One trace in a list: its root's name, its span, its size and whether it failed."""

    trace_id: str
    name: str
    start_ns: int
    end_ns: int
    span_count: int
    error_count: int
    project: str | None
    app: str | None
    service_name: str


@dataclass(frozen=True)
class TracePage:
    traces: list[TraceSummary]
    has_next_page: bool
    count: Callable[[], Awaitable[int]]

    @staticmethod
    def cursor(summary: TraceSummary) -> str:
        return base64.urlsafe_b64encode(
            f"trace:{summary.start_ns}:{summary.trace_id}".encode()
        ).decode()


class TraceService:
    """Trace operations for one caller: spans of projects it may read, or send to."""

    def __init__(self, authz: Authorizer, store: SpanStore) -> None:
        self._authz = authz
        self._store = store
        self._readable: set[str] | None = None

    async def _readable_projects(self) -> set[str]:
        if self._readable is None:
            projects = await self._authz.member_projects()
            self._readable = {
                project for project in projects if await self._authz.can("trace", "read", project)
            }
        return self._readable

    async def may_read(self, span: Span) -> bool:
        """Members who may read traces see their project's spans; admins see all."""
        principal = self._authz.require_user()
        if principal.is_admin:
            return True
        return span.project is not None and span.project in await self._readable_projects()

    async def _visible(self, query: QuerySet[Span]) -> QuerySet[Span]:
        """`query` narrowed to the spans the caller may see (in SQL, before any limit)."""
        principal = self._authz.require_user()
        if principal.is_admin:
            return query
        return query.filter(project__in=sorted(await self._readable_projects()))

    async def trace(self, trace_id: str) -> SpanTree | None:
        """The spans of a trace the caller may see, as a tree; None when none are visible."""
        query = await self._visible(self._store.spans_of(_trace_id(trace_id)))
        spans = await query.limit(MAX_TRACE_SPANS)
        return SpanTree(spans) if spans else None

    async def check_followable(self, trace_id: str) -> None:
        """NotFound for a trace whose stored spans the caller may not see.

        A trace with no spans yet may be followed: each span is checked as it comes.
        """
        trace_id = _trace_id(trace_id)
        if (
            await Span.exists(trace_id=trace_id)
            and not await (await self._visible(Span.filter(trace_id=trace_id))).exists()
        ):
            raise NotFound("no such trace")

    async def spans_after(
        self, trace_id: str, after: int, limit: int
    ) -> tuple[list[Span], int | None]:
        """Visible spans of a trace stored after row `after`, and the last row read."""
        rows = await self._store.spans_after(_trace_id(trace_id), after).limit(limit)
        visible = [row for row in rows if await self.may_read(row)]
        return visible, rows[-1].id if rows else None

    async def traces(self, trace_filter: TraceFilter, first: int, after: str | None) -> TracePage:
        """Traces with a visible span, newest first."""
        query = await self._visible(Span.all())
        if trace_filter.project is not None:
            query = query.filter(project=trace_filter.project)
        if trace_filter.app is not None:
            query = query.filter(app=trace_filter.app)
        if trace_filter.since is not None:
            query = query.filter(start_ns__gte=_filter_ns(trace_filter.since, "since"))
        if trace_filter.until is not None:
            query = query.filter(start_ns__lt=_filter_ns(trace_filter.until, "until"))
        if trace_filter.status is not None and trace_filter.status not in TRACE_STATUSES:
            raise ValidationFailed.for_field("status", "must be ok or error")
        grouped = query.annotate(
            first_start=Min("start_ns"),
            last_end=Max("end_ns"),
            span_count=Count("id"),
            error_count=Count("id", _filter=Q(status="error")),
        ).group_by("trace_id")
        if trace_filter.status == "error":
            grouped = grouped.filter(error_count__gt=0)
        elif trace_filter.status == "ok":
            grouped = grouped.filter(error_count=0)
        page = grouped
        position = _decode_cursor(after)
        if position is not None:
            start, trace_id = position
            page = page.filter(
                Q(first_start__lt=start) | Q(first_start=start, trace_id__lt=trace_id)
            )
        rows = (
            await page.order_by("-first_start", "-trace_id")
            .limit(first + 1)
            .values("trace_id", "first_start", "last_end", "span_count", "error_count")
        )
        summaries = await _summaries(rows[:first], await self._visible(Span.all()))

        async def count() -> int:
            return len(await grouped.values_list("trace_id", flat=True))

        return TracePage(summaries, len(rows) > first, count)

    async def ingest(self, records: Sequence[SpanRecord]) -> int:
        """Store spans sent over OTLP, if the caller may add spans to each one's project.

        A span names its project with the attribute `home_idp.project` (on
        the span or its resource); one that does not joins the project of
        the trace it belongs to. Spans of no project only an administrator
        may send. One span refused refuses the whole request: nothing is stored.
        """
        principal = self._authz.require_write()
        unplaced = {record.trace_id for record in records if record.project is None}
        owners = await self._store.projects_of(unplaced) if unplaced else {}
        for record in records:
            if record.project is None:
                record.project = owners.get(record.trace_id)
        projects = {record.project for record in records}
        if None in projects and not principal.is_admin:
            raise PermissionDenied(
                f"spans must name their project in the attribute {PROJECT_ATTRIBUTE} "
                "(only administrators may send spans of no project)"
            )
        for project in sorted(project for project in projects if project is not None):
            await self._authz.require("trace", "create", project)
        await self._store.write(records)
        return len(records)


# Span times are stored as signed 64-bit nanoseconds: 1677-09-21 to 2262-04-11.
_NS_RANGE = range(-(2**63), 2**63)


def _filter_ns(moment: datetime, field: str) -> int:
    """`moment` in Unix nanoseconds, if a stored span time can be compared with it."""
    ns = unix_ns(moment)
    if ns not in _NS_RANGE:
        raise ValidationFailed.for_field(field, "must be between the years 1677 and 2262")
    return ns


async def _summaries(
    rows: Sequence[dict[str, object]], visible: QuerySet[Span]
) -> list[TraceSummary]:
    """Name each trace after its visible root span (or earliest visible span)."""
    ids = [str(row["trace_id"]) for row in rows]
    heads: dict[str, Span] = {}
    for span in (
        await visible.filter(trace_id__in=ids)
        .order_by("start_ns", "id")
        .only(
            "trace_id", "name", "parent_span_id", "project", "app", "service_name", "start_ns", "id"
        )
    ):
        head = heads.get(span.trace_id)
        if head is None or (head.parent_span_id is not None and span.parent_span_id is None):
            heads[span.trace_id] = span
    summaries = []
    for row in rows:
        head = heads.get(str(row["trace_id"]))
        if head is None:  # deleted by retention between the two queries
            continue
        summaries.append(
            TraceSummary(
                trace_id=str(row["trace_id"]),
                name=head.name,
                start_ns=int(str(row["first_start"])),
                end_ns=int(str(row["last_end"])),
                span_count=int(str(row["span_count"])),
                error_count=int(str(row["error_count"])),
                project=head.project,
                app=head.app,
                service_name=head.service_name,
            )
        )
    return summaries


def _trace_id(value: str) -> str:
    try:
        return checked_id(value, 32, "id")
    except InvalidSpan:
        raise ValidationFailed.for_field("id", "a trace id is 32 hex digits") from None


def _decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    if cursor is None:
        return None
    try:
        kind, start, trace_id = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if kind == "trace":
            return int(start), checked_id(trace_id, 32, "cursor")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ValidationFailed.for_field("after", "invalid cursor")
