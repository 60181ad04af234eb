"""The container logs the Kubernetes stand-in serves at `/api/v1/namespaces/{ns}/pods/{name}/log`.

As the documented endpoint ("read log of the specified Pod",
https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/):
query `container` (needed when the pod has more than one), `follow` (stream
new lines until the container ends or the pod is deleted), `tailLines` (the
last N lines), `timestamps` (an RFC 3339 timestamp and a space before each
line) and `previous` (the log of the container's previous run). A container
still waiting answers 400, as the kubelet does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response, StreamingResponse

__all__ = ["BadLogRequest", "PodLogs", "main_statuses", "statuses"]

LogKey = tuple[str, str, str]  # (namespace, pod, container)


class BadLogRequest(Exception):
    """The request cannot be answered with a log: a 400 BadRequest with this message."""


class PodLogs:
    """Every container's log lines, and the log requests being followed."""

    def __init__(self) -> None:
        self.lines: dict[LogKey, list[tuple[str, str]]] = {}
        self.previous: dict[LogKey, list[tuple[str, str]]] = {}
        # Follow requests being answered now, and all there were.
        self.open_follows = 0
        self.follows = 0
        self.stopping = False

    def add(
        self,
        namespace: str,
        pod: str,
        container: str,
        lines: Iterable[str],
        *,
        previous: bool = False,
    ) -> None:
        """Append lines to a container's log (followers get them at once), or to the log
        of its previous run."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        store = self.previous if previous else self.lines
        store.setdefault((namespace, pod, container), []).extend((now, line) for line in lines)

    def forget(self, namespace: str, pod: str) -> None:
        """Drop a deleted pod's logs (which also ends its followers)."""
        for store in (self.lines, self.previous):
            for key in [k for k in store if k[:2] == (namespace, pod)]:
                del store[key]

    def response(
        self,
        query: Mapping[str, str],
        namespace: str,
        pod: dict[str, Any],
        live: Callable[[], dict[str, Any] | None],
    ) -> Response:
        """The answer to a log request for `pod`; `live` reads the pod again (None: deleted)."""
        name = pod["metadata"]["name"]
        containers = [c for c, _ in statuses(pod)]
        main = [c for c, _ in main_statuses(pod)]
        container = query.get("container")
        if container is None:
            if len(main) != 1:
                raise BadLogRequest(
                    f"a container name must be specified for pod {name}, "
                    f"choose one of: [{' '.join(main)}] or one of the init containers: "
                    f"[{' '.join(c for c in containers if c not in main)}]"
                )
            container = main[0]
        if container not in containers:
            raise BadLogRequest(f"container {container} is not valid for pod {name}")
        key = (namespace, name, container)
        tail = _tail_lines(query.get("tailLines"))
        stamped = _flag(query.get("timestamps"))
        if _flag(query.get("previous")):
            if key not in self.previous:
                raise BadLogRequest(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
            return _text(self.previous[key], tail, stamped)
        state = dict(statuses(pod))[container]["state"]
        if "waiting" in state:
            raise BadLogRequest(
                f'container "{container}" in pod "{name}" is waiting to start: '
                f"{state['waiting'].get('reason', 'ContainerCreating')}"
            )
        lines = self.lines.get(key, [])
        if not _flag(query.get("follow")) or "terminated" in state:
            return _text(lines, tail, stamped)
        start = 0 if tail is None else max(0, len(lines) - tail)
        follow = self._follow(key, container, start, stamped, live)
        return StreamingResponse(follow, media_type="text/plain")

    async def _follow(
        self,
        key: LogKey,
        container: str,
        sent: int,
        stamped: bool,
        live: Callable[[], dict[str, Any] | None],
    ) -> AsyncIterator[bytes]:
        self.open_follows += 1
        self.follows += 1
        try:
            while not self.stopping:
                lines = self.lines.get(key, [])
                if sent < len(lines):
                    yield _render(lines[sent:], stamped).encode()
                    sent = len(lines)
                    continue
                pod = live()
                if pod is None or "terminated" in dict(statuses(pod))[container]["state"]:
                    return
                await asyncio.sleep(0.01)
        finally:
            # Also when the client goes away: the server cancels the response.
            self.open_follows -= 1


def statuses(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(container, status) of the init containers, then of the others."""
    status = pod.get("status") or {}
    return [
        (s["name"], s)
        for s in (status.get("initContainerStatuses") or [])
        + (status.get("containerStatuses") or [])
    ]


def main_statuses(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(container, status) of the pod's containers, init containers left out."""
    return [(s["name"], s) for s in (pod.get("status") or {}).get("containerStatuses") or []]


def _text(lines: list[tuple[str, str]], tail: int | None, stamped: bool) -> Response:
    shown = lines if tail is None else lines[max(0, len(lines) - tail) :]
    return Response(_render(shown, stamped), media_type="text/plain")


def _render(lines: list[tuple[str, str]], stamped: bool) -> str:
    return "".join(f"{when} {line}\n" if stamped else f"{line}\n" for when, line in lines)


def _tail_lines(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        tail = int(value)
    except ValueError:
        raise BadLogRequest(f'invalid tailLines "{value}"') from None
    if tail < 0:
        raise BadLogRequest(
            "PodLogOptions is invalid: tailLines: must be greater than or equal to 0"
        )
    return tail


def _flag(value: str | None) -> bool:
    return value in {"true", "1", "True"}
