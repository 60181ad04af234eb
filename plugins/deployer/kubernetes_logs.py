"""The logs of an app's pods, as the Kubernetes deployer streams them.

Each pod's log (its app container) is read with the official client's
`CoreV1Api.read_namespaced_pod_log` in a worker thread of a limiter of its
own; all the pods' lines come through one bounded queue, interleaved as they
arrive, so a slow reader paces the HTTP streams (see `plugins/support/kube_logs.py`).
Closing the iterator shuts every stream down.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from home_idp.plugins.deployer.contract import AppLogLine, DeployError
from home_idp.plugins.support.kube_api import KubeApi, api_message
from home_idp.plugins.support.kube_logs import OpenLogStreams, StreamEnd, StreamLimiter

__all__ = ["FOLLOW_READ_TIMEOUT", "PodLogs", "log_containers"]

logger = logging.getLogger(__name__)

# A followed log may stay quiet for long: that is no reason to drop the stream.
FOLLOW_READ_TIMEOUT = 3600.0


def log_containers(pods: Iterable[Mapping[str, Any]], app: str) -> list[tuple[str, str]]:
    """(pod, container) of every pod whose app container runs or ran, sorted by pod.

    The app container is the one named after the app (the only one, in pods
    home-idp renders); a container still waiting has no log to read yet.
    """
    found = []
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name")
        statuses = [
            status
            for status in (pod.get("status") or {}).get("containerStatuses") or []
            if isinstance(status, Mapping)
        ]
        mine = [s for s in statuses if s.get("name") == app] or (
            statuses if len(statuses) == 1 else []
        )
        if not name or not mine:
            continue
        state = mine[0].get("state") or {}
        if state.get("running") is not None or state.get("terminated") is not None:
            found.append((str(name), str(mine[0].get("name"))))
    return sorted(found)


class PodLogs:
    """Reads pod logs through the deployer's API client, with its timeouts and errors."""

    def __init__(self, api: KubeApi) -> None:
        self._api = api
        self._core = k8s.CoreV1Api(api.client)
        self._connect, self._read = api.timeouts
        self._limiter = StreamLimiter()
        self._active = OpenLogStreams()

    async def lines(
        self,
        namespace: str,
        containers: Iterable[tuple[str, str]],
        *,
        follow: bool,
        tail_lines: int,
    ) -> AsyncGenerator[AppLogLine, None]:
        """The pods' lines as they come, each labelled with its pod; ends when every
        stream has (not following: once each tail is read).

        A pod gone meanwhile is skipped; any other failure ends the iteration with
        DeployUnavailable or DeployError.
        """
        wanted = list(containers)
        if not wanted:
            return
        timeouts = (self._connect, FOLLOW_READ_TIMEOUT if follow else self._read)
        async with self._active.opened(self._limiter.get()) as streams:
            for pod, container in wanted:
                streams.start(
                    pod,
                    functools.partial(
                        self._core.read_namespaced_pod_log,
                        pod,
                        namespace,
                        container=container,
                        follow=follow,
                        tail_lines=tail_lines,
                        _preload_content=False,
                        _request_timeout=timeouts,
                    ),
                )
            open_streams = len(wanted)
            while open_streams and (item := await streams.get()) is not None:
                if isinstance(item, StreamEnd):
                    open_streams -= 1
                    if item.error is not None:
                        failure = self._failure(item.error, namespace, item.source)
                        if failure is not None:
                            raise failure
                    continue
                yield AppLogLine(source=item[0], text=item[1])

    def close(self) -> None:
        """Shut every stream still being read down (at shutdown: no thread is left reading)."""
        self._active.close()

    def _failure(self, error: Exception, namespace: str, pod: str) -> Exception | None:
        """What a failed stream means for the reader; None to go on without that pod."""
        doing = f"reading the log of the pod {namespace}/{pod}"
        if isinstance(error, ApiException):
            status = int(error.status or 0)
            if status in {400, 404}:
                # Deleted since it was listed, or its container is (again) waiting.
                logger.info("no log from %s/%s (%s)", namespace, pod, status)
                return None
            return self._api.failure(status, api_message(error), doing)
        if isinstance(error, urllib3.exceptions.HTTPError | OSError):
            return self._api.unreachable(doing, error)
        return DeployError(f"the Kubernetes API sent an unexpected answer while {doing}")
