"""App logs of the container deployer: real podman logs, and the stream's own rules.

The served image's httpd logs each request to stderr (`<peer>: url:/path`,
then `<peer>: response:404`), so a request is a line to wait for. The
stream's pacing, line cutting and clean-up are also checked with plain
processes standing in for `podman logs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import cast

import pytest

from home_idp.plugins.deployer.container import ContainerDeployer
from home_idp.plugins.deployer.container_engine import ContainerEngine
from home_idp.plugins.deployer.container_logs import MAX_LINE, _reap, stream_logs
from home_idp.plugins.deployer.contract import AppLogLine, DeployError, RolloutState
from tests.plugins import test_deployer_container as served
from tests.plugins.test_deployer_container import Engine, deployment, get, wait_for

# The served module's fixtures, shared: the image is built once per run.
deployer = served.deployer
engine = served.engine
image = served.image
leave_no_containers = served.leave_no_containers
recorded = served.recorded


def logs_processes(engine: Engine, name: str) -> list[int]:
    """The processes of this test's podman (its storage: a run of the tests on the other
    database, side by side, names its containers alike) with `logs` and `name` in their
    command line."""
    storage = f"--root={engine.data_dir / 'containers' / 'root'}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"logs" in argv and name.encode() in argv and storage in argv:
                found.append(int(entry.name))
    return found


async def read_all(
    deployer: ContainerDeployer, tail_lines: int, app: str = "web"
) -> list[AppLogLine]:
    async with asyncio.timeout(20):  # without `follow`, the stream ends by itself
        return [
            line
            async for line in deployer.app_logs("shop", app, follow=False, tail_lines=tail_lines)
        ]


async def tail_when(
    deployer: ContainerDeployer, tail_lines: int, last: str, seconds: float = 10
) -> list[AppLogLine]:
    """The tail once its last line ends with `last` (the engine writes logs a moment late)."""
    async with asyncio.timeout(seconds):
        while True:
            lines = await read_all(deployer, tail_lines)
            if lines and lines[-1].text.endswith(last):
                return lines
            await asyncio.sleep(0.1)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)


async def next_ending(
    lines: AsyncGenerator[AppLogLine, None], end: str, seconds: float = 10
) -> AppLogLine:
    async with asyncio.timeout(seconds):
        async for line in lines:
            if line.text.endswith(end):
                return line
    raise AssertionError(f"the stream ended before a line ending with {end!r}")


async def test_the_tail_of_the_logs_without_follow(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    release = deployment(image)
    await deployer.sync(release)
    status = await wait_for(deployer, release, RolloutState.READY)
    assert status.url is not None
    for n in range(1, 6):
        assert (await get(f"{status.url}/line-{n}")).status_code == 404
    lines = await tail_when(deployer, 4, "response:404")
    # The stream ended by itself: `podman logs` left no one holding its pipe.
    assert {line.source for line in lines} == {"hidp-shop-web-r1"}
    texts = [line.text.split(": ", 1)[1] for line in lines]
    assert texts == ["url:/line-4", "response:404", "url:/line-5", "response:404"]
    [last] = await read_all(deployer, 1)
    assert last.text.endswith("response:404")
    assert len(await read_all(deployer, 1000)) >= 10
    assert await read_all(deployer, 0) == []
    assert logs_processes(engine, "hidp-shop-web-r1") == []
    with pytest.raises(DeployError):
        await read_all(deployer, -1)
    with pytest.raises(DeployError):
        await read_all(deployer, 1, app="Web")


async def test_the_logs_of_every_running_container_of_the_app(
    deployer: ContainerDeployer, engine: Engine, image: str, recorded: list[list[str]]
) -> None:
    assert await read_all(deployer, 10) == []  # no container: nothing, at once
    assert not [argv for argv in recorded if "logs" in argv]
    first = deployment(image, 1)
    await deployer.sync(first)
    await wait_for(deployer, first, RolloutState.READY)
    # Release 2 is not asked for its rollout, so release 1 keeps running beside it.
    await deployer.sync(deployment(image, 2, health_path="/health-2"))
    await deployer.sync(deployment(image, 1, app="api"))
    both = {"hidp-shop-web-r1", "hidp-shop-web-r2"}

    async def both_logged() -> bool:
        # Listing the resources asks each running container for its health path:
        # each logs the request (release 2 answers 404, and is not ready).
        listed = {r.name for r in await deployer.app_resources("shop", "web")}
        return listed == both == {line.source for line in await read_all(deployer, 100)}

    await eventually(both_logged)

    engine.podman("kill", "--signal=KILL", "hidp-shop-web-r2")
    assert {line.source for line in await read_all(deployer, 100)} == {"hidp-shop-web-r1"}


async def test_following_shows_new_lines_and_closing_stops_the_engine(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    release = deployment(image)
    await deployer.sync(release)
    status = await wait_for(deployer, release, RolloutState.READY)
    assert status.url is not None
    await get(f"{status.url}/before")
    await tail_when(deployer, 1, "response:404")

    lines = deployer.app_logs("shop", "web", follow=True, tail_lines=1)
    try:
        async with asyncio.timeout(10):
            first = await anext(lines)
        assert first.text.endswith("response:404")
        assert len(logs_processes(engine, "hidp-shop-web-r1")) == 1
        # Written after the tail was read: only following shows it.
        await get(f"{status.url}/after")
        line = await next_ending(lines, "url:/after")
        assert line.source == "hidp-shop-web-r1"
    finally:
        async with asyncio.timeout(20):
            await lines.aclose()
    assert logs_processes(engine, "hidp-shop-web-r1") == []
    assert await anext(lines, None) is None


async def test_a_cancelled_reader_stops_the_engine(
    deployer: ContainerDeployer, engine: Engine, image: str
) -> None:
    release = deployment(image)
    await deployer.sync(release)
    await wait_for(deployer, release, RolloutState.READY)

    async def follow() -> None:
        async for _ in deployer.app_logs("shop", "web", follow=True, tail_lines=0):
            pass

    reader = asyncio.create_task(follow())

    async def started() -> bool:
        return bool(logs_processes(engine, "hidp-shop-web-r1"))

    await eventually(started)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert logs_processes(engine, "hidp-shop-web-r1") == []


# -- the stream's own rules, with plain processes for `podman logs` ------------------


class ScriptEngine:
    """Runs a Python script where the engine would run `logs`; the script gets the args."""

    def __init__(self, script: str) -> None:
        self.script = script
        self.processes: list[asyncio.subprocess.Process] = []

    async def spawn(self, args: Sequence[str], *, limit: int) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            self.script,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            limit=limit,
        )
        self.processes.append(process)
        return process

    def stream(
        self, names: Sequence[str], follow: bool = False, tail_lines: int = 10
    ) -> AsyncGenerator[AppLogLine, None]:
        engine = cast(ContainerEngine, self)
        return stream_logs(engine, names, follow=follow, tail_lines=tail_lines)


async def test_long_lines_are_cut_and_both_streams_are_read() -> None:
    script = """
