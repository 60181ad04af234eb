"""The kubernetes deployer's app logs: the real client's log streams against the stand-in.

Also the shared log pump (`plugins/support/kube_logs.py`) on its own, with responses
made here: its pacing, its line cut and its clean-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypedDict, Unpack

import pytest

from home_idp.plugins.deployer.contract import AppLogLine, DeployError, DeployUnavailable
from home_idp.plugins.deployer.kubernetes import KubernetesDeployer
from home_idp.plugins.support import kube_logs
from home_idp.plugins.support.kube_logs import MAX_LINE, LogStreams, StreamEnd
from tests.doubles.kubernetes import KubernetesStandIn
from tests.plugins import test_deployer_kubernetes as kubernetes_tests
from tests.plugins.test_deployer_kubernetes import TOKEN, MakeDeployer
from tests.plugins.test_deployer_kubernetes_resources import POD_LABELS

# The fixtures of the deployer's main tests, used here by name.
kube = kubernetes_tests.kube
make_deployer = kubernetes_tests.make_deployer
deployer = kubernetes_tests.deployer

PODS = ("web-7d9f8c6b5-abcde", "web-7d9f8c6b5-fghij")


def add_pods(kube: KubernetesStandIn, lines: int = 5) -> None:
    for pod in PODS:
        kube.add_pod("shop", pod, POD_LABELS, container="web")
        kube.add_pod_logs("shop", pod, "web", [f"{pod} line {n}" for n in range(1, lines + 1)])


def pump_threads() -> list[int]:
    """The threads reading a log stream now (inside LogStreams._read)."""
    code = LogStreams._read.__code__
    return [
        ident
        for ident, frame in sys._current_frames().items()
        if any(f.f_code is code for f, _ in traceback.walk_stack(frame))
    ]


def threads_at_most(count: int) -> bool:
    return len(threading.enumerate()) <= count


async def wait_for(condition: Callable[[], bool], seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the state has no event to wait on
            await asyncio.sleep(0.01)


async def read_all(
    deployer: KubernetesDeployer, tail_lines: int = 100, app: str = "web"
) -> list[AppLogLine]:
    async with asyncio.timeout(10):  # without `follow`, the iteration ends by itself
        return [
            line
            async for line in deployer.app_logs("shop", app, follow=False, tail_lines=tail_lines)
        ]


def by_pod(lines: list[AppLogLine]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in lines:
        found.setdefault(line.source, []).append(line.text)
    return found


async def test_the_tails_of_every_running_pod(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    add_pods(kube)
    kube.add_pod("shop", "web-waiting", POD_LABELS, waiting="ContainerCreating", container="web")
    kube.add_pod("shop", "api-1", {**POD_LABELS, "home-idp.dev/app": "api"}, container="api")
    kube.add_pod_logs("shop", "api-1", "api", ["not web's"])

    assert by_pod(await read_all(deployer, tail_lines=2)) == {
        PODS[0]: [f"{PODS[0]} line 4", f"{PODS[0]} line 5"],
        PODS[1]: [f"{PODS[1]} line 4", f"{PODS[1]} line 5"],
    }
    assert by_pod(await read_all(deployer))[PODS[0]] == [f"{PODS[0]} line {n}" for n in range(1, 6)]
    logs = [r for r in kube.recorded if r.path.endswith("/log")]
    assert sorted(r.path for r in logs[:2]) == [
        f"/api/v1/namespaces/shop/pods/{pod}/log" for pod in PODS
    ]
    assert logs[0].query == {"container": "web", "follow": "false", "tailLines": "2"}
    # The waiting pod has no log yet: it is not asked for one.
    assert not any("web-waiting" in r.path for r in kube.recorded)


async def test_an_app_without_running_pods_has_no_lines(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    assert await read_all(deployer) == []
    kube.add_pod("shop", "web-waiting", POD_LABELS, waiting="ErrImagePull", container="web")
    assert await read_all(deployer) == []
    assert [r.path for r in kube.recorded] == ["/api/v1/namespaces/shop/pods"] * 2
    assert kube.recorded[0].query == {
        "labelSelector": "home-idp.dev/app=web,app.kubernetes.io/managed-by=home-idp"
    }


async def test_following_gives_new_lines_of_each_pod_as_they_come(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    add_pods(kube, lines=3)
    lines = deployer.app_logs("shop", "web", follow=True, tail_lines=1)
    try:
        async with asyncio.timeout(10):
            first = {await anext(lines), await anext(lines)}
            assert first == {AppLogLine(pod, f"{pod} line 3") for pod in PODS}
            kube.add_pod_logs("shop", PODS[1], "web", ["a new line"])
            assert await anext(lines) == AppLogLine(PODS[1], "a new line")
            kube.add_pod_logs("shop", PODS[0], "web", ["and another"])
            assert await anext(lines) == AppLogLine(PODS[0], "and another")
            assert kube.open_follows == 2
            # A deleted pod's stream ends; the other one goes on.
            await deployer.delete_instance("shop", "web", PODS[0])
            await wait_for(lambda: kube.open_follows == 1)
            kube.add_pod_logs("shop", PODS[1], "web", ["still here"])
            assert await anext(lines) == AppLogLine(PODS[1], "still here")
    finally:
        await lines.aclose()
    follows = [r for r in kube.recorded if r.path.endswith("/log")]
    assert {r.query["follow"] for r in follows} == {"true"}


async def test_closing_early_ends_every_stream_and_thread(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    # More lines than the queue holds: a reading thread is blocked on the full queue.
    add_pods(kube, lines=kube_logs.QUEUE_SIZE * 2)
    for _ in range(2):  # the second round runs on the worker threads the first made
        lines = deployer.app_logs("shop", "web", follow=True, tail_lines=kube_logs.QUEUE_SIZE * 2)
        async with asyncio.timeout(10):
            await anext(lines)
            await wait_for(lambda: kube.open_follows == 2 and len(pump_threads()) == 2)
            threads = len(threading.enumerate())
            started = time.monotonic()
            await lines.aclose()
            assert time.monotonic() - started < 2
            await wait_for(lambda: pump_threads() == [])
            await wait_for(lambda: kube.open_follows == 0)
            await wait_for(functools.partial(threads_at_most, threads))


async def test_cancelling_the_reader_ends_the_streams(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    add_pods(kube, lines=1)
    seen: list[AppLogLine] = []

    async def read() -> None:
        async for line in deployer.app_logs("shop", "web", follow=True, tail_lines=10):
            seen.append(line)

    reader = asyncio.create_task(read())
    await wait_for(lambda: len(seen) == 2 and kube.open_follows == 2)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await wait_for(lambda: kube.open_follows == 0 and pump_threads() == [])


async def test_closing_the_deployer_ends_the_streams_still_followed(
    make_deployer: MakeDeployer, kube: KubernetesStandIn
) -> None:
    deployer = make_deployer()
    add_pods(kube, lines=1)
    lines = deployer.app_logs("shop", "web", follow=True, tail_lines=10)
    async with asyncio.timeout(10):
        await anext(lines)
        await wait_for(lambda: kube.open_follows == 2)
        await deployer.aclose()
        await wait_for(lambda: kube.open_follows == 0 and pump_threads() == [])
        with pytest.raises(StopAsyncIteration):
            await anext(lines)


async def test_following_ends_when_the_api_server_stops(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    add_pods(kube, lines=1)
    lines = deployer.app_logs("shop", "web", follow=True, tail_lines=10)
    async with asyncio.timeout(10):
        await anext(lines)
        await anext(lines)
        await kube.stop()
        with pytest.raises(StopAsyncIteration):
            await anext(lines)
    assert pump_threads() == []


async def test_long_lines_are_cut(deployer: KubernetesDeployer, kube: KubernetesStandIn) -> None:
    kube.add_pod("shop", PODS[0], POD_LABELS, container="web")
    kube.add_pod_logs("shop", PODS[0], "web", ["x" * (MAX_LINE + 9), "é" * 70_000, "short"])
    lines = await read_all(deployer)
    assert [len(line.text) for line in lines] == [MAX_LINE, MAX_LINE, 5]
    assert lines[1].text == "é" * MAX_LINE


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (403, "Forbidden", DeployError),
        (503, "ServiceUnavailable", DeployUnavailable),
    ],
)
async def test_a_refused_log_stream_is_a_deploy_error_without_the_token(
    deployer: KubernetesDeployer,
    kube: KubernetesStandIn,
    code: int,
    reason: str,
    expected: type[DeployError],
) -> None:
    add_pods(kube, lines=1)
    kube.fail_next(
        code,
        reason,
        f'pods "{PODS[0]}" is forbidden: token {TOKEN} cannot get resource "pods/log"',
        path=f"/api/v1/namespaces/shop/pods/{PODS[0]}/log",
    )
    with pytest.raises(expected, match=f"answered {code} while reading the log") as caught:
        await read_all(deployer)
    assert TOKEN not in str(caught.value)
    assert "***" in str(caught.value)


async def test_a_wrong_token_or_the_api_server_down(
    make_deployer: MakeDeployer, kube: KubernetesStandIn
) -> None:
    wrong = make_deployer(token=TOKEN[::-1])
    with pytest.raises(DeployError, match="refused the credentials") as caught:
        await read_all(wrong)
    assert TOKEN[::-1] not in str(caught.value)
    deployer = make_deployer()
    await kube.stop()
    with pytest.raises(DeployUnavailable, match="could not be reached"):
        await read_all(deployer)


@pytest.mark.parametrize(("project", "app", "tail"), [("../x", "web", 1), ("shop", "W", 1)])
async def test_bad_arguments_are_refused_before_any_request(
    deployer: KubernetesDeployer, kube: KubernetesStandIn, project: str, app: str, tail: int
) -> None:
    with pytest.raises(DeployError, match="DNS-1123"):
        await anext(deployer.app_logs(project, app, follow=False, tail_lines=tail))
    with pytest.raises(DeployError, match="negative"):
        await anext(deployer.app_logs("shop", "web", follow=False, tail_lines=-1))
    assert kube.recorded == []


# The stand-in's log endpoint, through the real client.


async def test_the_stand_in_serves_logs_as_the_api_does(
    deployer: KubernetesDeployer, kube: KubernetesStandIn
) -> None:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    core = k8s.CoreV1Api(deployer._api.client)
    kube.add_pod("shop", "p", POD_LABELS, container="web")
    kube.add_pod_logs("shop", "p", "web", ["one", "two", "three"])
    kube.add_pod_logs("shop", "p", "web", ["before the restart"], previous=True)

    class LogQuery(TypedDict, total=False):
        container: str
        previous: bool
        tail_lines: int
        timestamps: bool

    def read(**query: Unpack[LogQuery]) -> str:
        return str(core.read_namespaced_pod_log("p", "shop", **query))

    assert await asyncio.to_thread(read) == "one\ntwo\nthree\n"
    assert await asyncio.to_thread(read, tail_lines=2) == "two\nthree\n"
    assert await asyncio.to_thread(read, tail_lines=0) == ""
    assert await asyncio.to_thread(read, previous=True) == "before the restart\n"
    stamped = (await asyncio.to_thread(read, timestamps=True, tail_lines=1)).split(" ")
    assert stamped[1] == "three\n" and stamped[0].endswith("Z")
    with pytest.raises(ApiException) as caught:
        await asyncio.to_thread(read, container="other")
    assert caught.value.status == 400
    kube.add_pod("shop", "q", POD_LABELS, waiting="ContainerCreating", container="web")
    with pytest.raises(ApiException, match="waiting to start") as caught:
        await asyncio.to_thread(core.read_namespaced_pod_log, "q", "shop")
    assert caught.value.status == 400


# The shared log pump on its own.


class FakeResponse:
    """A streaming response whose chunks are counted; `block` makes it wait for shutdown()."""

    def __init__(self, chunks: Iterator[bytes], *, block: bool = False) -> None:
        self.chunks = chunks
        self.block = block
        self.read = 0
        self.shut = threading.Event()
        self.closed = self.released = False

    def stream(self, amount: int) -> Iterator[bytes]:
        for chunk in self.chunks:
            if self.shut.is_set():
                raise OSError("shut down")
            self.read += 1
            yield chunk
        if self.block:
            self.shut.wait(10)
            raise OSError("shut down")

    def shutdown(self) -> None:
        self.shut.set()

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        self.released = True


@contextlib.asynccontextmanager
async def streams(queue_size: int = 4) -> AsyncIterator[LogStreams]:
    made = LogStreams(kube_logs.StreamLimiter(4).get(), queue_size=queue_size)
    try:
        yield made
    finally:
        await made.aclose()


async def test_a_slow_reader_paces_the_stream() -> None:
    endless = FakeResponse(f"line {n}\n".encode() for n in range(100_000))
    async with streams(queue_size=4) as pump:
        pump.start("a", lambda: endless)
        assert await pump.get() == ("a", "line 0")
        await asyncio.sleep(0.3)
        # The queue's 4 lines, the one being offered, and nothing more was read.
        assert endless.read <= 6
        assert [await pump.get() for _ in range(3)] == [("a", f"line {n}") for n in (1, 2, 3)]
    await wait_for(lambda: pump_threads() == [])
    assert endless.closed and endless.released
    assert endless.read <= 12


async def test_close_interrupts_a_blocked_read_and_wakes_the_reader() -> None:
    quiet = FakeResponse(iter([b"hello\n"]), block=True)
    async with streams() as pump:
        pump.start("a", lambda: quiet)
        assert await pump.get() == ("a", "hello")
        waiting = asyncio.ensure_future(pump.get())
        await asyncio.sleep(0.05)
        pump.close()  # from another task, as a cancelled build does
        assert await asyncio.wait_for(waiting, 2) is None
    assert quiet.shut.is_set()
    await wait_for(lambda: pump_threads() == [])


async def test_a_stream_that_ends_or_breaks_says_so() -> None:
    async with streams() as pump:
        pump.start("ok", lambda: FakeResponse(iter([b"a\nb", b"c\nrest"])))
        items = [await pump.get() for _ in range(4)]
        assert items == [("ok", "a"), ("ok", "bc"), ("ok", "rest"), StreamEnd("ok")]

        def refuse() -> FakeResponse:
            raise OSError("connection refused")

        pump.start("refused", refuse)
        end = await pump.get()
        assert isinstance(end, StreamEnd) and isinstance(end.error, OSError)
