"""The logs of an app's containers, streamed line by line as they come.

One `podman logs` process per container, each read by a task of its own
into one bounded queue: while the consumer does not take lines, the queue
fills, the readers wait, the pipes fill and the engine waits in its write.
So a slow consumer paces the processes instead of growing memory. The
readers take turns line by line, so every container is heard.

`podman logs` reads the container's log file itself (k8s-file) and starts
no helper, unlike `run --detach` (conmon, slirp4netns): its pipe reaches
end of file as soon as it exits, so a pipe is safe here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence

from home_idp.plugins.deployer.container_engine import ContainerEngine
from home_idp.plugins.deployer.contract import AppLogLine

__all__ = ["MAX_LINE", "stream_logs"]

log = logging.getLogger(__name__)

# Characters; a longer line is cut and ends with "…". Generous on purpose: the
# server masks secrets in a line before it cuts the line to what it keeps, and
# a secret cut in two here would no longer be masked.
MAX_LINE = 65536
# A UTF-8 character takes at most 4 bytes: a line buffered up to this many
# bytes holds at least MAX_LINE characters.
_MAX_LINE_BYTES = 4 * MAX_LINE
_QUEUE_SIZE = 256
_REAP_SECONDS = 10
_END = object()  # a reader's last word: its container's stream ended


async def stream_logs(
    engine: ContainerEngine, names: Sequence[str], *, follow: bool, tail_lines: int
) -> AsyncGenerator[AppLogLine, None]:
    """The last `tail_lines` lines of each named container, then (`follow`) new ones.

    Ends when every stream has ended: at once without `follow`, when the
    containers stop with it. Closing the generator (or cancelling its
    consumer) kills every process it started and stops every reader.
    """
    queue: asyncio.Queue[AppLogLine | object] = asyncio.Queue(maxsize=_QUEUE_SIZE)
    processes: list[asyncio.subprocess.Process] = []
    readers: list[asyncio.Task[bool]] = []
    try:
        for name in names:
            args = ["logs", *(["--follow"] if follow else []), f"--tail={tail_lines}", name]
            process = await engine.spawn(args, limit=_MAX_LINE_BYTES)
            processes.append(process)
            readers.append(asyncio.create_task(_read(process, name, queue)))
        streaming = len(readers)
        while streaming:
            item = await queue.get()
            if isinstance(item, AppLogLine):
                yield item
            else:
                streaming -= 1
    finally:
        # Kill first, all at once and without waiting: whatever interrupts
        # the clean-up below, no process keeps running. One whose output was
        # read to its end is exiting by itself: killing it would only hide
        # its exit code (asyncio reports 255 for a child reaped by `kill`).
        for process, reader in zip(processes, readers, strict=True):
            read_out = reader.done() and not reader.cancelled() and reader.result()
            if not read_out and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for reader in readers:
            reader.cancel()
        if readers:
            # `wait`, not `gather`: a cancellation of this task still comes through.
            await asyncio.wait(readers)
        for process in processes:
            await _reap(process)


async def _reap(process: asyncio.subprocess.Process) -> None:
    """Wait for a process that ends (or was killed).

    Its pipe is read to the end first: asyncio's `wait()` also waits for the
    pipe to close, which it never notices while reading is paused (a full
    buffer whose reader is gone).
    """
    stream = process.stdout
    try:
        async with asyncio.timeout(_REAP_SECONDS):
            while stream is not None and await stream.read(65536):
                pass
            await process.wait()
    except TimeoutError:
        # Something still holds its pipe: the process goes, the child watcher reaps it.
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        log.warning("the engine's logs process %d did not end", process.pid)


async def _read(
    process: asyncio.subprocess.Process, source: str, queue: asyncio.Queue[AppLogLine | object]
) -> bool:
    """Put the process's lines on the queue, then _END; whether its output ended."""
    stream = process.stdout
    assert stream is not None  # spawned with a pipe
    read_out = False
    try:
        while (line := await _next_line(stream)) is not None:
            await queue.put(AppLogLine(source, line))
            # Neither a put into a queue with room nor a read of buffered
            # lines lets the other readers run: without this turn, a chatty
            # container that keeps its buffer full would fill the queue each
            # time the consumer empties it, and the others would never get in.
            await asyncio.sleep(0)
        read_out = True
    except Exception:
        # A stream that breaks ends; the others go on.
        log.exception("reading the logs of %s failed", source)
    await queue.put(_END)
    return read_out


async def _next_line(stream: asyncio.StreamReader) -> str | None:
    """The next line, without its line break, cut at MAX_LINE characters; None at the end."""
    cut = False
    try:
        raw = (await stream.readuntil(b"\n"))[:-1]
    except asyncio.IncompleteReadError as end:
        if not end.partial:
            return None
        raw = end.partial  # the last line, without a line break
    except asyncio.LimitOverrunError as over:
        # The line is longer than the buffer: keep its head, skip the rest.
        raw, cut = await stream.readexactly(over.consumed), True
        await _skip_line(stream)
    text = raw.decode(errors="replace").removesuffix("\r")
    if cut or len(text) > MAX_LINE:
        text = text[:MAX_LINE] + "…"
    return text


async def _skip_line(stream: asyncio.StreamReader) -> None:
    while True:
        try:
            await stream.readuntil(b"\n")
            return
        except asyncio.IncompleteReadError:
            return
        except asyncio.LimitOverrunError as over:
            await stream.readexactly(over.consumed)