import sys
out = sys.stdout
out.write("a" * 70000 + "\\n")
out.write("é" * 65537 + "\\n")
out.write("é" * 140000 + "\\n")
out.flush()
sys.stderr.write("to stderr " + sys.argv[-1] + "\\r\\n")
sys.stderr.flush()
out.write("last, without a line break")
"""
    engine = ScriptEngine(script)
    async with asyncio.timeout(20):
        lines = [line async for line in engine.stream(["one"])]
    assert [line.source for line in lines] == ["one"] * 5
    assert [line.text for line in lines] == [
        "a" * MAX_LINE + "…",
        "é" * MAX_LINE + "…",
        "é" * MAX_LINE + "…",
        "to stderr one",
        "last, without a line break",
    ]
    [process] = engine.processes
    assert process.returncode == 0


async def test_the_stream_is_paced_by_its_reader_and_interleaves_containers() -> None:
    # Endless, as a followed log is, and written in large blocks: far more than
    # the queue and the pipes hold, and each reader always has lines buffered,
    # so no writer ends and no reader waits on its own, however the machine
    # schedules them.
    script = """
import sys
name, args = sys.argv[-1], sys.argv[1:-1]
block = "".join(f"{name} {args} {n} {'x' * 80}\\n" for n in range(5000))
while True:
    sys.stdout.write(block)
"""
    engine = ScriptEngine(script)
    lines = engine.stream(["one", "two"], follow=True, tail_lines=7)
    try:
        async with asyncio.timeout(10):
            first = await anext(lines)
        assert first.text.startswith(f"{first.source} ['logs', '--follow', '--tail=7'] 0 ")
        await asyncio.sleep(1)
        # Nobody reads: the writers wait instead of filling memory.
        assert [p.returncode for p in engine.processes] == [None, None]
        seen = {"one": 0, "two": 0}
        async with asyncio.timeout(20):
            async for line in lines:
                seen[line.source] += 1
                if sum(seen.values()) == 20000:
                    break
        # Both are heard, in turns: a chatty container does not drown the other.
        assert min(seen.values()) >= 8000, seen
    finally:
        async with asyncio.timeout(20):
            await lines.aclose()
    # Closed early: both writers were killed, and reaped.
    assert [p.returncode for p in engine.processes] == [-9, -9]


async def test_the_stream_ends_when_every_process_ends() -> None:
    engine = ScriptEngine("import sys; print('hello from', sys.argv[-1])")
    async with asyncio.timeout(20):
        lines = [line async for line in engine.stream(["one", "two", "three"])]
    assert sorted((line.source, line.text) for line in lines) == [
        ("one", "hello from one"),
        ("three", "hello from three"),
        ("two", "hello from two"),
    ]
    assert [line async for line in engine.stream([])] == []
    assert [p.returncode for p in engine.processes] == [0, 0, 0]


async def test_a_killed_process_is_reaped_while_its_pipe_is_full() -> None:
    # asyncio's wait() waits for the pipe to close too, which it does not notice
    # while reading is paused; the stream reads the pipe to its end first.
    engine = ScriptEngine("import sys\nwhile True: sys.stdout.write('x' * 99 + '\\n')")
    process = await engine.spawn([], limit=1024)
    await asyncio.sleep(0.5)  # the buffer fills; asyncio stops reading the pipe
    process.kill()
    async with asyncio.timeout(5):
        await _reap(process)
    assert process.returncode == -9
