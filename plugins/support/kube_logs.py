"""Kubernetes log streams, read in worker threads and paced by whoever reads them.

The official client blocks while it reads a log (`read_namespaced_pod_log` with
`_preload_content=False` hands back the urllib3 response, read chunk by chunk),
so each stream is read in a worker thread. The threads come from a limiter of
their own: a followed log holds its thread for as long as it is followed, and
must never starve the thread pool that every other blocking call shares.

All the lines go through one bounded queue, a batch (the lines of one read
chunk) per item: handing items from a thread to the loop costs far more than
splitting lines, so one hand-off per line would cap a stream at a few ten
thousand lines a second. A reading thread blocks while the queue is full, so
a slow reader slows the HTTP streams down instead of piling their lines up in
memory. Closing shuts every open response down (`shutdown()`
interrupts a read blocked in another thread) and releases the threads blocked
on the full queue, so every thread ends.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import anyio
from anyio import to_thread

__all__ = ["MAX_LINE", "MAX_STREAMS", "LogStreams", "OpenLogStreams", "StreamEnd", "StreamLimiter"]

logger = logging.getLogger(__name__)

# Longer lines are cut: one line never holds more than this many characters.
# Generous on purpose: the server masks secrets in a line before it cuts the
# line to what it keeps, and a secret cut in two would no longer be masked.
MAX_LINE = 65536
MAX_STREAMS = 64
QUEUE_SIZE = 256
_CHUNK = 4096
# How long aclose() waits for the reading threads to notice they are closed.
_CLOSE_GRACE = 2.0


class StreamLimiter:
    """A capacity limiter for log-stream threads, made on first use.

    Made lazily because a limiter needs a running event loop, and plugins are
    made before the server's loop runs.
    """

    def __init__(self, total: int = MAX_STREAMS) -> None:
        self.total = total
        self._limiter: anyio.CapacityLimiter | None = None

    def get(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.total)
        return self._limiter


@dataclass(frozen=True)
class StreamEnd:
    """The stream `source` ended: at its end (`error` None) or broken by `error`.

    `error` is what opening or reading the stream raised (an ApiException, a
    urllib3 or OS error); it is never reported for a stream ended by close().
    """

    source: str
    error: Exception | None = None


LogItem: TypeAlias = tuple[str, str] | StreamEnd
# What goes through the queue: a stream's lines of one read chunk, or its end.
_Batch: TypeAlias = tuple[str, list[str]] | StreamEnd


class LogStreams:
    """Log streams read in worker threads into one bounded queue.

    `start(source, open_stream)` reads one stream: `open_stream` runs in a
    worker thread and returns the streaming urllib3 response; each line
    comes out of `get()` as `(source, line)`, then a StreamEnd. Made inside
    the event loop that reads it.
    """

    def __init__(
        self,
        limiter: anyio.CapacityLimiter,
        *,
        queue_size: int = QUEUE_SIZE,
        max_line: int = MAX_LINE,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._limiter = limiter
        self._max_line = max_line
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue(queue_size)
        self._batch: collections.deque[tuple[str, str]] = collections.deque()
        self._lock = threading.Lock()
        self._closed = False
        self._responses: set[Any] = set()
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._readers: set[asyncio.Future[None]] = set()

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self, source: str, open_stream: Callable[[], Any]) -> None:
        """Open and read one stream in a worker thread of the limiter."""
        reader = asyncio.ensure_future(
            to_thread.run_sync(
                self._read, source, open_stream, abandon_on_cancel=True, limiter=self._limiter
            )
        )
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)

    async def get(self) -> LogItem | None:
        """The next line as `(source, line)` or a stream's end; None once closed."""
        while not self._closed:
            if self._batch:
                return self._batch.popleft()
            item = await self._queue.get()
            if item is None or isinstance(item, StreamEnd):
                return None if self._closed else item
            source, lines = item
            self._batch.extend((source, line) for line in lines)
        return None

    def close(self) -> None:
        """Stop every stream now: shut the responses down, release the blocked threads.

        Safe to call from any task of the loop, more than once.
        """
        with self._lock:
            self._closed = True
            responses, pending = list(self._responses), list(self._pending)
        for future in pending:
            future.cancel()  # a thread waiting for room in the queue returns at once
        for response in responses:
            # shutdown() interrupts a read blocked in another thread.
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                response.shutdown()
        # Wakes a reader waiting in get(); the queue is empty when one waits.
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def aclose(self) -> None:
        """close(), then wait (briefly) until the reading threads have ended."""
        self.close()
        readers = list(self._readers)
        if readers:
            _, late = await asyncio.wait(readers, timeout=_CLOSE_GRACE)
            # A thread still opening its stream shuts it down once it has it.
            for reader in late:
                reader.cancel()

    # In the worker threads.

    def _read(self, source: str, open_stream: Callable[[], Any]) -> None:
        if self._closed:
            return
        try:
            response = open_stream()
        except Exception as refused:  # the reader decides what it means
            self._offer(StreamEnd(source, refused))
            return
        with self._lock:
            closed = self._closed
            if not closed:
                self._responses.add(response)
        if closed:
            _dispose(response, clean=False)
            return
        error: Exception | None = None
        ended = False
        try:
            ended = self._pump(source, response)
        except Exception as broken:  # urllib3, OS and decoding errors alike
            error = broken
        finally:
            with self._lock:
                self._responses.discard(response)
            _dispose(response, clean=ended and not self._closed)
        self._offer(StreamEnd(source, error))

    def _pump(self, source: str, response: Any) -> bool:
        """Offer the response's lines; True at its end, False once nobody listens."""
        pending = b""
        cut = False  # the current line was cut: drop the rest of it
        limit = self._max_line * 4  # bytes: a character is at most 4 in UTF-8
        for chunk in response.stream(_CHUNK):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            batch = []
            for line in lines:
                if not cut:
                    batch.append(self._text(line))
                cut = False
            if len(pending) > limit:
                if not cut:
                    batch.append(self._text(pending))
                pending, cut = b"", True
            if batch and not self._offer((source, batch)):
                return False
        if pending and not cut:
            return self._offer((source, [self._text(pending)]))
        return True

    def _text(self, line: bytes) -> str:
        return line.decode("utf-8", "replace").rstrip("\r")[: self._max_line]

    def _offer(self, item: _Batch) -> bool:
        """Put `item` in the queue, waiting for room; False once closed (or the loop gone)."""
        coroutine = self._queue.put(item)
        with self._lock:
            if self._closed:
                coroutine.close()
                return False
            try:
                future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
            except RuntimeError:  # the event loop is closed: nobody listens any more
                coroutine.close()
                return False
            self._pending.add(future)
        try:
            while True:
                try:
                    future.result(timeout=1.0)
                    break
                except TimeoutError:
                    # A loop that stopped without closing us never takes the item.
                    if self._closed or not self._loop.is_running():
                        future.cancel()
                        return False
        except concurrent.futures.CancelledError:
            return False
        finally:
            with self._lock:
                self._pending.discard(future)
        return not self._closed


class OpenLogStreams:
    """The LogStreams being read now, so that one call can stop them all.

    A reader takes its LogStreams from `opened()`, which closes it when the
    reader is done with it (or is itself closed); `close()`, at a shutdown or
    a cancel, ends every stream still open, whatever task reads it.
    """

    def __init__(self) -> None:
        self._open: set[LogStreams] = set()

    @contextlib.asynccontextmanager
    async def opened(self, limiter: anyio.CapacityLimiter) -> AsyncIterator[LogStreams]:
        streams = LogStreams(limiter)
        self._open.add(streams)
        try:
            yield streams
        finally:
            self._open.discard(streams)
            await streams.aclose()

    def close(self) -> None:
        for streams in list(self._open):
            streams.close()


def _dispose(response: Any, *, clean: bool) -> None:
    """Give the connection back: kept alive after a clean end, closed otherwise."""
    with contextlib.suppress(Exception):
        if not clean:
            # Closing (not just releasing) tells the server the stream is over.
            response.close()
        response.release_conn()
