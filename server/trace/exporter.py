"""home-idp's own spans into its own store: an SDK exporter and an async writer.

The SDK's BatchSpanProcessor calls `export` on its own thread; the exporter
converts the spans there and hands the records to the writer on the event
loop without waiting, so neither a request nor the engine ever waits for a
span to be stored. The writer stores what has come in, one batch at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from home_idp.server.trace.records import SPAN_KINDS, InvalidSpan, SpanRecord
from home_idp.server.trace.store import SpanStore

__all__ = ["SpanWriter", "StoreSpanExporter", "record_of"]

log = logging.getLogger(__name__)

_BATCH = 512
# Spans waiting for the database beyond this are dropped (and logged), so a
# database that is away cannot make the server run out of memory.
_MAX_WAITING = 50_000
_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}


class SpanWriter:
    """Stores span records handed over from any thread, in batches, on the event loop."""

    def __init__(self, store: SpanStore) -> None:
        self._store = store
        self._waiting: list[SpanRecord] = []
        self._more = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="span-writer")

    def offer_threadsafe(self, records: Sequence[SpanRecord]) -> bool:
        """Hand records over from any thread; False once the writer has stopped."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(self._offer, list(records))
        except RuntimeError:  # the loop closed meanwhile
            return False
        return True

    def _offer(self, records: list[SpanRecord]) -> None:
        room = _MAX_WAITING - len(self._waiting)
        if len(records) > room:
            log.warning("the span store is behind: dropping %d spans", len(records) - room)
            records = records[: max(room, 0)]
        self._waiting.extend(records)
        self._idle.clear()
        self._more.set()

    async def _run(self) -> None:
        while True:
            await self._more.wait()
            self._more.clear()
            while self._waiting:
                batch, self._waiting = self._waiting[:_BATCH], self._waiting[_BATCH:]
                try:
                    await self._store.write(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database may be briefly away; spans are not worth a crash
                    log.exception("could not store %d spans", len(batch))
            self._idle.set()

    async def drain(self) -> None:
        """Wait until everything handed over so far is stored."""
        await self._idle.wait()

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._loop = None


class StoreSpanExporter(SpanExporter):
    """An OpenTelemetry exporter whose destination is home-idp's span store."""

    def __init__(self, writer: SpanWriter) -> None:
        self._writer = writer

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        records = []
        for span in spans:
            try:
                records.append(record_of(span))
            except InvalidSpan as error:
                log.warning("an own span was not stored: %s", error)
        if self._writer.offer_threadsafe(records):
            return SpanExportResult.SUCCESS
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def record_of(span: ReadableSpan) -> SpanRecord:
    """The store's record of a finished SDK span."""
    context = span.get_span_context()
    assert context is not None
    service = span.resource.attributes.get("service.name", "")
    return SpanRecord(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_span_id=f"{span.parent.span_id:016x}" if span.parent else None,
        name=span.name,
        kind=SPAN_KINDS[span.kind.value + 1],
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        status=_STATUS[span.status.status_code],
        status_message=span.status.description or "",
        attributes=_plain(span.attributes),
        events=[
            {"name": event.name, "time_ns": event.timestamp, "attributes": _plain(event.attributes)}
            for event in span.events
        ],
        service_name=str(service),
    )


def _plain(attributes: Any) -> dict[str, Any]:
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in (attributes or {}).items()
    }
